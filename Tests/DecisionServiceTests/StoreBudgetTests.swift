import AdLoadTestSupport
@testable import DecisionService
import StateStore
import Synchronization
import Testing

@Suite("Store budget", .timeLimit(.minutes(1)))
struct StoreBudgetTests {
    @Test("a fast call answers with its value, a failing one with its error")
    func passThrough() async throws {
        let value = try await StoreBudget.run(.milliseconds(50)) { () async throws(StoreError) in 42 }
        #expect(value == 42)
        await #expect(throws: StoreError.failed("no")) {
            try await StoreBudget.run(.milliseconds(50)) { () async throws(StoreError) -> Int in throw .failed("no") }
        }
    }

    @Test("a call slower than the budget times out without waiting for it")
    func timeout() async throws {
        let clock = ManualClock()
        let timer = DeadlineTimer(tick: .milliseconds(1), clock: clock)
        let start = clock.now
        let call = Task {
            try await StoreBudget.run(.milliseconds(20), timer: timer) { () async throws(StoreError) -> Int in
                try? await clock.sleep(for: .seconds(30))
                return 1
            }
        }
        // The operation has started (it sleeps its 30 s), so its deadline is set: let the budget pass.
        try await clock.waitForSleeper(wakingIn: .seconds(30))
        clock.advance(by: .milliseconds(20))
        await #expect(throws: StoreError.timeout) { try await call.value }
        #expect(clock.now - start < .seconds(10), "the answer does not wait for the operation")
    }

    @Test("the shared timer fires deadlines once and not after cancel")
    func deadlineTimer() async throws {
        let clock = ManualClock()
        let timer = DeadlineTimer(tick: .milliseconds(1), clock: clock)
        let fired = Tally()
        _ = timer.schedule(after: .milliseconds(5)) { fired.increment() }
        let cancelled = timer.schedule(after: .milliseconds(5)) { fired.increment() }
        timer.cancel(cancelled)
        _ = timer.schedule(after: .milliseconds(10)) { fired.increment() }
        clock.advance(by: .milliseconds(5))
        // The timer has fired what was due and waits one tick for the deadline still pending.
        try await clock.waitForSleeper(wakingIn: .milliseconds(1))
        #expect(fired.count == 1, "the cancelled deadline does not fire")
        clock.advance(by: .milliseconds(5))
        await fired.wait(untilAtLeast: 2)
        #expect(timer.isIdle)
        clock.advance(by: .milliseconds(30))
        #expect(fired.count == 2)
        #expect(timer.isIdle)
        #expect(clock.sleepers.isEmpty, "no timer task is left waiting")
    }
}
