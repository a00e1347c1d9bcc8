import AdLoadCore
import AdLoadTestSupport
import Foundation
@testable import StateStore
import Testing

@Suite("Redis Cluster: hash slots and key routing")
struct RedisClusterRoutingTests {
    func slot(_ key: String) -> Int { RedisClusterRouting.slot(of: Array(key.utf8)) }

    @Test("slots match Redis's published values and honour hash tags")
    func slots() {
        // CRC16/XMODEM check value of "123456789" is 0x31C3 = 12739; CLUSTER KEYSLOT foo = 12182.
        #expect(slot("123456789") == 0x31C3 % 16_384)
        #expect(slot("foo") == 12_182)
        #expect(slot("{user1000}.following") == slot("{user1000}.followers"))
        #expect(slot("{u:alice}:ads:20000") == slot("{u:alice}") && slot("{u:alice}") == slot("u:alice"))
        #expect(slot("foo{}{bar}") != slot("bar"), "an empty tag hashes the whole key")
        #expect(slot("foo{{bar}}zap") == slot("{bar"))
    }

    @Test("the routing key of each command the store sends, and requests that span slots are refused")
    func routingKeys() throws {
        func key(_ words: String...) -> String? {
            RedisClusterRouting.key(of: words.map { Array($0.utf8) }).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(key("HMGET", "{u:a}", "lv") == "{u:a}")
        #expect(key("EVALSHA", "abc", "3", "{u:a}", "{u:a}:ads:1", "{u:a}:ce:d") == "{u:a}")
        #expect(key("EVALSHA", "abc", "0", "x") == nil)
        #expect(key("XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", "adload:feedback", ">") == "adload:feedback")
        #expect(key("XGROUP", "CREATE", "adload:decisions", "g", "0", "MKSTREAM") == "adload:decisions")
        #expect(key("SCRIPT", "LOAD", "return 1") == nil && key("PING") == nil)
        let bytes = { (words: [String]) in words.map { Array($0.utf8) } }
        #expect(try RedisClusterRouting.slot(of: [bytes(["SCRIPT", "LOAD", "x"]), bytes(["EVAL", "x", "1", "{u:a}"])]) == slot("u:a"))
        #expect(throws: StoreError.self) { try RedisClusterRouting.slot(of: [bytes(["GET", "{u:a}"]), bytes(["GET", "{u:b}"])]) }
    }

    @Test("MOVED and ASK replies are read; other errors are not redirections")
    func redirections() {
        let template = RedisAddress(host: "127.0.0.1", port: 1)
        #expect(RedisClusterRouting.redirection(in: .error("MOVED 3999 127.0.0.1:6381"), template: template)
            == .moved(slot: 3999, to: RedisAddress(host: "127.0.0.1", port: 6381)))
        #expect(RedisClusterRouting.redirection(in: .error("ASK 12 :7002"), template: template)
            == .ask(slot: 12, to: RedisAddress(host: "127.0.0.1", port: 7002)))
        #expect(RedisClusterRouting.redirection(in: .error("ERR unknown command"), template: template) == nil)
        #expect(RedisClusterRouting.redirection(in: .status("MOVED 1 a:2"), template: template) == nil)
    }
}

extension RedisSerializedTests {
    @Suite("RedisLiveStore on a real 3-master Redis Cluster")
    struct RedisClusterStoreTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        static func configuration(_ cluster: RedisClusterTestServer) -> RedisClient.Configuration {
            var configuration = RedisClient.Configuration(address: cluster.seeds[0], commandTimeout: .seconds(2))
            configuration.clusterSeeds = cluster.seeds
            return configuration
        }

        @Test("users on every master: the same records, outcomes and streams as InMemoryLiveStore; the registry and pacing work; slots agree with CLUSTER KEYSLOT")
        func conformance() async throws {
            let cluster = try RedisClusterTestServer.start(repository: Self.root)
            defer { cluster.stop() }
            let redis = RedisLiveStore(configuration: Self.configuration(cluster), options: .init(readTimeout: .seconds(2)))
            let memory = InMemoryLiveStore()
            let users = (0..<24).map { "user-\($0)" }
            var domains = Set<Int>()
            for (index, user) in users.enumerated() {
                let time = 20_000.25 + Double(index) * 0.001
                let decision = DecisionEntry(
                    decisionID: "d\(index)", userID: user, time: time, region: "na", policyVersion: "v1", features: [1],
                    plan: [2, 4, 3], chosen: 1, adPositions: [2, 6], probability: 0.5, propensity: "exact", fallback: false, feedLength: 12, adLimit: 3)
                try await redis.recordDecisions([decision])
                try await memory.recordDecisions([decision])
                let feedback = FeedbackEntry(
                    decisionID: "d\(index)", userID: user, time: time + 0.0005,
                    events: [FeedbackEvent(kind: .impression, position: 2), FeedbackEvent(kind: .dwell, position: 1, value: 8.5),
                             FeedbackEvent(kind: .sessionEnd, value: 12)], sessionStart: time)
                for attempt in ["first", "repeat"] {
                    let fromRedis = try await redis.applyFeedback(feedback)
                    let fromMemory = try await memory.applyFeedback(feedback)
                    #expect(fromRedis == fromMemory, "\(attempt)")
                }
                domains.insert(redis.failureDomain(ofUser: user))
            }
            #expect(domains == [1, 2, 3], "24 users land on all three masters")
            for user in users {
                expectSameRecord(try await redis.userRecord(userID: user, day: 20_000), try await memory.userRecord(userID: user, day: 20_000), user)
            }
            // The streams are sharded over every master; feedback carries its outbox sequence number.
            let shardNodes = Set((0..<redis.streamShards).compactMap { redis.client.clusterNode(forKey: redis.keys.stream(.feedback, shard: $0)) })
            #expect(redis.streamShards == RedisLiveStore.clusterStreamShards && shardNodes.count == 3, "\(shardNodes)")
            for stream in StreamName.allCases {
                let fromRedis = try await redis.readStream(stream, group: "g", consumer: "c", count: 1000, block: .zero)
                let fromMemory = try await memory.readStream(stream, group: "g", consumer: "c", count: 1000, block: .zero)
                #expect(stream == .decisions || fromRedis.allSatisfy { $0.fields["seq"] == "1" }, "one feedback call per user")
                let withoutSequence = fromRedis.map { $0.fields.filter { $0.key != "seq" }.sortedText }
                #expect(withoutSequence.sorted() == fromMemory.map(\.fields.sortedText).sorted(), "\(stream)")
                try await redis.acknowledge(stream, group: "g", ids: fromRedis.map(\.id))
            }
            try await redis.publishPolicy(version: "v1", blob: Data("one".utf8))
            #expect(try await redis.publishPolicy(version: "v2", blob: Data("two".utf8), ifActive: "v1") == .published)
            #expect(try await redis.activePolicyVersion() == "v2")
            #expect(try await redis.policyHistory(limit: 5).count == 2)
            for region in ["na", "eu", "apac"] {
                try await redis.addPacingCounters(PacingCounters(revenue: 1, impressions: 3, sessions: 1), userID: "user-1", region: region, day: 20_000, slot: 2)
                #expect(try await redis.pacingDay(region: region, day: 20_000, activeThrough: nil).slots[2].impressions == 3)
            }
            try await redis.ping()
            await redis.shutdown()

            // The client's slots are the server's.
            let connection = try RedisConnection(address: cluster.seeds[0])
            for key in users.map({ "{u:\($0)}" }) + ["adload:decisions", "adload:{policy}:active", "adload:{pacing:na}:state", "x{y}z", "{}k"] {
                #expect(try connection.command(["CLUSTER", "KEYSLOT", key]).int == RedisClusterRouting.slot(of: Array(key.utf8)), "\(key)")
            }
        }

        @Test("feedback counted while its stream shard refuses the append is reported not streamed, stays in the user's outbox and is streamed once by the retry")
        func outboxRecovery() async throws {
            let cluster = try RedisClusterTestServer.start(repository: Self.root)
            defer { cluster.stop() }
            let store = RedisLiveStore(configuration: Self.configuration(cluster), options: .init(readTimeout: .seconds(2)))
            let user = "outbox-user"
            let shardKey = store.keys.stream(.feedback, shard: store.streamShard(ofUser: user))
            let feedback = FeedbackEntry(
                decisionID: "d-outbox", userID: user, time: 20_000.5,
                events: [FeedbackEvent(kind: .impression, position: 3), FeedbackEvent(kind: .sessionEnd, value: 9)], sessionStart: 20_000.5)
            // The shard's key holds a string: its master refuses the XADD (WRONGTYPE), as a
            // master that is down would, after the user's master has counted the events.
            _ = try await store.client.execute([["SET", shardKey, "not a stream"]], timeout: .seconds(2))
            let first = try await store.applyFeedback(feedback)
            #expect(first.newEvents == 2 && first.counted.count == 2, "counted (and so paced) once, by this call")
            #expect(first.notStreamed != nil, "but not streamed: the caller answers 503 and the client retries")
            #expect(try await store.userRecord(userID: user, day: 20_000)?.totalSessions == 1, "counted by the user's master")
            let outbox = try await store.client.execute([["HLEN", store.keys.feedbackOutbox(user)]], timeout: .seconds(2))[0]
            #expect(outbox.int == 1, "kept in the outbox")

            _ = try await store.client.execute([["DEL", shardKey]], timeout: .seconds(2))
            let retry = try await store.applyFeedback(feedback)
            #expect(retry == FeedbackOutcome(newEvents: 0, duplicateEvents: 2), "the retry counts nothing again and streams it")
            let streamed = try await store.entries(.feedback, after: "0", count: 100)
            #expect(streamed.map(\.fields) == [[
                "decision_id": "d-outbox", "user_id": user, "time": "20000.5", "events": "impression:3:,session_end::9.0", "seq": "1",
            ]])
            #expect(try await store.client.execute([["EXISTS", store.keys.feedbackOutbox(user)]], timeout: .seconds(2))[0].int == 0)

            // The next feedback streams only itself, with the next sequence number.
            _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d-next", userID: user, time: 20_000.6, events: [FeedbackEvent(kind: .click, position: 3)]))
            #expect(try await store.entries(.feedback, after: "0", count: 100).map { $0.fields["seq"] } == ["1", "2"])
            await store.shutdown()
        }

        @Test("a slot moved to another master (MOVED) and a slot being migrated (ASK) are followed")
        func redirections() async throws {
            let cluster = try RedisClusterTestServer.start(repository: Self.root)
            defer { cluster.stop() }
            let client = RedisClient(configuration: Self.configuration(cluster))
            let connections = try cluster.seeds.map { try RedisConnection(address: $0) }
            let ids = try connections.map { try #require(try $0.command(["CLUSTER", "MYID"]).string) }
            /// The index in `cluster.ports` of the master that owns `key`'s slot.
            func owner(_ key: String) throws -> Int {
                let slot = RedisClusterRouting.slot(of: Array(key.utf8))
                for range in try connections[0].command(["CLUSTER", "SLOTS"]).array ?? [] {
                    guard let fields = range.array, let low = fields[0].int, let high = fields[1].int, (low...high).contains(slot),
                          let port = fields[2].array?[1].int, let index = cluster.ports.firstIndex(of: port) else { continue }
                    return index
                }
                throw RedisError.invalidArgument("no master owns slot \(slot)")
            }

            // The client learns the map, then the slot of "moved-key" is given to another master.
            _ = try await client.execute([["SET", "warm-up", "1"]], timeout: .seconds(2))
            let slot = RedisClusterRouting.slot(of: Array("moved-key".utf8))
            let from = try owner("moved-key")
            let to = (from + 1) % 3
            for connection in connections { _ = try connection.command(["CLUSTER", "SETSLOT", String(slot), "NODE", ids[to]]) }
            let moved = try await client.execute([["SET", "moved-key", "v"], ["GET", "moved-key"]], timeout: .seconds(2))
            #expect(moved[1].string == "v", "\(moved)")
            #expect(try connections[to].command(["GET", "moved-key"]).string == "v")
            #expect(try owner("moved-key") == to)

            // Migrating a slot from `to` back to `from`: a key not on `to` is answered ASK, and written on `from`.
            _ = try connections[from].command(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", ids[to]])
            _ = try connections[to].command(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", ids[from]])
            let asked = try await client.execute([["SET", "{moved-key}:new", "w"]], timeout: .seconds(2))
            #expect(asked[0].string == "OK", "\(asked)")
            #expect(try connections[to].command(["CLUSTER", "COUNTKEYSINSLOT", String(slot)]).int == 1, "only moved-key stays on the old owner")
            #expect(try connections[from].command(["CLUSTER", "COUNTKEYSINSLOT", String(slot)]).int == 1)
            #expect(try connections[from].command(["ASKING"]).string == "OK")
            #expect(try connections[from].command(["GET", "{moved-key}:new"]).string == "w")
            await client.shutdown()
        }
    }
}
