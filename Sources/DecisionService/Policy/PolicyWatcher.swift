import AdLoadCore
import Foundation
import Logging
import NIOPosix
import Policies
import ServiceLifecycle
import StateStore
import Synchronization

/// Follows the policy registry: every ``Configuration/interval`` it reads the store's
/// active policy version and, when it differs from the served one, loads that blob with
/// `PolicyFile.parse` against the holder's schema and swaps it in.
///
/// A blob that is missing or does not load leaves the last good policy serving; the
/// failure is logged, counted in `adload_policy_load_failures_total`, and that version is
/// not retried until the registry points at another one. Store errors are logged at debug
/// level and retried on the next poll. With the default 500 ms interval every instance
/// serves a newly published version within a second (plus the load time, O(d³)).
///
/// The interval and the store budgets are measured on ``clock``.
package final class PolicyWatcher: Service, Sendable {
    /// Polling period and store budget.
    package struct Configuration: Sendable {
        /// Time between polls (default 500 ms).
        package var interval: Duration
        /// Time one registry read may take (default 1 s).
        var storeBudget: Duration

        /// Creates a configuration.
        package init(interval: Duration = .milliseconds(500), storeBudget: Duration = .seconds(1)) {
            self.interval = interval
            self.storeBudget = storeBudget
        }
    }

    /// What one poll did.
    enum PollOutcome: Sendable, Equatable {
        /// The registry's version is the served one, or there is none, or it already failed to load.
        case unchanged
        /// The policy was swapped to `version`.
        case swapped(version: String)
        /// `version` did not load; the last good policy keeps serving.
        case rejected(version: String, reason: String)
        /// The store could not be read.
        case storeError(StoreError)
    }

    /// The configuration.
    let configuration: Configuration
    let holder: PolicyHolder
    let store: any LiveStore
    let metrics: ServiceMetrics?
    let logger: Logger
    let rejectedVersion = Mutex<String?>(nil)
    /// The clock of the polling interval and of the store budgets.
    let clock: any TimeSource
    /// The deadlines of the store budgets, on ``clock``.
    let deadlines: DeadlineTimer

    /// Creates a watcher that swaps `holder`'s policy to the registry's active version.
    /// - Parameter clock: Measures the interval and the store budgets (tests pass a manual clock).
    init(
        holder: PolicyHolder, store: any LiveStore, configuration: Configuration = .init(), metrics: ServiceMetrics? = nil,
        logger: Logger, clock: any TimeSource = SystemClock()
    ) {
        self.holder = holder
        self.store = store
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        deadlines = DeadlineTimer(tick: .milliseconds(1), clock: clock)
    }

    /// Polls until graceful shutdown or cancellation.
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await poll()
            let interval = configuration.interval
            let clock = clock
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
        }
    }

    /// Reads the registry once and swaps if it names a new version that loads.
    @discardableResult
    func poll() async -> PollOutcome {
        let store = store
        let version: String?
        do throws(StoreError) {
            version = try await StoreBudget.run(configuration.storeBudget, timer: deadlines) { () async throws(StoreError) in
                try await store.activePolicyVersion()
            }
        } catch {
            return storeFailure(error, operation: "active_policy_version")
        }
        guard let version, version != holder.current?.version, version != rejectedVersion.withLock({ $0 }) else {
            return .unchanged
        }
        let blob: Data?
        do throws(StoreError) {
            blob = try await StoreBudget.run(configuration.storeBudget, timer: deadlines) { () async throws(StoreError) in
                try await store.policyBlob(version: version)
            }
        } catch {
            return storeFailure(error, operation: "policy_blob")
        }
        guard let blob else {
            return reject(version, reason: "the registry has no blob for the active version")
        }
        let engine: DecisionEngine
        switch await Self.load(blob, version: version, holder: holder) {
        case let .success(loaded): engine = loaded
        case let .failure(failure): return reject(version, reason: failure.reason)
        }
        let previous = holder.current?.version
        holder.swap(to: engine)
        rejectedVersion.withLock { $0 = nil }
        metrics?.policySwaps.increment()
        metrics?.recordPolicyVersion(version)
        logger.info("policy swapped", metadata: ["from": "\(previous ?? "none")", "to": "\(version)"])
        return .swapped(version: version)
    }

    struct LoadFailure: Error {
        var reason: String
    }

    /// Parses `blob` and builds its engine (O(d³), tens of milliseconds for the shipped
    /// policies) on NIO's blocking-work thread pool: `adload serve` runs Swift tasks on the
    /// event loops, and a loop busy loading would delay every request and Redis reply on it.
    static func load(_ blob: Data, version: String, holder: PolicyHolder) async -> Result<DecisionEngine, LoadFailure> {
        let work: @Sendable () -> Result<DecisionEngine, LoadFailure> = {
            do {
                let policy = try PolicyFile.parse(blob, file: "policy version \(version)", expectedSchema: holder.expectedSchema)
                return .success(try holder.makeEngine(policy: policy, version: version))
            } catch let error as ConfigError {
                return .failure(LoadFailure(reason: error.description))
            } catch let error as DecisionEngineError {
                return .failure(LoadFailure(reason: error.description))
            } catch {
                return .failure(LoadFailure(reason: "\(error)"))
            }
        }
        do {
            return try await NIOThreadPool.singleton.runIfActive(work)
        } catch {
            // The pool is shut down (process exit): load here rather than fail.
            return work()
        }
    }

    func reject(_ version: String, reason: String) -> PollOutcome {
        rejectedVersion.withLock { $0 = version }
        metrics?.policyLoadFailures.increment()
        logger.error("policy version does not load; keeping the current policy", metadata: [
            "version": "\(version)", "serving": "\(holder.current?.version ?? "none")", "reason": "\(reason)",
        ])
        return .rejected(version: version, reason: reason)
    }

    func storeFailure(_ error: StoreError, operation: String) -> PollOutcome {
        metrics?.recordStoreError(operation: operation, error: error)
        logger.debug("policy registry read failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
        return .storeError(error)
    }
}
