import AdLoadCore
import Synchronization

/// One shared timer for many short deadlines.
///
/// A sleeping timer task per store call made a budgeted call cost ≈ 12 µs (release build);
/// registering a deadline here costs a lock round trip and a dictionary insert, and the
/// whole budgeted call ≈ 4 µs. While deadlines are pending a
/// single task wakes every ``tick`` and fires the expired ones; it exits when none are
/// left, so an idle service has no timer wake-ups. A deadline fires up to one tick late.
///
/// Time is read and slept on ``clock``: with a manual clock in tests, deadlines fire when
/// the test advances the clock past them (the task's first wake-up is fixed when it is
/// started, so an advance made before the task gets to sleep still wakes it).
final class DeadlineTimer: Sendable {
    /// The timer of store budgets that name none, on the system clock.
    static let shared = DeadlineTimer(tick: .milliseconds(1))

    struct Pending: Sendable {
        let deadline: ContinuousClock.Instant
        let action: @Sendable () -> Void
    }

    struct State {
        var pending: [UInt64: Pending] = [:]
        var nextID: UInt64 = 0
        var running = false
    }

    /// Granularity of the deadlines.
    let tick: Duration
    /// The clock deadlines are measured and waited for on.
    let clock: any TimeSource
    let state = Mutex(State())

    /// A timer that checks its deadlines every `tick` of `clock`.
    init(tick: Duration, clock: any TimeSource = SystemClock()) {
        self.tick = tick
        self.clock = clock
    }

    /// Runs `action` once `delay` has passed, unless ``cancel(_:)`` comes first.
    /// - Returns: The id to cancel it with.
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> UInt64 {
        let now = clock.now
        let entry = Pending(deadline: now + delay, action: action)
        let (id, start) = state.withLock { state -> (UInt64, Bool) in
            state.nextID &+= 1
            state.pending[state.nextID] = entry
            defer { state.running = true }
            return (state.nextID, !state.running)
        }
        if start {
            let firstWake = now + tick
            Task { await self.run(firstWake: firstWake) }
        }
        return id
    }

    /// Forgets a deadline that has not fired.
    func cancel(_ id: UInt64) {
        _ = state.withLock { $0.pending.removeValue(forKey: id) }
    }

    /// Fires expired deadlines every tick, from `firstWake` on, until none are pending.
    func run(firstWake: ContinuousClock.Instant) async {
        var wake = firstWake
        while true {
            try? await clock.sleep(until: wake)
            let now = clock.now
            let (expired, more) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
                var expired: [@Sendable () -> Void] = []
                for (id, entry) in state.pending where entry.deadline <= now {
                    expired.append(entry.action)
                    state.pending[id] = nil
                }
                if state.pending.isEmpty { state.running = false }
                return (expired, state.running)
            }
            for action in expired { action() }
            if !more { return }
            wake = now + tick
        }
    }

    /// Whether nothing is scheduled and the timer's task has stopped.
    var isIdle: Bool { state.withLock { $0.pending.isEmpty && !$0.running } }
}
