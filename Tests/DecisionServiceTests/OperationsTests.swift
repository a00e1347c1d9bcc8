import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Testing

@Suite("Decision stream, metrics, probes", .timeLimit(.minutes(1)))
struct OperationsTests {
    @Test("decisions reach the decision stream with their session ids, and those made while the store is down are written once it returns")
    func decisionStream() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        let server = try Fixtures.server(store: store, clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            var ids: [String] = []
            for index in 0..<3 {
                ids.append(try await client.decide(decideBody(user: "stream-\(index)")).decode(DecideAnswer.self).decision_id)
            }
            try await clock.step(by: Fixtures.flushInterval)
            let written = try await streamDecisions(store)
            #expect(written.count == 3, "the next flush writes them")
            #expect(written.map(\.decisionID) == ids)
            #expect(written.allSatisfy { $0.policyVersion == "v1" && !$0.fallback && $0.region == "na" && $0.feedLength == 50 })
            #expect(written.map(\.sessionID) == (0..<3).map { "s-stream-\($0)" }, "the request's session id is logged")

            store.setUnavailable(true)
            defer { store.setUnavailable(false) }  // for the shutdown flush, even if the test throws
            var offline: [String] = []
            for index in 0..<4 {
                let answer = try await client.decide(decideBody(user: "offline-\(index)")).decode(DecideAnswer.self)
                #expect(answer.fallback)
                offline.append(answer.decision_id)
            }
            // The next flush fails: the entries stay buffered and the flusher waits its retry delay.
            try await clock.step(by: Fixtures.flushInterval)
            #expect(server.decisionLog.count == 4)
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"adload_store_errors_total{operation="record_decisions",kind="unavailable"} 1"#))
            store.setUnavailable(false)
            try await clock.step(by: Fixtures.retryDelay)
            let all = try await streamDecisions(store)
            #expect(all.count == 7, "the retry writes them")
            #expect(all.map(\.decisionID) == ids + offline)
            #expect(all.suffix(4).allSatisfy { $0.fallback })
            #expect(server.decisionLog.count == 0)
        }
    }

    @Test("decisions still buffered are written on graceful shutdown")
    func shutdownFlush() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        let server = try Fixtures.server(store: store, configuration: Fixtures.configuration(flushInterval: .seconds(30)), clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            // The flusher has made its first pass and waits 30 s for the next, which never comes.
            try await clock.servicesIdle()
            for index in 0..<5 { _ = try await client.decide(decideBody(user: "late-\(index)")) }
            #expect(server.decisionLog.count == 5)
        }
        #expect(try await streamDecisions(store).count == 5)
    }

    @Test("/metrics exposes the service's metrics")
    func metrics() async throws {
        let server = try Fixtures.server(store: InMemoryLiveStore())
        try await buildApplication(server: server).test(.router) { client in
            _ = try await client.decide(decideBody())
            _ = try await client.decide(decideBody(hour: 99))
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = response.text
            for name in [
                #"adload_http_requests_total{route="decide",status="2xx"} 1"#,
                #"adload_http_requests_total{route="decide",status="4xx"} 1"#,
                "adload_http_request_duration_seconds_bucket{route=\"decide\",status=\"2xx\"",
                #"adload_decisions_total{fallback="false"} 1"#,
                "adload_decision_fallbacks_total", "adload_store_errors_total", "adload_circuit_breaker_state 0",
                "adload_circuit_breaker_opened_total", "adload_decision_buffer_entries", "adload_decision_buffer_dropped_total",
                "adload_decision_log_written_total", #"adload_policy_info{version="v1"}"#, "adload_policy_load_failures_total",
                "adload_policy_swaps_total", "adload_feedback_events_total",
            ] {
                #expect(text.contains(name), "\(name)")
            }
        }
    }

    @Test("/healthz, /readyz and /v1/policy")
    func probes() async throws {
        let store = InMemoryLiveStore()
        let server = try Fixtures.server(store: store)
        try await buildApplication(server: server).test(.router) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(health.text == #"{"status":"ok"}"#)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            store.setUnavailable(true)
            defer { store.setUnavailable(false) }  // for the shutdown flush, even if the test throws
            let notReady = try await client.execute(uri: "/readyz", method: .get)
            #expect(notReady.status == .serviceUnavailable)
            #expect(notReady.text.contains(#""failed":["store"]"#))
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            store.setUnavailable(false)

            let policy = try await client.execute(uri: "/v1/policy", method: .get)
            #expect(policy.status == .ok)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(policy.body.readableBytesView)) as? [String: Any])
            #expect(object["version"] as? String == "v1")
            #expect(object["algorithm"] as? String == "linucb")
            #expect((object["hyperparameters"] as? [String: Any])?["alpha"] as? Double == 1)
            #expect((object["provenance"] as? [String: Any])?["env"] as? String == "default")
            #expect((object["reward"] as? [String: Any])?["revenue"] as? Double == 1)
            let schema = object["feature_schema"] as? [String: Any]
            #expect(schema?["context_schema"] as? String == server.policyHolder.current?.schema.contextFingerprint)
        }
    }

    @Test("an empty policy holder is not ready and refuses decisions until the registry has a policy")
    func noPolicy() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        let server = DecisionServer(
            configuration: Fixtures.configuration(pollInterval: .milliseconds(20)), store: store,
            policyHolder: PolicyHolder(rules: try Fixtures.rules(), expectedSchema: Fixtures.schema),
            registry: .init(), logger: Fixtures.logger, clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.text.contains(#""failed":["policy"]"#))
            let decide = try await client.decide(decideBody())
            #expect(decide.status == .serviceUnavailable)
            #expect(try decide.decode(ErrorAnswer.self).error.field == "policy")
            try await store.publishPolicy(version: "registry-1", blob: try Fixtures.policyData("default-softmax"))
            try await clock.step(by: .milliseconds(20))
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok, "the next poll loads the registry's policy")
            #expect(try await client.decide(decideBody()).decode(DecideAnswer.self).policy_version == "registry-1")
        }
    }

    @Test("the benchmark routes exist only when configured; they read the body, then the user's record, as decide does")
    func benchmarkRoutes() async throws {
        let plain = try Fixtures.server(store: InMemoryLiveStore())
        try await buildApplication(server: plain).test(.router) { client in
            let response = try await client.execute(
                uri: "/bench/user-record", method: .post, headers: [.contentType: "application/json"], body: body(decideBody()))
            #expect(response.status == .notFound)
        }
        let base = InMemoryLiveStore()
        let store = CountingStore(base: base)
        var configuration = Fixtures.configuration()
        configuration.benchmarkRoutes = true
        let server = try Fixtures.server(store: store, configuration: configuration)
        try await buildApplication(server: server).test(.router) { client in
            func post(_ route: String, _ text: String) async throws -> TestResponse {
                try await client.execute(uri: route, method: .post, headers: [.contentType: "application/json"], body: body(text))
            }
            let bodyOnly = try await post("/bench/body", decideBody())
            #expect(bodyOnly.status == .ok)
            #expect(bodyOnly.text == #"{"status":"ok"}"#)
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 0)
            #expect(try await post("/bench/user-record", decideBody()).status == .ok)
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 1)
            let malformed = try await post("/bench/user-record", #"{"user_id": 7}"#)
            #expect(malformed.status == .badRequest)
            #expect(try malformed.decode(ErrorAnswer.self).error.field == "user_id")
            base.setUnavailable(true)
            defer { base.setUnavailable(false) }  // for the shutdown flush, even if the test throws
            #expect(try await post("/bench/user-record", decideBody()).status == .serviceUnavailable)
            base.setUnavailable(false)
            #expect(try await streamDecisions(base).isEmpty, "no decision is made or logged")
        }
    }

    @Test("the application serves over a real socket")
    func live() async throws {
        let store = InMemoryLiveStore()
        let server = try Fixtures.server(store: store)
        try await buildApplication(server: server).test(.live) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let decision = try await client.decide(decideBody(user: "live"))
            #expect(decision.status == .ok)
            let answer = try decision.decode(DecideAnswer.self)
            let feedback = try await client.feedback("""
                {"decision_id": "\(answer.decision_id)", "user_id": "live", "events": [{"type": "session_end", "value": 10}]}
                """)
            #expect(feedback.status == .accepted)
            let tooLarge = try await client.decide(decideBody(extra: #""tenure": ""# + String(repeating: "x", count: 70_000) + "\""))
            #expect(tooLarge.status.code == 413)
        }
        #expect(try await streamDecisions(store).count == 1)
    }
}
