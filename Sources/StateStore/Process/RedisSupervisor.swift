import Dispatch
import Foundation
import Synchronization

/// Keeps an embedded redis-server running: when the child process exits without being
/// asked to, it is started again on the same port and data folder (its append-only file
/// replayed), with exponential backoff between failed attempts, so the service's
/// connections reconnect to it and its decisions leave fallback.
///
/// It watches from a thread of its own (a real child process is watched, so real time is
/// the clock). ``stop()`` ends the watch before the server is stopped on purpose.
package final class RedisSupervisor: Sendable {
    /// What the supervisor saw or did, for logs and metrics.
    package enum Event: Sendable, Equatable {
        /// The server exited on its own (exit status, or the signal that ended it).
        case exited(status: Int32)
        /// The server answers PING again after `attempts` tries.
        case restarted(attempts: Int)
        /// An attempt failed; the next comes after `retryIn`.
        case restartFailed(reason: String, retryIn: Duration)
    }

    let server: RedisServerProcess
    let pollInterval: Duration
    let firstBackoff: Duration
    let maxBackoff: Duration
    let onEvent: @Sendable (Event) -> Void
    let state = Mutex(State())
    /// Signalled once when the watching thread ends.
    let finished = DispatchSemaphore(value: 0)

    struct State {
        var started = false
        var stopping = false
        var restarts = 0
    }

    /// - Parameters:
    ///   - pollInterval: how often the process is checked.
    ///   - firstBackoff: the wait after a failed restart, doubled after each (up to `maxBackoff`).
    ///   - onEvent: called on the watching thread for every event.
    package init(
        server: RedisServerProcess, pollInterval: Duration = .milliseconds(50), firstBackoff: Duration = .milliseconds(100),
        maxBackoff: Duration = .seconds(5), onEvent: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        self.server = server
        self.pollInterval = pollInterval
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        self.onEvent = onEvent
    }

    /// Restarts so far.
    package var restarts: Int { state.withLock { $0.restarts } }

    /// Starts watching (once).
    package func start() {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        let thread = Thread { [self] in
            watch()
            finished.signal()
        }
        thread.name = "redis-supervisor"
        thread.start()
    }

    /// Ends the watch and waits for it (an attempt under way finishes first), so that
    /// stopping the server afterwards is not taken for a crash.
    package func stop() {
        let started = state.withLock { state -> Bool in
            state.stopping = true
            return state.started
        }
        if started { finished.wait() }
    }

    var stopping: Bool { state.withLock { $0.stopping } }

    func watch() {
        while !stopping {
            Self.sleep(pollInterval)
            guard !stopping, !server.isRunning else { continue }
            onEvent(.exited(status: server.terminationStatus))
            var backoff = firstBackoff
            var attempts = 0
            while !stopping {
                attempts += 1
                do {
                    try server.restart()
                    state.withLock { $0.restarts += 1 }
                    onEvent(.restarted(attempts: attempts))
                    break
                } catch {
                    onEvent(.restartFailed(reason: error.description, retryIn: backoff))
                    Self.sleep(backoff)
                    backoff = min(backoff * 2, maxBackoff)
                }
            }
        }
    }

    static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) * 1e-18)
    }
}
