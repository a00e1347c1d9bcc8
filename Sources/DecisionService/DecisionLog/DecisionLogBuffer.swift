import AdLoadCore
import Logging
import ServiceLifecycle
import StateStore
import Synchronization

/// Takes decisions off the request path: requests append here, and the buffer's
/// ``run()`` (a ServiceLifecycle `Service`) writes them to the store's decision stream in
/// batches every ``Configuration/flushInterval``.
///
/// - While the store is down entries stay buffered, in order, and are written once it
///   returns (retrying every ``Configuration/retryDelay``).
/// - The buffer is bounded by ``Configuration/capacity`` entries, counting those being
///   written. When it is full the **newest** decision is dropped (and counted in
///   `adload_decision_buffer_dropped_total`): appending stays O(1) and never disturbs a
///   batch in flight, and the decisions already waiting, which are older and whose
///   feedback is more likely complete, are kept.
/// - On graceful shutdown it flushes everything still buffered, retrying for up to
///   ``Configuration/shutdownDeadline``; whatever cannot be written by then is logged as lost.
/// - Delivery is at least once: a write that times out may still have landed, and is retried.
///
/// Its pauses, deadlines and write budgets are measured on ``clock``.
package final class DecisionLogBuffer: Service, Sendable {
    /// Buffer size and flush timing.
    package struct Configuration: Sendable {
        /// Most decisions held, written or not yet (default 100 000).
        package var capacity: Int
        /// Pause between flushes when the last one succeeded (default 5 ms).
        var flushInterval: Duration
        /// Most decisions per `recordDecisions` call (default 1000).
        package var maxBatch: Int
        /// Time one write may take before it counts as failed (default 1 s).
        var writeBudget: Duration
        /// Pause before retrying after a failed write (default 100 ms).
        var retryDelay: Duration
        /// How long shutdown keeps retrying to write what is left (default 5 s).
        var shutdownDeadline: Duration

        /// Creates a configuration.
        package init(
            capacity: Int = 100_000, flushInterval: Duration = .milliseconds(5), maxBatch: Int = 1000,
            writeBudget: Duration = .seconds(1), retryDelay: Duration = .milliseconds(100), shutdownDeadline: Duration = .seconds(5)
        ) {
            self.capacity = max(1, capacity)
            self.flushInterval = flushInterval
            self.maxBatch = max(1, maxBatch)
            self.writeBudget = writeBudget
            self.retryDelay = retryDelay
            self.shutdownDeadline = shutdownDeadline
        }
    }

    struct State {
        var entries: [DecisionEntry] = []
        var inFlight = 0
        var flushing = false
        var dropped = 0
    }

    /// The configuration.
    let configuration: Configuration
    let store: any LiveStore
    let metrics: ServiceMetrics?
    let logger: Logger
    let state = Mutex(State())
    /// The clock of the flush pauses, the shutdown deadline and the write budgets.
    let clock: any TimeSource
    /// The deadlines of the write budgets, on ``clock``.
    let deadlines: DeadlineTimer

    /// Creates an empty buffer writing to `store`.
    /// - Parameter clock: Measures the pauses, the shutdown deadline and the write budgets
    ///   (tests pass a manual clock).
    init(
        store: any LiveStore, configuration: Configuration = .init(), metrics: ServiceMetrics? = nil, logger: Logger,
        clock: any TimeSource = SystemClock()
    ) {
        self.store = store
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        deadlines = DeadlineTimer(tick: .milliseconds(1), clock: clock)
    }

    /// Queues a decision for the stream.
    /// - Returns: `false` if the buffer was full and the decision was dropped.
    /// - Complexity: amortized O(1), one lock round trip.
    @discardableResult
    func append(_ entry: DecisionEntry) -> Bool {
        let capacity = configuration.capacity
        let (accepted, count) = state.withLock { state -> (Bool, Int) in
            guard state.entries.count + state.inFlight < capacity else {
                state.dropped += 1
                return (false, state.entries.count + state.inFlight)
            }
            state.entries.append(entry)
            return (true, state.entries.count + state.inFlight)
        }
        if accepted {
            metrics?.bufferEntries.set(to: Double(count))
        } else {
            metrics?.bufferDropped.increment()
        }
        return accepted
    }

    /// Decisions waiting or being written.
    var count: Int { state.withLock { $0.entries.count + $0.inFlight } }

    /// Decisions dropped because the buffer was full, since start.
    var droppedCount: Int { state.withLock { $0.dropped } }

    /// Writes everything buffered now, in batches of at most ``Configuration/maxBatch``.
    ///
    /// Only one flush runs at a time; a call made while another runs returns `false` at once.
    /// - Returns: `true` when everything taken was written; on a failure the unwritten
    ///   entries go back to the front of the buffer, in order. With sharded streams, a shard
    ///   whose write failed keeps its entries and the other shards are still written.
    @discardableResult
    func flush() async -> Bool {
        let batch = state.withLock { state -> [DecisionEntry]? in
            guard !state.flushing else { return nil }
            state.flushing = true
            let batch = state.entries
            state.entries = []
            state.inFlight = batch.count
            return batch
        }
        guard let batch else { return false }
        // One run of chunks per stream shard (Redis Cluster), all shards at once: a master
        // that is down or hangs holds back only its shards' decisions (for at most the write
        // budget), and the other shards are written once, not again on retry.
        let shards = Dictionary(grouping: batch.indices) { store.streamShard(ofUser: batch[$0].userID) ?? -1 }
        let results = await withTaskGroup(of: (unwritten: [Int], failure: StoreError?).self) { group in
            for indices in shards.values {
                group.addTask { await self.write(indices, of: batch) }
            }
            return await group.reduce(into: [(unwritten: [Int], failure: StoreError?)]()) { $0.append($1) }
        }
        let unwritten = results.flatMap(\.unwritten)
        let failure = results.lazy.compactMap(\.failure).first
        let remaining = unwritten.sorted().map { batch[$0] }
        let count = state.withLock { state -> Int in
            if !remaining.isEmpty { state.entries.insert(contentsOf: remaining, at: 0) }
            state.inFlight = 0
            state.flushing = false
            return state.entries.count
        }
        metrics?.bufferEntries.set(to: Double(count))
        if let failure {
            metrics?.recordStoreError(operation: "record_decisions", error: failure)
            logger.debug("decision stream write failed; entries stay buffered", metadata: [
                "error": "\(failure)", "buffered": "\(count)",
            ])
            return false
        }
        return true
    }

    /// Writes the decisions of one stream shard (`indices` into `batch`) in chunks of at most
    /// ``Configuration/maxBatch``, stopping at the first failure.
    /// - Returns: the indices not written, and the failure that stopped the writes.
    private func write(_ indices: [Int], of batch: [DecisionEntry]) async -> (unwritten: [Int], failure: StoreError?) {
        let store = store
        var written = 0
        while written < indices.count {
            let end = min(indices.count, written + configuration.maxBatch)
            let chunk = indices[written..<end].map { batch[$0] }
            do throws(StoreError) {
                try await StoreBudget.run(configuration.writeBudget, timer: deadlines) { () async throws(StoreError) in
                    try await store.recordDecisions(chunk)
                }
            } catch {
                return (Array(indices[written...]), error)
            }
            written = end
            state.withLock { $0.inFlight -= chunk.count }
            metrics?.decisionsWritten.increment(by: Int64(chunk.count))
        }
        return ([], nil)
    }

    /// Flushes every ``Configuration/flushInterval`` until graceful shutdown, then drains
    /// the buffer (see the type's documentation).
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let flushed = count == 0 ? true : await flush()
            let delay = flushed ? configuration.flushInterval : configuration.retryDelay
            let clock = clock
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: delay) }
        }
        await drain()
    }

    /// Writes what is left, retrying until ``Configuration/shutdownDeadline``.
    func drain() async {
        let deadline = clock.now + configuration.shutdownDeadline
        while count > 0 {
            if await flush() { continue }
            guard clock.now < deadline, !Task.isCancelled else { break }
            try? await clock.sleep(for: configuration.retryDelay)
        }
        let lost = count
        if lost > 0 {
            logger.error("decisions could not be written to the decision stream before shutdown", metadata: ["lost": "\(lost)"])
        } else {
            logger.debug("decision buffer flushed")
        }
    }
}
