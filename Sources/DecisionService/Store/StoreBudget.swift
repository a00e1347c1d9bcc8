import StateStore
import Synchronization

/// Runs a store operation with a latency budget.
///
/// The operation runs in its own task and races a deadline of a ``DeadlineTimer`` (the
/// caller's, whose clock measures the budget, or the shared one on the system clock);
/// whichever comes first answers. On timeout the operation is cancelled but not awaited (a
/// blocking client may take longer to notice), so the caller's latency is bounded by the
/// budget (plus the timer's 1 ms tick) whatever the store does.
enum StoreBudget {
    /// The operation's result, or ``StoreError/timeout`` once `budget` has passed on `timer`'s clock.
    ///
    /// The deadline is registered before the operation starts, so an operation that has
    /// begun always has its deadline pending.
    /// - Complexity: one task creation, one continuation and one timer registration per call
    ///   (≈ 4 µs in a release build on this machine, against ≈ 12 µs with a sleeping timer
    ///   task per call and ≈ 1.4 µs for the bare task and continuation).
    static func run<Value: Sendable>(
        _ budget: Duration, timer: DeadlineTimer = .shared, _ operation: @escaping @Sendable () async throws(StoreError) -> Value
    ) async throws(StoreError) -> Value {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, StoreError>, Never>) in
            let race = Race(continuation, timer: timer)
            let deadline = timer.schedule(after: budget) { race.finish(.failure(.timeout)) }
            let work = Task {
                let result: Result<Value, StoreError>
                do throws(StoreError) {
                    result = .success(try await operation())
                } catch {
                    result = .failure(error)
                }
                race.finish(result)
            }
            race.attach(work: work, deadline: deadline)
        }
        return try result.get()
    }

    /// The one-shot meeting point of the operation and its timer.
    final class Race<Value: Sendable>: Sendable {
        struct State {
            var continuation: CheckedContinuation<Result<Value, StoreError>, Never>?
            var work: Task<Void, Never>?
            var deadline: UInt64?
            var finished = false
        }

        let state: Mutex<State>
        let timer: DeadlineTimer

        init(_ continuation: CheckedContinuation<Result<Value, StoreError>, Never>, timer: DeadlineTimer) {
            state = Mutex(State(continuation: continuation))
            self.timer = timer
        }

        /// Records the task and the deadline; cancels both at once if the race is already over.
        func attach(work: Task<Void, Never>, deadline: UInt64) {
            let finished = state.withLock { state in
                state.work = work
                state.deadline = deadline
                return state.finished
            }
            if finished {
                work.cancel()
                timer.cancel(deadline)
            }
        }

        /// Answers with `result` if nobody has answered yet, and cancels the loser.
        func finish(_ result: Result<Value, StoreError>) {
            let taken = state.withLock { state -> (CheckedContinuation<Result<Value, StoreError>, Never>, Task<Void, Never>?, UInt64?)? in
                guard !state.finished, let continuation = state.continuation else { return nil }
                state.finished = true
                state.continuation = nil
                defer {
                    state.work = nil
                    state.deadline = nil
                }
                return (continuation, state.work, state.deadline)
            }
            guard let (continuation, work, deadline) = taken else { return }
            continuation.resume(returning: result)
            work?.cancel()
            if let deadline { self.timer.cancel(deadline) }
        }
    }
}
