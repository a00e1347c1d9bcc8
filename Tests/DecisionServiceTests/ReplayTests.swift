@testable import AdLoadCLI
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Synchronization
import Testing

@Suite("adload replay against a live service")
struct ReplayTests {
    @Test("replay drives a service over a real socket; --json gives one object whose counts match the service's")
    func replayJSON() async throws {
        let store = InMemoryLiveStore()
        let server = try Fixtures.server(store: store)
        let sessions = Mutex(0)
        try await buildApplication(server: server).test(.live) { client in
            let port = try #require(client.port)
            let replay = try Replay.parse([
                "--target", "http://127.0.0.1:\(port)", "--env", packageRoot.appendingPathComponent("env/default.json").path,
                "--users", "4", "--days", "2", "--seed", "3", "--json", "--quiet",
            ])
            let summary = try await replay.replay()
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(summary.json.utf8)) as? [String: Any], "\(summary.json)")
            #expect(Set(object.keys) == [
                "env", "target", "users", "days", "sessions", "revenue_per_user", "ads_per_session", "items_per_session",
                "survival", "fallbacks", "failed_requests", "feedback_retries", "policy_versions", "feedback_accepted", "server_errors",
                "failed_decisions",
            ])
            let count = try #require(object["sessions"] as? Int)
            #expect(count > 0 && object["failed_requests"] as? Int == 0 && object["env"] as? String == "default")
            #expect(object["feedback_accepted"] as? Int == count, "every session's feedback was answered 202")
            #expect(object["server_errors"] as? Int == 0 && object["failed_decisions"] as? Int == 0)
            sessions.withLock { $0 = count }
        }
        // Every replayed session asked the service once (the decision log is flushed at shutdown).
        #expect(try await streamDecisions(store).count == sessions.withLock { $0 })
    }
}
