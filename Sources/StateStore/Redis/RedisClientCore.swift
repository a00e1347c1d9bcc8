import Foundation
import Logging

/// The shared state of a ``RedisClient`` and the loops of its threads.
///
/// **What guards what.** `lock` guards `state`, all of it: the request queue, the pending
/// requests with their continuations, the connection states, the counters and the shutdown
/// flag. Every read or write of `state` happens between `lock.lock()` and `lock.unlock()`.
/// The lock is never held across a hiredis call, a connect or a continuation resume.
/// Three conditions share it:
/// - `workAvailable`: idle connection threads wait for a request or shutdown;
/// - `reaperWake`: the deadline thread waits for the earliest deadline or an earlier one;
/// - `backoffWake`: threads between reconnect attempts wait out their backoff; broadcast
///   only at shutdown, so a request signal can never be swallowed by a backing-off thread.
///
/// **Exactly-once completion.** A request's continuation lives in `state.pending` until the
/// first of (its round trip completes, it fails, its deadline passes) removes it under the
/// lock; whoever removed it resumes it, once. The deadline thread guarantees every request
/// is removed eventually, so no caller waits forever.
///
/// `@unchecked Sendable` is safe because of the rule above: `state` is only touched under
/// `lock`, and everything else is immutable or itself thread-safe (the lock, the
/// conditions, `Logger`). Each ``RedisConnection`` is a local of one connection thread's
/// loop and never leaves it.
final class RedisClientCore: @unchecked Sendable {
    typealias Continuation = UnsafeContinuation<Result<[RedisReply], StoreError>, Never>

    enum ConnectionState: Equatable {
        /// First connect not finished yet: requests may queue.
        case starting
        /// Connected and serving.
        case up
        /// Reconnecting after a failure: does not accept requests.
        case reconnecting
        /// Waiting out a backoff.
        case down
        /// Thread exited.
        case stopped
    }

    struct Pending {
        var continuation: Continuation
        var deadline: ContinuousClock.Instant
        var commands: [[[UInt8]]]
        var inFlight = false
    }

    struct State {
        /// Request ids in arrival order; entries before `head` are taken.
        var queue: [UInt64] = []
        var head = 0
        /// Every request not completed yet, queued or in flight.
        var pending: [UInt64: Pending] = [:]
        var nextID: UInt64 = 0
        var connections: [ConnectionState]
        var lastError = "not connected yet"
        var shuttingDown = false
        var runningWorkers: Int
        var reaperRunning = true
        /// When the deadline thread will next wake on its own; `nil` while it waits for a request.
        var reaperWakeAt: ContinuousClock.Instant?
        var statistics = RedisClient.Statistics()
        var shutdownWaiters: [UnsafeContinuation<Void, Never>] = []

        var queuedCount: Int { queue.count - head }
        var isAccepting: Bool { connections.contains { $0 == .up || $0 == .starting } }
    }

    let configuration: RedisClient.Configuration
    let logger: Logger
    let clock = ContinuousClock()
    let lock = ThreadLock()
    let workAvailable = ThreadCondition()
    let reaperWake = ThreadCondition()
    let backoffWake = ThreadCondition()
    /// Guarded by `lock` (see the type's comment).
    var state: State

    init(configuration: RedisClient.Configuration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "redis.client"] = .string(configuration.name)
        logger[metadataKey: "redis.address"] = .string(configuration.address.description)
        self.logger = logger
        state = State(
            connections: Array(repeating: .starting, count: configuration.connections),
            runningWorkers: configuration.connections
        )
    }

    func startThreads() {
        // Names are set from inside each thread: on Linux only that reaches the OS thread
        // (what `top -H`, perf and gdb show).
        for index in 0..<configuration.connections {
            let name = "\(configuration.name)-\(index)"
            Thread { [self] in
                Thread.current.name = name
                runConnection(index)
            }.start()
        }
        let reaperName = "\(configuration.name)-deadlines"
        Thread { [self] in
            Thread.current.name = reaperName
            runDeadlines()
        }.start()
    }

    // MARK: Callers

    func submit(_ commands: [[[UInt8]]], timeout: Duration, continuation: Continuation) {
        let deadline = clock.now + timeout
        lock.lock()
        state.statistics.requests += 1
        var rejection: StoreError?
        if state.shuttingDown {
            rejection = .unavailable("Redis client `\(configuration.name)` is shut down")
        } else if timeout <= .zero {
            rejection = .timeout
            state.statistics.timeouts += 1
        } else if !state.isAccepting {
            rejection = .unavailable(
                "no connection to Redis at \(configuration.address) is up (last error: \(state.lastError))"
            )
        } else if state.queuedCount >= configuration.queueCapacity {
            rejection = .unavailable(
                "Redis client `\(configuration.name)` is overloaded: \(state.queuedCount) requests queued, "
                    + "capacity \(configuration.queueCapacity)"
            )
            state.statistics.rejected += 1
        }
        if let rejection {
            state.statistics.failedRequests += 1
            lock.unlock()
            continuation.resume(returning: .failure(rejection))
            return
        }
        let id = state.nextID
        state.nextID += 1
        state.pending[id] = Pending(continuation: continuation, deadline: deadline, commands: commands)
        state.queue.append(id)
        let wakeReaper = state.reaperWakeAt.map { deadline < $0 } ?? true
        if wakeReaper {
            state.reaperWakeAt = deadline
        }
        lock.unlock()
        workAvailable.signal()
        if wakeReaper {
            reaperWake.signal()
        }
    }

    func beginShutdown(waiter: UnsafeContinuation<Void, Never>?) {
        lock.lock()
        state.shuttingDown = true
        let finished = !state.reaperRunning
        if let waiter, !finished {
            state.shutdownWaiters.append(waiter)
        }
        lock.unlock()
        workAvailable.broadcast()
        backoffWake.broadcast()
        reaperWake.signal()
        if finished {
            waiter?.resume()
        }
    }

    func statisticsSnapshot() -> RedisClient.Statistics {
        lock.lock()
        defer { lock.unlock() }
        return state.statistics
    }

    func connectionsUp() -> Int {
        lock.lock()
        defer { lock.unlock() }
        return state.connections.count { $0 == .up }
    }

    // MARK: Connection threads

    /// The loop of connection thread `index`: connect, serve batches, reconnect after errors.
    func runConnection(_ index: Int) {
        var connection: RedisConnection?
        var backoff = Duration.zero
        var everConnected = false
        while true {
            if connection == nil {
                guard let connected = connect(index, everConnected: everConnected, backoff: &backoff) else {
                    lock.lock()
                    let stop = state.shuttingDown
                    lock.unlock()
                    if stop { break }
                    continue
                }
                connection = connected
                everConnected = true
            }
            guard let current = connection, let batch = nextBatch() else { break }
            if batch.ids.isEmpty { continue }
            do {
                let replies = try current.pipeline(batch.commands)
                complete(batch, replies: replies)
            } catch .invalidArgument(let message) {
                // Nothing was sent and the connection is intact (submit validates, so this
                // is not expected).
                complete(batch, failure: .failed("invalid Redis command: \(message)"))
            } catch {
                connection = nil
                fail(batch, connection: index, error: error)
            }
        }
        lock.lock()
        state.connections[index] = .stopped
        state.runningWorkers -= 1
        lock.unlock()
        reaperWake.signal()
    }

    /// Connects, or records the failure and waits out the backoff; `nil` on failure.
    private func connect(_ index: Int, everConnected: Bool, backoff: inout Duration) -> RedisConnection? {
        lock.lock()
        if state.shuttingDown {
            lock.unlock()
            return nil
        }
        if state.connections[index] != .starting {
            state.connections[index] = .reconnecting
        }
        lock.unlock()

        do {
            let connection = try RedisConnection(
                address: configuration.address,
                connectTimeout: configuration.connectTimeout,
                commandTimeout: configuration.commandTimeout
            )
            let recovered = everConnected || backoff > .zero
            lock.lock()
            state.connections[index] = .up
            if recovered {
                state.statistics.reconnects += 1
            }
            lock.unlock()
            if recovered {
                logger.info("Redis connection re-established", metadata: ["redis.connection": "\(index)"])
            }
            backoff = .zero
            return connection
        } catch {
            lock.lock()
            let firstFailure = state.connections[index] == .starting || backoff == .zero
            state.connections[index] = .down
            state.statistics.connectFailures += 1
            state.lastError = "\(error)"
            let failed = state.isAccepting ? [] : takeQueued()
            state.statistics.failedRequests += failed.count
            backoff = backoff == .zero ? configuration.initialBackoff : min(backoff * 2, configuration.maxBackoff)
            lock.unlock()
            let reason = StoreError.unavailable("no connection to Redis at \(configuration.address): \(error)")
            for continuation in failed {
                continuation.resume(returning: .failure(reason))
            }
            if firstFailure {
                logger.warning(
                    "cannot connect to Redis; retrying with backoff",
                    metadata: ["redis.connection": "\(index)", "error": "\(error)"]
                )
            }
            lock.lock()
            if !state.shuttingDown {
                backoffWake.wait(lock, timeout: backoff)
            }
            lock.unlock()
            return nil
        }
    }

    struct Batch {
        var ids: [UInt64] = []
        var commandCounts: [Int] = []
        var commands: [[[UInt8]]] = []
    }

    /// Waits for queued requests and takes up to `maxBatch` of them; `nil` to stop the thread.
    ///
    /// Requests already past their deadline are failed here rather than sent.
    private func nextBatch() -> Batch? {
        lock.lock()
        while state.queuedCount == 0 && !state.shuttingDown {
            workAvailable.wait(lock)
        }
        if state.queuedCount == 0 {
            lock.unlock()
            return nil
        }
        let now = clock.now
        var batch = Batch()
        var expired: [Continuation] = []
        while state.head < state.queue.count && batch.ids.count < configuration.maxBatch {
            let id = state.queue[state.head]
            state.head += 1
            guard let request = state.pending[id] else { continue }
            if request.deadline <= now {
                state.pending[id] = nil
                expired.append(request.continuation)
                continue
            }
            state.pending[id]?.inFlight = true
            state.pending[id]?.commands = []
            batch.ids.append(id)
            batch.commandCounts.append(request.commands.count)
            batch.commands.append(contentsOf: request.commands)
        }
        compactQueue()
        state.statistics.timeouts += expired.count
        state.statistics.failedRequests += expired.count
        if !batch.ids.isEmpty {
            state.statistics.roundTrips += 1
            state.statistics.commands += batch.commands.count
            state.statistics.batchedRequests += batch.ids.count
        }
        let moreQueued = state.queuedCount > 0
        lock.unlock()
        if moreQueued {
            workAvailable.signal()
        }
        for continuation in expired {
            continuation.resume(returning: .failure(.timeout))
        }
        return batch
    }

    /// Hands each request of `batch` its slice of `replies`, unless its deadline took it first.
    private func complete(_ batch: Batch, replies: [RedisReply]) {
        var done: [(Continuation, [RedisReply])] = []
        done.reserveCapacity(batch.ids.count)
        var offset = 0
        lock.lock()
        for (id, count) in zip(batch.ids, batch.commandCounts) {
            if let request = state.pending.removeValue(forKey: id) {
                done.append((request.continuation, Array(replies[offset..<offset + count])))
            }
            offset += count
        }
        lock.unlock()
        for (continuation, replies) in done {
            continuation.resume(returning: .success(replies))
        }
    }

    /// Fails every request of `batch` still pending with `failure`.
    private func complete(_ batch: Batch, failure: StoreError) {
        var failed: [Continuation] = []
        lock.lock()
        for id in batch.ids {
            if let request = state.pending.removeValue(forKey: id) {
                failed.append(request.continuation)
            }
        }
        state.statistics.failedRequests += failed.count
        lock.unlock()
        for continuation in failed {
            continuation.resume(returning: .failure(failure))
        }
    }

    /// Fails the requests of a round trip that broke its connection, and the queue too if no
    /// connection is left to serve it.
    private func fail(_ batch: Batch, connection index: Int, error: RedisError) {
        let reason: StoreError
        if case .timeout = error {
            reason = .timeout
        } else {
            reason = .unavailable("Redis connection to \(configuration.address) failed: \(error)")
        }
        var inFlight: [Continuation] = []
        lock.lock()
        for id in batch.ids {
            if let request = state.pending.removeValue(forKey: id) {
                inFlight.append(request.continuation)
            }
        }
        state.connections[index] = .down
        state.lastError = "\(error)"
        state.statistics.connectionErrors += 1
        state.statistics.failedRequests += inFlight.count
        if reason == .timeout {
            state.statistics.timeouts += inFlight.count
        }
        let queued = state.isAccepting ? [] : takeQueued()
        state.statistics.failedRequests += queued.count
        lock.unlock()
        logger.warning(
            "Redis connection lost; reconnecting",
            metadata: ["redis.connection": "\(index)", "error": "\(error)", "failed.requests": "\(inFlight.count)"]
        )
        for continuation in inFlight {
            continuation.resume(returning: .failure(reason))
        }
        let unavailable = StoreError.unavailable("no connection to Redis at \(configuration.address) is up: \(error)")
        for continuation in queued {
            continuation.resume(returning: .failure(unavailable))
        }
    }

    /// Removes every queued (not in-flight) request; the caller holds the lock and resumes them.
    private func takeQueued() -> [Continuation] {
        var taken: [Continuation] = []
        for id in state.queue[state.head...] {
            if let request = state.pending.removeValue(forKey: id) {
                taken.append(request.continuation)
            }
        }
        state.queue.removeAll(keepingCapacity: true)
        state.head = 0
        return taken
    }

    /// Drops taken ids from the front of the queue; the caller holds the lock.
    private func compactQueue() {
        if state.head == state.queue.count {
            state.queue.removeAll(keepingCapacity: true)
            state.head = 0
        } else if state.head >= 1024 && state.head * 2 >= state.queue.count {
            state.queue.removeFirst(state.head)
            state.head = 0
        }
    }

    // MARK: Deadline thread

    /// Fails requests at their deadlines; after shutdown, once the connection threads have
    /// exited, fails whatever is left and resumes the shutdown waiters.
    func runDeadlines() {
        lock.lock()
        while true {
            let now = clock.now
            var expiredIDs: [UInt64] = []
            var earliest: ContinuousClock.Instant?
            for (id, request) in state.pending {
                if request.deadline <= now {
                    expiredIDs.append(id)
                } else if earliest.map({ request.deadline < $0 }) ?? true {
                    earliest = request.deadline
                }
            }
            var expired: [Continuation] = []
            var expiredQueued = false
            for id in expiredIDs {
                if let request = state.pending.removeValue(forKey: id) {
                    expired.append(request.continuation)
                    expiredQueued = expiredQueued || !request.inFlight
                }
            }
            if expiredQueued {
                state.queue = state.queue[state.head...].filter { state.pending[$0] != nil }
                state.head = 0
            }
            state.statistics.timeouts += expired.count
            state.statistics.failedRequests += expired.count

            if state.shuttingDown && state.runningWorkers == 0 {
                let leftovers = takeQueued() + state.pending.values.map(\.continuation)
                state.pending.removeAll()
                state.statistics.failedRequests += leftovers.count
                state.reaperRunning = false
                let waiters = state.shutdownWaiters
                state.shutdownWaiters.removeAll()
                lock.unlock()
                for continuation in expired {
                    continuation.resume(returning: .failure(.timeout))
                }
                let reason = StoreError.unavailable("Redis client `\(configuration.name)` is shut down")
                for continuation in leftovers {
                    continuation.resume(returning: .failure(reason))
                }
                for waiter in waiters {
                    waiter.resume()
                }
                return
            }
            if !expired.isEmpty {
                lock.unlock()
                for continuation in expired {
                    continuation.resume(returning: .failure(.timeout))
                }
                lock.lock()
                continue
            }
            state.reaperWakeAt = earliest
            if let earliest {
                reaperWake.wait(lock, timeout: earliest - now)
            } else {
                reaperWake.wait(lock)
            }
        }
    }
}
