import Dispatch
import Foundation
import Synchronization

/// Runs `body` with its synchronous stretches on a thread of its own instead of a thread of
/// Swift concurrency's cooperative pool, and returns its result.
///
/// Swift Testing runs every test, synchronous or not, as a task on the cooperative pool,
/// which has as many threads as cores. A test that computes for seconds holds one of them
/// the whole time; on a two-core machine two such tests hold all of them, and every other
/// test of the parallel run waits, whatever its clock says, for as long as they compute.
/// Wrap the body of such a test:
///
/// ```swift
/// @Test func heavy() async throws {
///     try await onOwnThread {
///         let report = try runner.run(policy, setup: setup)   // seconds of work
///         #expect(report.objectivePerUser > 0)
///     }
/// }
/// ```
///
/// `body` is still part of the test's task (it prefers a task executor with its own thread,
/// SE-0417), so `#expect` and `#require` work in it. Keep the work in it on that thread:
/// `DispatchQueue.concurrentPerform` (the simulators' `threads:`) would hand all but one
/// of its iterations to Dispatch's global-queue threads, which on Linux are the threads
/// Swift tasks run on, so give such runners one thread.
package func onOwnThread<Value, Failure: Error>(_ body: () async throws(Failure) -> Value) async throws(Failure) -> Value {
    let executor = OwnThreadExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor, operation: body)
}

/// A task executor that runs its jobs, in order, on one thread of its own until ``stop()``.
final class OwnThreadExecutor: TaskExecutor {
    struct Queue {
        var jobs: [UnownedJob] = []
        var stopped = false
    }

    let queue = Mutex(Queue())
    /// Signalled once per enqueued job and once by ``stop()``.
    let signals = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in run() }
        thread.name = "adload-test-own-thread"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        signals.signal()
    }

    /// Lets the thread end once the jobs already enqueued have run.
    func stop() {
        queue.withLock { $0.stopped = true }
        signals.signal()
    }

    func run() {
        let executor = asUnownedTaskExecutor()
        while true {
            signals.wait()
            let (job, stopped) = queue.withLock { queue -> (UnownedJob?, Bool) in
                queue.jobs.isEmpty ? (nil, queue.stopped) : (queue.jobs.removeFirst(), false)
            }
            if let job {
                job.runSynchronously(on: executor)
            } else if stopped {
                return
            }
        }
    }
}
