import AdLoadCore
import AdLoadTestSupport
import Foundation
@testable import StateStore
import Testing

extension RedisSerializedTests {
    @Suite("The least-privilege Redis user (docs/redis-users.acl)")
    struct RedisACLTests {
        static let password = "acl-test-password-4711"

        /// The rules of the shipped `user adload` line, with the test's password.
        static func shippedRules() throws -> [String] {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let text = try String(contentsOf: root.appendingPathComponent("docs/redis-users.acl"), encoding: .utf8)
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("user adload ") })
            let words = line.split(separator: " ").dropFirst(2).map(String.init)
            #expect(words.contains(">CHANGE-ME"), "the shipped file must not hold a real password")
            return words.map { $0 == ">CHANGE-ME" ? ">\(password)" : $0 }
        }

        @Test("the shipped user runs every store operation (user state, feedback, streams, consumer groups, registry, pacing) and is refused everything else")
        func leastPrivilege() async throws {
            // A private server: the test changes its users.
            let server = try RedisTestServer.startPrivate()
            defer { server.stop() }
            let admin = try server.connect()
            _ = try admin.command(["ACL", "SETUSER", "adload", "reset"] + Self.shippedRules())
            var address = server.address
            address.username = "adload"
            address.password = Self.password
            let store = RedisLiveStore(configuration: .init(address: address), options: .init(readTimeout: .seconds(2)))

            // Everything adload does, as that user.
            try await store.ping()
            let decision = DecisionEntry(
                decisionID: "d1", userID: "alice", time: 20_000.5, region: "na", policyVersion: "v1", features: [1, 0.5],
                plan: [2, 4, 3], chosen: 1, adPositions: [2, 6], probability: 0.5, propensity: "exact", fallback: false, feedLength: 12, adLimit: 3)
            try await store.recordDecisions([decision])
            let feedback = FeedbackEntry(
                decisionID: "d1", userID: "alice", time: 20_000.51,
                events: [FeedbackEvent(kind: .impression, position: 2), FeedbackEvent(kind: .sessionEnd, value: 12)], sessionStart: 20_000.5)
            #expect(try await store.applyFeedback(feedback).duplicateEvents == 0)
            #expect(try await store.applyFeedback(feedback).duplicateEvents == 2)
            #expect(try await store.userRecord(userID: "alice", day: 20_000)?.totalSessions == 1)
            for stream in StreamName.allCases {
                let read = try await store.readStream(stream, group: "learner", consumer: "c", count: 10, block: .zero)
                #expect(read.count == 1, "\(stream)")
                #expect(try await store.pendingEntries(stream, group: "learner", consumer: "c", count: 10, after: "0").count == 1)
                try await store.acknowledge(stream, group: "learner", ids: read.map(\.id))
                #expect(try await store.latestEntries(stream, before: nil, count: 10).count == 1)
                #expect(try await store.entries(stream, after: "0", count: 10).count == 1)
            }
            try await store.publishPolicy(version: "v1", blob: Data("one".utf8))
            #expect(try await store.publishPolicy(version: "v2", blob: Data("two".utf8), ifActive: "v1") == .published)
            #expect(try await store.activePolicyVersion() == "v2")
            #expect(try await store.policyBlob(version: "v1") == Data("one".utf8))
            #expect(try await store.policyVersions() == ["v1", "v2"])
            #expect(try await store.policyHistory(limit: 10).count == 2)
            try await store.addPacingCounters(PacingCounters(revenue: 1, impressions: 2, sessions: 1), userID: "alice", region: "na", day: 20_000, slot: 3)
            #expect(try await store.pacingDay(region: "na", day: 20_000, activeThrough: nil).activeUsers == 1)
            #expect(try await store.storePacingState(StoredPacingState(day: 20_000, minute: 60, state: PacingState()), region: "na"))
            #expect(try await store.pacingState(region: "na")?.minute == 60)
            try await store.storePacingTargets(Data("{}".utf8))
            #expect(try await store.pacingTargets() == Data("{}".utf8))
            await store.shutdown()

            // Nothing else: dangerous commands, and keys that are not adload's.
            let limited = try RedisConnection(address: address)
            let refused: [[String]] = [
                ["FLUSHALL"], ["FLUSHDB"], ["CONFIG", "GET", "*"], ["KEYS", "*"], ["SCAN", "0"], ["CLIENT", "LIST"], ["INFO"], ["OBJECT", "ENCODING", "adload:{policy}:active"], ["SHUTDOWN", "NOSAVE"],
                ["ACL", "LIST"], ["SCRIPT", "FLUSH"], ["DEL", "adload:{policy}:active"], ["SET", "someone-else", "1"], ["GET", "session:42"],
                ["EVAL", "return redis.call('GET', KEYS[1])", "1", "someone-else"], ["EVAL", "return redis.call('FLUSHALL')", "0"],
                ["MODULE", "LIST"], ["SUBSCRIBE", "channel"],
            ]
            for command in refused {
                do {
                    let reply = try limited.command(command)
                    Issue.record("\(command.joined(separator: " ")) was allowed: \(reply)")
                } catch {
                    // NOPERM; from inside a script, "the user executing the script can't run this command".
                    #expect("\(error)".contains("NOPERM") || "\(error)".contains("can't run this command"), "\(command): \(error)")
                }
            }
            #expect(try admin.command(["GET", "adload:{policy}:active"]).string == "v2", "nothing refused changed anything")
            #expect(try admin.command(["DBSIZE"]).int ?? 0 > 5)
        }

        @Test("a wrong password fails at connect with an error naming the authentication, not a crash or a silent default user")
        func wrongPassword() async throws {
            let server = try RedisTestServer.startPrivate()
            defer { server.stop() }
            _ = try server.connect().command(["ACL", "SETUSER", "adload", "reset"] + Self.shippedRules())
            var address = server.address
            address.username = "adload"
            address.password = "not-the-password"
            #expect(throws: RedisError.self) { _ = try RedisConnection(address: address) }
            let store = RedisLiveStore(configuration: .init(address: address), options: .init(readTimeout: .milliseconds(500)))
            await #expect(throws: StoreError.self) { try await store.ping() }
            await store.shutdown()
        }
    }
}
