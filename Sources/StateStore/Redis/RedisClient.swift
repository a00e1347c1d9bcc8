import Foundation
import Logging
import NIOPosix

/// How a ``RedisClient`` does its network I/O.
///
/// Why two: `adload serve` uses the event loops, which measured 0.50–0.52 of `/healthz`'s
/// throughput for `/v1/decide` against 0.47–0.49 with threads (12.1–14.1k vs 10.2–12.0k
/// decides/s, one quiet `scripts/bench-service` run alternating them 3 times, commit
/// 783e4e5; docs/benchmarks.md). Threads stay for callers that do not run on the loops:
/// `adload learn`'s stream client, which blocks on XREADGROUP, and the tests' clients.
package enum RedisTransport: Sendable {
    /// Blocking hiredis connections, each on a dedicated OS thread (the default): works for
    /// any caller, and a blocking command only ever holds its own connection's thread.
    case threads
    /// Non-blocking connections on the event loops of `group`, spread round-robin; hiredis's
    /// reply reader parses what arrives. A request made on one of those loops goes to a
    /// connection on the same loop, so when the caller's tasks run on the loops too (a
    /// server that installs SwiftNIO's loops as Swift's global executor) a round trip costs
    /// no thread switch. Commands are written as they come and flushed once per loop
    /// iteration, so concurrent requests share round trips. The group must outlive the client.
    case eventLoops(MultiThreadedEventLoopGroup)
}

/// An async Redis client over hiredis that lets concurrent requests share network round
/// trips, on dedicated OS threads (``RedisTransport/threads``, described below) or on
/// SwiftNIO event loops (``RedisTransport/eventLoops(_:)``).
///
/// ```swift
/// let client = RedisClient(configuration: .init(address: RedisAddress(host: "127.0.0.1")))
/// let replies = try await client.execute([["INCR", "visits"], ["GET", "visits"]], timeout: .milliseconds(50))
/// await client.shutdown()
/// ```
///
/// **Threads** (``RedisTransport/threads``). Each of ``Configuration/connections`` threads owns one ``RedisConnection``
/// and is the only thread that ever touches it; one more thread enforces deadlines. No
/// hiredis call runs on Swift's cooperative pool or on an event loop: `execute(_:timeout:)`
/// only enqueues the request and suspends.
///
/// **Pipelining.** Requests wait in one bounded FIFO queue. A connection thread that is
/// free takes everything queued (up to ``Configuration/maxBatch`` requests), sends all their
/// commands in one write, reads all replies, and hands each request its own replies. Under
/// load, many requests share one round trip; with a single request in flight this is one
/// ordinary round trip. A request's commands are sent together and answered in order; no
/// other request's commands come between them.
///
/// **Overload, deadlines and failures.**
/// - A full queue rejects new requests at once with ``StoreError/unavailable(_:)`` (the
///   message says the client is overloaded) rather than growing.
/// - Each request has its own deadline. A request still queued or in flight at its deadline
///   fails with ``StoreError/timeout`` at that moment, even if its connection is stuck; a
///   reply that arrives later is discarded. A request that timed out while in flight may
///   still have run on the server.
/// - A connection error (I/O, protocol, socket timeout) breaks that connection: the requests
///   in its round trip fail (``StoreError/unavailable(_:)``, or ``StoreError/timeout`` for a
///   socket timeout), and its thread reconnects with exponential backoff
///   (``Configuration/initialBackoff`` doubling up to ``Configuration/maxBackoff``). While no
///   connection is up, new requests fail at once instead of waiting; queued requests are
///   served by any connection still up, or failed when the last one goes down. Requests are
///   never retried: a failed request may or may not have run.
///
/// **Rules for requests.** Each request must leave a connection as it found it: a `MULTI`
/// closed by `EXEC` or `DISCARD` in the same request, no `SUBSCRIBE`, no `MONITOR`. A
/// blocking command (`XREADGROUP ... BLOCK`, `BLPOP`) holds its connection, and every request
/// pipelined behind it, for its whole block time; send those through a separate client,
/// and keep their block time below ``Configuration/commandTimeout``.
///
/// **Event loops** (``RedisTransport/eventLoops(_:)``). The same contract, with these
/// differences: a request's commands are written at once (pipelined behind earlier
/// requests on the connection) instead of waiting for a free connection, so
/// ``Configuration/queueCapacity`` bounds the requests waiting for replies on each
/// connection and ``Configuration/maxBatch`` does not apply; a connection breaks when its
/// oldest unanswered request has waited ``Configuration/commandTimeout``.
///
/// Task cancellation is not observed: a request completes, fails or times out.
package final class RedisClient: Sendable {
    /// How a ``RedisClient`` connects, how much it queues and how long it waits.
    package struct Configuration: Sendable {
        /// The server.
        package var address: RedisAddress
        /// Number of connections: each on its own thread, or spread round-robin over the event
        /// loops. Values below 1 count as 1.
        package var connections: Int
        /// Most requests waiting to be sent; more are rejected as overload. Values below 1 count as 1.
        var queueCapacity: Int
        /// Most requests one connection sends in one round trip. Values below 1 count as 1.
        package var maxBatch: Int
        /// Limit on establishing a TCP connection (and AUTH/SELECT).
        package var connectTimeout: Duration
        /// Limit on each socket read or write; a round trip slower than this breaks its
        /// connection. Keep it above the block time of any blocking command sent.
        package var commandTimeout: Duration
        /// Wait before the second reconnect attempt (the first is immediate).
        var initialBackoff: Duration
        /// Longest wait between reconnect attempts.
        var maxBackoff: Duration
        /// Names the threads (`<name>-0`, ...) and appears in errors and logs.
        package var name: String
        /// Dedicated threads (the default) or SwiftNIO event loops.
        package var transport: RedisTransport
        /// Redis Cluster nodes to learn the slot map from; empty (the default): ``address`` is
        /// one plain server. When set, every node gets a client of this configuration (see
        /// ``RedisClusterPool``), and ``address`` only supplies the user, password and host
        /// for nodes the map names without one.
        package var clusterSeeds: [RedisAddress] = []

        /// Creates a configuration; the defaults suit a decide path with a local Redis.
        package init(
            address: RedisAddress,
            connections: Int = 2,
            queueCapacity: Int = 4096,
            maxBatch: Int = 256,
            connectTimeout: Duration = .seconds(1),
            commandTimeout: Duration = .seconds(2),
            initialBackoff: Duration = .milliseconds(50),
            maxBackoff: Duration = .seconds(2),
            name: String = "redis",
            transport: RedisTransport = .threads
        ) {
            self.address = address
            self.connections = connections
            self.queueCapacity = queueCapacity
            self.maxBatch = maxBatch
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.name = name
            self.transport = transport
        }

        /// This configuration with counts raised to at least 1 and durations made positive.
        var normalized: Configuration {
            var copy = self
            copy.connections = max(1, connections)
            copy.queueCapacity = max(1, queueCapacity)
            copy.maxBatch = max(1, maxBatch)
            copy.connectTimeout = max(.milliseconds(1), connectTimeout)
            copy.commandTimeout = max(.milliseconds(1), commandTimeout)
            copy.initialBackoff = max(.milliseconds(1), initialBackoff)
            copy.maxBackoff = max(copy.initialBackoff, maxBackoff)
            return copy
        }
    }

    /// Counters since the client started; read them with ``statistics``.
    package struct Statistics: Sendable, Equatable {
        /// Calls to `execute` with at least one command.
        package var requests = 0
        /// Requests that ended in an error, whatever the reason (timeouts and rejections included).
        var failedRequests = 0
        /// Requests that failed with ``StoreError/timeout``.
        package var timeouts = 0
        /// Requests rejected because the queue was full.
        package var rejected = 0
        /// Pipelines written to a connection (network round trips).
        var roundTrips = 0
        /// Commands sent in those round trips.
        package var commands = 0
        /// Requests answered by those round trips (`requests / roundTrips` under load shows the batching).
        var batchedRequests = 0
        /// Established connections that broke (I/O, protocol or socket timeout errors).
        var connectionErrors = 0
        /// Failed connection attempts.
        var connectFailures = 0
        /// Connections established after a failure: a lost connection replaced, or a first
        /// connection that succeeded only after failed attempts.
        var reconnects = 0

        /// Creates zeroed counters.
        package init() {}

        /// Adds another pool's or connection's counters to these.
        mutating func add(_ part: Statistics) {
            requests += part.requests
            failedRequests += part.failedRequests
            timeouts += part.timeouts
            rejected += part.rejected
            roundTrips += part.roundTrips
            commands += part.commands
            batchedRequests += part.batchedRequests
            connectionErrors += part.connectionErrors
            connectFailures += part.connectFailures
            reconnects += part.reconnects
        }
    }

    /// The configuration in use, with out-of-range values already corrected.
    package let configuration: Configuration
    private let backend: Backend

    private enum Backend: Sendable {
        case threads(RedisClientCore)
        case eventLoops(RedisEventLoopPool)
        case cluster(RedisClusterPool)
    }

    /// The index of the cluster node that owns `key`'s slot in the slot map as last read;
    /// `nil` for a plain server or before the map is known.
    package func clusterNode(forKey key: String) -> Int? {
        guard case let .cluster(pool) = backend else { return nil }
        return pool.owner(ofSlot: RedisClusterRouting.slot(of: Array(key.utf8)))
    }

    /// Whether requests go to a Redis Cluster (``Configuration/clusterSeeds``).
    package var isCluster: Bool {
        if case .cluster = backend { true } else { false }
    }

    /// Starts the connection threads; they connect in the background.
    ///
    /// Requests made before the first connection attempt finishes wait in the queue (up to
    /// their deadlines); once every attempt has failed, requests fail at once.
    /// - Parameters:
    ///   - configuration: Address, pool size, queue size and timeouts.
    ///   - logger: Receives connection losses and reconnects.
    package init(configuration: Configuration, logger: Logger = Logger(label: "adload.redis")) {
        self.configuration = configuration.normalized
        if !configuration.clusterSeeds.isEmpty {
            backend = .cluster(RedisClusterPool(configuration: self.configuration, seeds: configuration.clusterSeeds, logger: logger))
            return
        }
        switch configuration.transport {
        case .threads:
            let core = RedisClientCore(configuration: self.configuration, logger: logger)
            core.startThreads()
            backend = .threads(core)
        case let .eventLoops(group):
            backend = .eventLoops(RedisEventLoopPool(configuration: self.configuration, group: group, logger: logger))
        }
    }

    deinit {
        switch backend {
        case let .threads(core): core.beginShutdown(waiter: nil)
        case let .eventLoops(pool): pool.beginShutdown()
        case .cluster: break
        }
    }

    /// Sends `commands` together as one pipeline and returns their replies in order.
    ///
    /// Error replies (`-ERR ...`, `-NOSCRIPT ...`) come back in place as
    /// ``RedisReply/error(_:)``; only failures of the transport throw.
    /// - Parameters:
    ///   - commands: The commands, each as its arguments' bytes (binary-safe).
    ///   - timeout: Deadline for the whole request, counted from now, queueing included.
    /// - Returns: One reply per command; `[]` for no commands.
    /// - Throws: ``StoreError/timeout`` at the deadline; ``StoreError/unavailable(_:)`` when no
    ///   connection is up, the connection broke, the queue is full or the client is shut
    ///   down; ``StoreError/failed(_:)`` for a command with no arguments (nothing is sent).
    func execute(_ commands: [[[UInt8]]], timeout: Duration) async throws(StoreError) -> [RedisReply] {
        if commands.isEmpty { return [] }
        for (index, command) in commands.enumerated() where command.isEmpty || Int32(exactly: command.count) == nil {
            throw .failed("command \(index) of \(commands.count) has \(command.count) arguments; nothing was sent")
        }
        switch backend {
        case let .threads(core):
            let result = await withUnsafeContinuation { continuation in
                core.submit(commands, timeout: timeout, continuation: continuation)
            }
            return try result.get()
        case let .eventLoops(pool):
            return try await pool.execute(commands, timeout: timeout).get()
        case let .cluster(pool):
            return try await pool.execute(commands, timeout: timeout)
        }
    }

    /// Sends `commands`, given as text, together as one pipeline; see
    /// `execute(_:timeout:)`.
    ///
    /// - Parameters:
    ///   - commands: The commands, each argument sent as its UTF-8 bytes.
    ///   - timeout: Deadline for the whole request, counted from now.
    /// - Returns: One reply per command, in order.
    /// - Throws: The same errors as the byte form.
    func execute(_ commands: [[String]], timeout: Duration) async throws(StoreError) -> [RedisReply] {
        try await execute(commands.map { $0.map { Array($0.utf8) } }, timeout: timeout)
    }

    /// Stops accepting requests, finishes what is queued on connections that are up, fails
    /// the rest with ``StoreError/unavailable(_:)``, and returns once every thread has exited.
    ///
    /// Safe to call more than once. A connection thread busy in a round trip or a connect
    /// attempt finishes it first, so this can take up to the command or connect timeout.
    package func shutdown() async {
        switch backend {
        case let .threads(core):
            await withUnsafeContinuation { continuation in
                core.beginShutdown(waiter: continuation)
            }
        case let .eventLoops(pool):
            await pool.shutdown()
        case let .cluster(pool):
            await pool.shutdown()
        }
    }

    /// A snapshot of the counters.
    package var statistics: Statistics {
        switch backend {
        case let .threads(core): core.statisticsSnapshot()
        case let .eventLoops(pool): pool.statistics
        case let .cluster(pool): pool.statistics
        }
    }

    /// Whether at least one connection is established (as far as the client knows: a
    /// connection the server closed is noticed on its next use).
    var isConnected: Bool {
        connectionsUp > 0
    }

    /// How many of the ``Configuration/connections`` are established (as far as the client knows).
    var connectionsUp: Int {
        switch backend {
        case let .threads(core): core.connectionsUp()
        case let .eventLoops(pool): pool.connectionsUp
        case let .cluster(pool): pool.connectionsUp
        }
    }
}
