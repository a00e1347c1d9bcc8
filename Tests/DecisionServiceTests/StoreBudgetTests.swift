import DecisionService
import StateStore
import Synchronization
import Testing

@Suite("Store budget")
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
        let start = ContinuousClock.now
        await #expect(throws: StoreError.timeout) {
            try await StoreBudget.run(.milliseconds(20)) { () async throws(StoreError) -> Int in
                try? await Task.sleep(for: .seconds(30))
                return 1
            }
        }
        #expect(ContinuousClock.now - start < .seconds(10), "the answer does not wait for the operation")
    }

    @Test("the shared timer fires deadlines once and not after cancel")
    func deadlineTimer() async throws {
        let timer = DeadlineTimer(tick: .milliseconds(1))
        let fired = Tally()
        _ = timer.schedule(after: .milliseconds(5)) { fired.increment() }
        let cancelled = timer.schedule(after: .milliseconds(5)) { fired.increment() }
        timer.cancel(cancelled)
        _ = timer.schedule(after: .milliseconds(10)) { fired.increment() }
        #expect(await eventually(timeout: .seconds(10)) { fired.count == 2 })
        try await Task.sleep(for: .milliseconds(30))
        #expect(fired.count == 2)
        #expect(timer.isIdle)
    }
}
