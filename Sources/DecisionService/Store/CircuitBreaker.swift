import AdLoadCore
import StateStore
import Synchronization

/// Keeps a failing store from adding latency: after ``Configuration/failureThreshold``
/// consecutive failures or timeouts the circuit opens and callers skip the store
/// (deciding from the fallback, refusing feedback with 503) without waiting for it.
///
/// After ``Configuration/coolDown`` the circuit is half-open: the next caller is let
/// through as a probe while everyone else still skips; the probe's success closes the
/// circuit, its failure opens it for another cool-down. Results of calls admitted while
/// the circuit was closed but reported after it opened are ignored.
///
/// The cool-down and the budgets of ``call(budget:selfTimed:_:)`` are measured on ``clock``.
package final class CircuitBreaker: Sendable {
    /// When to open and how long to stay open.
    package struct Configuration: Sendable {
        /// Consecutive failures that open the circuit (default 5).
        package var failureThreshold: Int
        /// Time the circuit stays open before a probe is let through (default 1 s).
        package var coolDown: Duration

        /// Creates a configuration.
        package init(failureThreshold: Int = 5, coolDown: Duration = .seconds(1)) {
            self.failureThreshold = max(1, failureThreshold)
            self.coolDown = coolDown
        }
    }

    /// The circuit's state.
    package enum State: Int, Sendable, Equatable, CustomStringConvertible {
        /// Calls go to the store.
        case closed = 0
        /// One probe call is in flight; everyone else skips the store.
        case halfOpen = 1
        /// Calls skip the store until the cool-down has passed.
        case open = 2

        /// The state's name in logs: closed, half_open, open.
        package var description: String {
            switch self {
            case .closed: "closed"
            case .halfOpen: "half_open"
            case .open: "open"
            }
        }
    }

    /// Permission to call the store, returned by ``acquire()``; report its result with ``record(_:success:)``.
    package enum Permit: Sendable, Equatable {
        /// An ordinary call while the circuit is closed.
        case normal
        /// The single probe of a half-open circuit.
        case probe
    }

    struct Inner {
        var state = State.closed
        var consecutiveFailures = 0
        var openedAt: ContinuousClock.Instant
    }

    /// The configuration.
    package let configuration: Configuration
    /// The clock of the cool-down and of the store budgets.
    package let clock: any TimeSource
    /// The deadlines of the store budgets, on ``clock``.
    let deadlines: DeadlineTimer
    let inner: Mutex<Inner>
    let onTransition: @Sendable (State) -> Void

    /// Creates a closed circuit.
    /// - Parameters:
    ///   - clock: Measures the cool-down and the store budgets (tests pass a manual clock).
    ///   - onTransition: Called (outside the lock) with each new state, for metrics and logs.
    package init(
        configuration: Configuration = .init(), clock: any TimeSource = SystemClock(),
        onTransition: @escaping @Sendable (State) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.clock = clock
        deadlines = DeadlineTimer(tick: .milliseconds(1), clock: clock)
        inner = Mutex(Inner(openedAt: clock.now))
        self.onTransition = onTransition
    }

    /// The current state (an open circuit whose cool-down has passed still reads `open`
    /// until a caller takes the probe).
    package var state: State { inner.withLock { $0.state } }

    /// Whether the caller may call the store now, and as what; `nil` means skip the store.
    package func acquire() -> Permit? {
        let coolDown = configuration.coolDown
        let (permit, transition) = inner.withLock { inner -> (Permit?, State?) in
            switch inner.state {
            case .closed:
                return (.normal, nil)
            case .halfOpen:
                return (nil, nil)
            case .open:
                guard clock.now - inner.openedAt >= coolDown else { return (nil, nil) }
                inner.state = .halfOpen
                return (.probe, .halfOpen)
            }
        }
        if let transition { onTransition(transition) }
        return permit
    }

    /// Reports how a call admitted with `permit` went.
    package func record(_ permit: Permit, success: Bool) {
        let threshold = configuration.failureThreshold
        let transition = inner.withLock { inner -> State? in
            switch (permit, inner.state) {
            case (.normal, .closed):
                if success {
                    inner.consecutiveFailures = 0
                    return nil
                }
                inner.consecutiveFailures += 1
                guard inner.consecutiveFailures >= threshold else { return nil }
                inner.state = .open
                inner.openedAt = clock.now
                return .open
            case (.probe, .halfOpen):
                inner.consecutiveFailures = 0
                if success {
                    inner.state = .closed
                    return .closed
                }
                inner.state = .open
                inner.openedAt = clock.now
                return .open
            default:
                return nil
            }
        }
        if let transition { onTransition(transition) }
    }

    /// Runs `operation` through the circuit: skips it when open, times it out after
    /// `budget` (unless `selfTimed`: the operation enforces the budget itself, which saves a
    /// task and a timer per call), and records the result.
    /// - Returns: The operation's value, or a ``StoreCallFailure`` saying why not.
    func call<Value: Sendable>(
        budget: Duration, selfTimed: Bool = false, _ operation: @escaping @Sendable () async throws(StoreError) -> Value
    ) async -> Result<Value, StoreCallFailure> {
        guard let permit = acquire() else { return .failure(.circuitOpen) }
        do throws(StoreError) {
            let value = selfTimed ? try await operation() : try await StoreBudget.run(budget, timer: deadlines, operation)
            record(permit, success: true)
            return .success(value)
        } catch {
            record(permit, success: false)
            return .failure(.store(error))
        }
    }
}

/// Why a store call through the ``CircuitBreaker`` gave no value.
enum StoreCallFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The circuit is open: the store was not called.
    case circuitOpen
    /// The store failed or timed out.
    case store(StoreError)

    /// The metric label of the failure: `circuit_open`, `timeout`, `unavailable` or `failed`.
    var reason: String {
        switch self {
        case .circuitOpen: "circuit_open"
        case let .store(error): StoreErrorLabel.kind(error)
        }
    }

    var description: String {
        switch self {
        case .circuitOpen: "circuit breaker open: the state store is not called"
        case let .store(error): error.description
        }
    }
}

/// Metric labels of store errors.
enum StoreErrorLabel {
    static func kind(_ error: StoreError) -> String {
        switch error {
        case .timeout: "timeout"
        case .unavailable: "unavailable"
        case .failed: "failed"
        }
    }
}
