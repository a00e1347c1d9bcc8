import AdLoadCore
import Synchronization

/// A clock for tests: time stands still until ``advance(by:)`` moves it.
///
/// A task sleeping on it resumes only once the clock has been advanced to or past its
/// deadline (a deadline already reached returns at once; a cancelled sleep throws
/// `CancellationError`), so code driven by a ``TimeSource`` does in a test what the test's
/// advances allow, however busy the machine is. Instead of waiting for wall-clock time, a
/// test waits with ``waitForSleepers(where:)`` until that code has done what the last
/// advance woke it for and gone back to sleep.
///
/// ```swift
/// let clock = ManualClock()
/// let breaker = CircuitBreaker(configuration: .init(failureThreshold: 1, coolDown: .seconds(1)), clock: clock)
/// breaker.record(.normal, success: false)   // opens
/// clock.advance(by: .seconds(1))            // the cool-down has passed
/// #expect(breaker.acquire() == .probe)
/// ```
///
/// Its instants start at the `ContinuousClock` instant of its creation; only differences
/// between them mean anything.
package final class ManualClock: TimeSource {
    struct Sleeper {
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    struct Waiter {
        let condition: @Sendable ([Duration]) -> Bool
        let continuation: CheckedContinuation<Void, any Error>
    }

    struct State {
        var now: ContinuousClock.Instant
        var sleepers: [UInt64: Sleeper] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0

        /// How long each sleeper still sleeps, shortest first.
        var remaining: [Duration] { sleepers.values.map { $0.deadline - now }.sorted() }

        /// Removes and returns the waiters whose condition holds now.
        mutating func takeSatisfiedWaiters() -> [CheckedContinuation<Void, any Error>] {
            guard !waiters.isEmpty else { return [] }
            let remaining = remaining
            let satisfied = waiters.filter { $0.value.condition(remaining) }
            for id in satisfied.keys { waiters[id] = nil }
            return satisfied.sorted { $0.key < $1.key }.map(\.value.continuation)
        }

        mutating func makeID() -> UInt64 {
            nextID &+= 1
            return nextID
        }
    }

    let state: Mutex<State>

    /// A clock standing at the current `ContinuousClock` instant, with no sleepers.
    package init() {
        state = Mutex(State(now: .now))
    }

    /// The current instant: the creation instant plus every advance so far.
    package var now: ContinuousClock.Instant { state.withLock { $0.now } }

    /// Suspends until the clock has been advanced to `deadline` or past it; returns at once
    /// if it already has.
    /// - Throws: `CancellationError` if the task is cancelled first (the sleeper is then removed).
    package func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = state.withLock { $0.makeID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Cancellation is checked under the lock: a cancellation after the check
                // finds the sleeper registered and resumes it from the handler below.
                let (immediate, waiters) = state.withLock { state -> (Result<Void, any Error>?, [CheckedContinuation<Void, any Error>]) in
                    if Task.isCancelled { return (.failure(CancellationError()), []) }
                    if deadline <= state.now { return (.success(()), []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (nil, state.takeSatisfiedWaiters())
                }
                if let immediate { continuation.resume(with: immediate) }
                for waiter in waiters { waiter.resume() }
            }
        } onCancel: {
            let (sleeper, waiters) = state.withLock { state -> (Sleeper?, [CheckedContinuation<Void, any Error>]) in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else { return (nil, []) }
                return (sleeper, state.takeSatisfiedWaiters())
            }
            sleeper?.continuation.resume(throwing: CancellationError())
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Moves the clock forward by `duration` and resumes, earliest deadline first, every
    /// sleeper whose deadline has been reached.
    ///
    /// The resumed tasks run afterwards, concurrently with the caller: wait for what they do
    /// with ``waitForSleepers(where:)`` or on a condition of their own.
    /// - Precondition: `duration` is not negative.
    package func advance(by duration: Duration) {
        precondition(duration >= .zero, "a manual clock does not go back")
        let (due, waiters) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], [CheckedContinuation<Void, any Error>]) in
            state.now += duration
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
                .sorted { ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key) }
            for (id, _) in due { state.sleepers[id] = nil }
            return (due.map(\.value.continuation), state.takeSatisfiedWaiters())
        }
        for sleeper in due { sleeper.resume() }
        for waiter in waiters { waiter.resume() }
    }

    /// How long each sleeping task still has to sleep, shortest first.
    package var sleepers: [Duration] { state.withLock { $0.remaining } }

    /// Suspends until `condition` holds for the sleepers: it gets how long each still has to
    /// sleep, shortest first, and is checked now and whenever a task starts or stops
    /// sleeping or the clock moves.
    ///
    /// `condition` runs under the clock's lock: it must not use the clock.
    /// - Throws: `CancellationError` if the task is cancelled first.
    package func waitForSleepers(where condition: @escaping @Sendable (_ remaining: [Duration]) -> Bool) async throws {
        let id = state.withLock { $0.makeID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if condition(state.remaining) { return .success(()) }
                    state.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Suspends until some task sleeps until exactly `duration` from now: typically a
    /// periodic task that has done its work and is waiting for its next period.
    /// - Throws: `CancellationError` if the task is cancelled first.
    package func waitForSleeper(wakingIn duration: Duration) async throws {
        try await waitForSleepers { $0.contains(duration) }
    }
}
