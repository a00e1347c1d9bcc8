import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import OnlineLearning
@testable import StateStore
import Testing
@testable import Training

@Suite("The decision service on a real 3-master Redis Cluster", .serialized)
struct ClusterServiceTests {
    @Test("decide, feedback, learn and publish work; with a master holding stream shards killed its users fall back, the others do not, and feedback its shards refused is streamed once by the retry; after it returns the learner reads every shard")
    func clusterLoopAndMasterLoss() async throws {
        let cluster = try RedisClusterTestServer.start(repository: packageRoot)
        defer { cluster.stop() }
        var redisConfiguration = RedisClient.Configuration(
            address: cluster.seeds[0], connectTimeout: .milliseconds(200), commandTimeout: .seconds(2),
            initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
        redisConfiguration.clusterSeeds = cluster.seeds
        let store = RedisLiveStore(configuration: redisConfiguration, options: Fixture.storeOptions, logger: Fixture.logger)
        // A cluster just created can take seconds to answer on a machine busy with the rest of
        // the suite (seen: the first publication timed out after 2 s): wait until its
        // registry's master answers before the test starts.
        #expect(await eventually(timeout: .seconds(30)) {
            do { _ = try await store.activePolicyVersion(); return true } catch { return false }
        })
        let server = try await phase("publishing the first policy") { try await Fixture.server(store: store) }
        let initialVersion = try #require(server.policyHolder.current?.version)
        let users = (0..<30).map { "cl-\($0)" }
        // Likewise every master: each user's first read opens its master's connections.
        #expect(await eventually(timeout: .seconds(30)) {
            for user in users {
                do { _ = try await store.userRecord(userID: user, day: Int(Fixture.day)) } catch { return false }
            }
            return true
        })
        try await buildApplication(server: server).test(.router) { client in
            func decide(_ user: String, _ session: Int, _ time: Double) async throws -> Answer {
                try await client.execute(uri: "/v1/decide", method: .post, body: Fixture.decideBody(user: user, session: session, time: time)) {
                    #expect($0.status == .ok, "decide must always answer")
                    return try JSONDecoder().decode(Answer.self, from: Data(buffer: $0.body))
                }
            }
            var sessions = 0
            for (index, user) in users.enumerated() {
                for session in 0..<2 {
                    let time = (Fixture.day + Double(session) * 0.4 + Double(index) * 0.001) * 86_400
                    let answer = try await decide(user, session, time)
                    #expect(!answer.fallback)
                    try await client.execute(
                        uri: "/v1/feedback", method: .post,
                        body: Fixture.feedbackBody(decision: answer.decision_id, user: user, time: time + 60, adPositions: answer.ad_positions)
                    ) { #expect($0.status == .accepted, "\(String(buffer: $0.body))") }
                    sessions += 1
                }
            }
            // A session two days on moves event time past every window above (decisions of one
            // stream entry are learned together, once the last one's window has closed).
            let mover = try await decide("cl-mover", 0, (Fixture.day + 2) * 86_400)
            try await client.execute(
                uri: "/v1/feedback", method: .post,
                body: Fixture.feedbackBody(decision: mover.decision_id, user: "cl-mover", time: (Fixture.day + 2) * 86_400 + 60, adPositions: mover.ad_positions)
            ) { #expect($0.status == .accepted) }
            sessions += 1
            let domains = Dictionary(grouping: users) { store.failureDomain(ofUser: $0) }
            #expect(Set(domains.keys) == [1, 2, 3], "the users live on all three masters")
            #expect(try await store.userRecord(userID: "cl-7", day: Int(Fixture.day))?.totalSessions == 2)

            // The learner reads both streams on the cluster, learns and publishes; the service swaps to it.
            let learner = try Fixture.learner(store: store, baseVersion: initialVersion, group: "cluster-learner")
            #expect(try await phase("the learner's reads") {
                try await eventually {
                    try await learner.poll(block: .milliseconds(50))
                    return await learner.statistics.decisionsRead == sessions
                }
            })
            let newVersion = try #require(try await phase("the learner's publication") { try await learner.publish() })
            #expect(try await eventually { try await decide("late", 0, Fixture.day * 86_400).policy_version == newVersion })

            // Kill a master that holds stream shards but not the registry (the service keeps
            // its policy either way): its users fall back, the others do not.
            func shardNode(_ user: String) -> Int? {
                store.client.clusterNode(forKey: store.keys.stream(.feedback, shard: store.streamShard(ofUser: user)))
            }
            let registry = store.client.clusterNode(forKey: store.keys.activePolicy)
            let victim = try #require((0..<3).first { node in node != registry && users.contains { shardNode($0) == node } })
            let victimPort = try #require(try await phase("finding the victim's port") { try await nodePort(store: store, index: victim, cluster: cluster) })
            cluster.kill(port: victimPort)
            let time = (Fixture.day + 1) * 86_400
            var fellBack: [Int: Int] = [:]
            var answered: [Int: Int] = [:]
            for round in 0..<3 {
                for user in users {
                    let domain = store.failureDomain(ofUser: user)
                    answered[domain, default: 0] += 1
                    if try await decide(user, 10 + round, time).fallback { fellBack[domain, default: 0] += 1 }
                }
            }
            #expect(fellBack[victim + 1] == answered[victim + 1], "every decision for the dead master's users falls back")
            for domain in [1, 2, 3] where domain != victim + 1 {
                #expect(fellBack[domain, default: 0] == 0, "users of master \(domain) are served: \(fellBack)")
            }

            // A user whose master is up but whose stream shard is on the dead one: decisions are
            // served, feedback is counted and refused (503, retry) until the shard's master returns.
            let streamedLater = try #require((0..<2000).map { "cl-s\($0)" }.first {
                store.failureDomain(ofUser: $0) != victim + 1 && shardNode($0) == victim
            })
            let held = try await decide(streamedLater, 0, time)
            #expect(!held.fallback)
            let heldFeedback = Fixture.feedbackBody(decision: held.decision_id, user: streamedLater, time: time + 60, adPositions: held.ad_positions)
            try await client.execute(uri: "/v1/feedback", method: .post, body: heldFeedback) { #expect($0.status == .serviceUnavailable) }

            // It returns: everything recovers.
            try await phase("restarting the master") { try cluster.restart(port: victimPort) }
            // The refused feedback's retry is accepted; the stream has it once.
            #expect(try await eventually(timeout: .seconds(15)) {
                try await client.execute(uri: "/v1/feedback", method: .post, body: heldFeedback) { $0.status == .accepted }
            })
            let streamed = try await store.entries(.feedback, after: "0", count: 100_000).filter { $0.fields["decision_id"] == held.decision_id }
            #expect(streamed.count == 1 && streamed.first?.fields["seq"] != nil, "\(streamed)")
            let victimUser = try #require(domains[victim + 1]?.first)
            #expect(try await eventually(timeout: .seconds(15)) { try await !decide(victimUser, 20, time).fallback })
            let answer = try await decide(victimUser, 21, time)
            try await client.execute(
                uri: "/v1/feedback", method: .post,
                body: Fixture.feedbackBody(decision: answer.decision_id, user: victimUser, time: time + 60, adPositions: answer.ad_positions)
            ) { #expect($0.status == .accepted) }
            #expect(try await store.userRecord(userID: victimUser, day: Int(Fixture.day) + 1)?.totalSessions == 3)

            // The learner reads every shard: each decision and feedback entry the streams hold,
            // those written after the master returned included.
            #expect(try await phase("the learner's reads after recovery") {
                await eventually(timeout: .seconds(15)) {
                    do {
                        try await learner.poll(block: .milliseconds(50))
                        let decisions = try await store.entries(.decisions, after: "0", count: 100_000)
                            .flatMap { DecisionStreamFormat.decisions(inField: $0.fields["d"] ?? "") }.count
                        let feedback = try await store.entries(.feedback, after: "0", count: 100_000).count
                        let statistics = await learner.statistics
                        return statistics.decisionsRead == decisions && statistics.feedbackRead == feedback
                    } catch {
                        return false
                    }
                }
            })
        }
        await store.shutdown()
    }

    /// Runs `body`, recording which phase of the test an error came from before rethrowing it.
    func phase<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            Issue.record("\(name): \(error)")
            throw error
        }
    }

    /// The port of the node the store's map calls `index`.
    func nodePort(store: RedisLiveStore, index: Int, cluster: RedisClusterTestServer) async throws -> Int? {
        // A key whose slot the node owns names it through CLUSTER SLOTS' view: find one by trying keys.
        for probe in 0..<10_000 where store.client.clusterNode(forKey: "probe-\(probe)") == index {
            let slot = RedisClusterRouting.slot(of: Array("probe-\(probe)".utf8))
            let connection = try RedisConnection(address: cluster.seeds[0])
            for range in try connection.command(["CLUSTER", "SLOTS"]).array ?? [] {
                guard let fields = range.array, let low = fields[0].int, let high = fields[1].int, (low...high).contains(slot) else { continue }
                return fields[2].array?[1].int
            }
        }
        return nil
    }
}
