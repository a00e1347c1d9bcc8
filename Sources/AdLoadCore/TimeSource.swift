/// Where time-driven code reads the time and waits: ``SystemClock`` in production, a
/// manual clock in tests (`ManualClock` in AdLoadTestSupport), so that cool-downs, deadlines,
/// polling periods and grace windows pass when a test says so rather than when the machine
/// gets round to it.
///
/// Instants are `ContinuousClock.Instant`s, so deadlines add, compare and subtract as
/// usual; only instants of the same source are comparable.
package protocol TimeSource: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }

    /// Suspends until `deadline`; returns at once if it has passed.
    /// - Throws: `CancellationError` if the task is cancelled before the deadline.
    func sleep(until deadline: ContinuousClock.Instant) async throws
}

extension TimeSource {
    /// Suspends for `duration` from ``now``.
    /// - Throws: `CancellationError` if the task is cancelled first.
    package func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real time: `ContinuousClock` (monotonic; keeps counting while the machine sleeps).
package struct SystemClock: TimeSource {
    /// The system clock.
    package init() {}

    /// `ContinuousClock.now`.
    package var now: ContinuousClock.Instant { .now }

    /// `Task.sleep(until:)` on the continuous clock.
    package func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await Task.sleep(until: deadline, clock: .continuous)
    }
}
