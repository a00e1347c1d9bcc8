import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Testing

@Suite("Store failures", .timeLimit(.minutes(1)))
struct StoreFailureTests {
    @Test("with the store down, decide falls back and feedback is refused with 503")
    func storeDown() async throws {
        let store = InMemoryLiveStore()
        let server = try Fixtures.server(store: store)
        try await buildApplication(server: server).test(.router) { client in
            defer { store.setUnavailable(false) }  // for the shutdown flush, even if the test throws
            let decision = try await client.decide(decideBody(user: "down")).decode(DecideAnswer.self)
            #expect(!decision.fallback)
            store.setUnavailable(true)
            let response = try await client.decide(decideBody(user: "down"))
            #expect(response.status == .ok)
            let fallback = try response.decode(DecideAnswer.self)
            #expect(fallback.fallback)
            #expect(fallback.propensity == "exact")
            #expect(fallback.probability > 0 && fallback.probability <= 1)

            let feedback = try await client.feedback("""
                {"decision_id": "\(decision.decision_id)", "user_id": "down", "events": [{"type": "impression", "position": 4}]}
                """)
            #expect(feedback.status == .serviceUnavailable)
            #expect(feedback.headers[.retryAfter] == "1")
            #expect(try feedback.decode(ErrorAnswer.self).error.field == "store")

            store.setUnavailable(false)
            let stored = try await client.feedback("""
                {"decision_id": "\(decision.decision_id)", "user_id": "down", "events": [{"type": "impression", "position": 4}]}
                """)
            #expect(stored.status == .accepted)
        }
    }

    @Test("the circuit opens after N failures, skips the store, and half-opens after the cool-down")
    func circuitBreaker() async throws {
        let store = CountingStore()
        let clock = ManualClock()
        let server = try Fixtures.server(
            store: store, configuration: Fixtures.configuration(threshold: 5, coolDown: .milliseconds(300)), clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            defer { store.base.setUnavailable(false) }  // for the shutdown flush, even if the test throws
            store.base.setUnavailable(true)
            for _ in 0..<5 {
                #expect(try await client.decide(decideBody()).decode(DecideAnswer.self).fallback)
            }
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 5)
            #expect(server.circuitBreaker.state == .open)

            store.base.setUnavailable(false)
            for _ in 0..<3 {
                #expect(try await client.decide(decideBody()).decode(DecideAnswer.self).fallback, "open: no store call, fallback")
            }
            let feedback = try await client.feedback("""
                {"decision_id": "\(server.decisionIDs.make(userID: "u", timeMilliseconds: 1))", "user_id": "u", "events": [{"type": "session_end"}]}
                """)
            #expect(feedback.status == .accepted, "feedback has its own breaker: the decide path's failures do not turn it away")
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 5)
            #expect(store.feedbackCalls.load(ordering: .relaxed) == 1)

            clock.advance(by: .milliseconds(350))
            store.base.setUnavailable(true)
            #expect(try await client.decide(decideBody()).decode(DecideAnswer.self).fallback)
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 6, "one probe after the cool-down")
            #expect(server.circuitBreaker.state == .open, "a failed probe reopens")
            #expect(try await client.decide(decideBody()).decode(DecideAnswer.self).fallback)
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 6)

            clock.advance(by: .milliseconds(350))
            store.base.setUnavailable(false)
            #expect(try await !client.decide(decideBody()).decode(DecideAnswer.self).fallback, "a successful probe closes")
            #expect(server.circuitBreaker.state == .closed)
            #expect(try await !client.decide(decideBody()).decode(DecideAnswer.self).fallback)
            #expect(store.userRecordCalls.load(ordering: .relaxed) == 8)

            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"adload_decision_fallbacks_total{reason="circuit_open"} 4"#))
            #expect(metrics.contains(#"adload_decision_fallbacks_total{reason="unavailable"} 6"#))
            #expect(metrics.contains("adload_circuit_breaker_opened_total 2"))
        }
    }

    @Test("feedback's breaker opens after N failed feedback calls and then refuses without calling the store; decisions are not affected")
    func feedbackBreaker() async throws {
        let store = CountingStore()
        let clock = ManualClock()
        let server = try Fixtures.server(
            store: store, configuration: Fixtures.configuration(threshold: 3, coolDown: .milliseconds(300)), clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            defer { store.base.setUnavailable(false) }
            let body = """
                {"decision_id": "\(server.decisionIDs.make(userID: "u", timeMilliseconds: 1))", "user_id": "u", "events": [{"type": "session_end"}]}
                """
            store.base.setUnavailable(true)
            for _ in 0..<3 {
                let refused = try await client.feedback(body)
                #expect(refused.status == .serviceUnavailable)
            }
            #expect(store.feedbackCalls.load(ordering: .relaxed) == 3)
            let skipped = try await client.feedback(body)
            #expect(skipped.status == .serviceUnavailable)
            #expect(store.feedbackCalls.load(ordering: .relaxed) == 3, "open: refused without a store call")
            #expect(server.circuitBreaker.state == .closed, "the decide path's breaker saw no failure")
            store.base.setUnavailable(false)
            let decided = try await client.decide(decideBody())
            #expect(try !decided.decode(DecideAnswer.self).fallback)
            clock.advance(by: .milliseconds(350))
            let probe = try await client.feedback(body)
            #expect(probe.status == .accepted, "the probe after the cool-down closes it")
            #expect(store.feedbackCalls.load(ordering: .relaxed) == 4)
        }
    }

    @Test("a store slower than the budget gives a fallback within the budget and counts as a failure")
    func slowStore() async throws {
        let clock = ManualClock()
        let store = CountingStore(clock: clock)
        store.delay.withLock { $0 = .seconds(3) }
        let server = try Fixtures.server(
            store: store, configuration: Fixtures.configuration(threshold: 2, decideBudget: .milliseconds(20)), clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            let start = clock.now
            // Unstructured, so that a test that fails while the store is paused is not held up by the request.
            let first = Task { try await client.decide(decideBody()) }
            // The store call has started (it pauses 3 s), so the budget's deadline is set: let 20 ms pass.
            try await clock.waitForSleeper(wakingIn: .seconds(3))
            clock.advance(by: .milliseconds(20))
            let answer = try await first.value.decode(DecideAnswer.self)
            #expect(answer.fallback)
            #expect(clock.now - start < .seconds(1), "the answer does not wait for the store")
            let second = Task { try await client.decide(decideBody()) }
            try await clock.waitForSleeper(wakingIn: .seconds(3))
            clock.advance(by: .milliseconds(20))
            #expect(try await second.value.decode(DecideAnswer.self).fallback)
            #expect(server.circuitBreaker.state == .open)
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"adload_store_errors_total{operation="user_record",kind="timeout"} 2"#))
        }
    }
}
