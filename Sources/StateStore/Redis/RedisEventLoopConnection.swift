import CHiredis
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One non-blocking Redis connection living on one SwiftNIO event loop: requests are
/// written as they come (pipelined), replies are parsed by hiredis's reply reader as bytes
/// arrive, and each request's continuation is resumed on the loop.
///
/// It keeps the contract of the thread-based connections of ``RedisClient``: per-request
/// deadlines, a command timeout that breaks a connection whose oldest request waits too
/// long, immediate failure while no connection is up, reconnect with exponential backoff,
/// bounded queue, and a shutdown that lets sent requests finish.
///
/// `@unchecked Sendable` is safe because every stored `var` is read and written only on
/// `eventLoop`: callers hop there (`submit` and `beginShutdown` run inside
/// `eventLoop.execute` unless already on it), NIO runs the channel handler, the bootstrap
/// callbacks and the scheduled tasks there, and `preconditionInEventLoop` guards the entry
/// points in debug builds. `shared` (status and counters, read from any thread) is a `Mutex`.
final class RedisEventLoopConnection: @unchecked Sendable {
    typealias Continuation = UnsafeContinuation<Result<[RedisReply], StoreError>, Never>

    enum Status: Equatable {
        /// First connection attempt not finished: requests are queued until it is.
        case starting
        /// Connected and serving.
        case up
        /// Reconnecting after a failure or waiting out a backoff: requests fail at once.
        case down
        /// Shut down.
        case stopped
    }

    struct Shared {
        var status = Status.starting
        var statistics = RedisClient.Statistics()
        var lastError = "not connected yet"
    }

    /// A request (or the connection's handshake) whose replies have not all arrived.
    private struct Pending {
        enum Waiter {
            case caller(Continuation)
            case handshake
        }

        /// `nil` once the caller has been answered (deadline passed): its replies are read and dropped.
        var waiter: Waiter?
        var expected: Int
        var replies: [RedisReply] = []
        var deadline: NIODeadline
        /// When its bytes were written; the oldest pending request older than the command
        /// timeout breaks the connection.
        var sentAt: NIODeadline
        /// The request's bytes while the first connection is under way (not sent yet).
        var unsent: ByteBuffer?
    }

    let eventLoop: any EventLoop
    let index: Int
    private let configuration: RedisClient.Configuration
    private let logger: Logger
    private let shared = Mutex(Shared())

    private var channel: (any Channel)?
    private var reader: UnsafeMutablePointer<redisReader>?
    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private var unflushedRequests = 0
    private var unflushedCommands = 0
    private var flushScheduled = false
    private var sweep: Scheduled<Void>?
    private var sweepAt: NIODeadline?
    private var reconnect: Scheduled<Void>?
    private var backoff = Duration.zero
    private var everConnected = false
    private var shuttingDown = false
    private var shutdownWaiters: [UnsafeContinuation<Void, Never>] = []

    init(index: Int, eventLoop: any EventLoop, configuration: RedisClient.Configuration, logger: Logger) {
        self.index = index
        self.eventLoop = eventLoop
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "redis.connection"] = "\(index)"
        self.logger = logger
    }

    deinit {
        if let reader { redisReaderFree(reader) }
    }

    /// Starts the first connection attempt.
    func start() {
        eventLoop.execute { self.connect() }
    }

    var status: Status { shared.withLock { $0.status } }
    var statistics: RedisClient.Statistics { shared.withLock { $0.statistics } }
    var lastError: String { shared.withLock { $0.lastError } }

    /// Whether a request given now would be served or queued rather than failed at once.
    var isAccepting: Bool {
        let status = status
        return status == .up || status == .starting
    }

    // MARK: Requests

    /// Sends a request's encoded commands, or answers it at once with why it cannot be
    /// sent. Runs on the loop.
    func submit(_ bytes: ByteBuffer, commandCount: Int, deadline: NIODeadline, continuation: Continuation) {
        eventLoop.preconditionInEventLoop()
        let status = shared.withLock { shared -> Status in
            shared.statistics.requests += 1
            return shared.status
        }
        let now = NIODeadline.now()
        var rejection: StoreError?
        var overloaded = false
        if shuttingDown || status == .stopped {
            rejection = .unavailable("Redis client `\(configuration.name)` is shut down")
        } else if deadline <= now {
            rejection = .timeout
        } else if status == .down {
            rejection = .unavailable("no connection to Redis at \(configuration.address) is up (last error: \(lastError))")
        } else if pending.count > configuration.queueCapacity {
            overloaded = true
            // The oldest pending request is the one being answered; the rest wait behind it,
            // like the requests queued for a busy connection thread.
            rejection = .unavailable(
                "Redis client `\(configuration.name)` is overloaded: \(pending.count - 1) requests queued on connection "
                    + "\(index), capacity \(configuration.queueCapacity)")
        }
        if let rejection {
            shared.withLock {
                $0.statistics.failedRequests += 1
                if rejection == .timeout { $0.statistics.timeouts += 1 }
                if overloaded { $0.statistics.rejected += 1 }
            }
            continuation.resume(returning: .failure(rejection))
            return
        }
        let wasIdle = pending.isEmpty
        if status == .up, let channel {
            pending.append(Pending(waiter: .caller(continuation), expected: commandCount, deadline: deadline, sentAt: now))
            channel.write(bytes, promise: nil)
            unflushedRequests += 1
            unflushedCommands += commandCount
            scheduleFlush()
        } else {
            pending.append(
                Pending(waiter: .caller(continuation), expected: commandCount, deadline: deadline, sentAt: now, unsent: bytes))
        }
        armSweep(at: wasIdle ? min(deadline, now + TimeAmount(configuration.commandTimeout)) : deadline)
    }

    /// Flushes once the loop has run what is already queued, so requests made in the same
    /// loop iteration share one write (one network round trip).
    private func scheduleFlush() {
        if flushScheduled { return }
        flushScheduled = true
        eventLoop.execute { self.flushNow() }
    }

    private func flushNow() {
        flushScheduled = false
        guard unflushedRequests > 0, let channel else { return }
        let requests = unflushedRequests
        let commands = unflushedCommands
        unflushedRequests = 0
        unflushedCommands = 0
        channel.flush()
        shared.withLock {
            $0.statistics.roundTrips += 1
            $0.statistics.batchedRequests += requests
            $0.statistics.commands += commands
        }
    }

    // MARK: Replies

    /// Feeds bytes from `source` to the reply reader and hands out every complete reply.
    fileprivate func received(_ buffer: ByteBuffer, from source: any Channel) {
        guard let channel, channel === source, let reader else { return }
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        guard fed == REDIS_OK else {
            breakConnection(failure: .unavailable("Redis protocol error: \(readerError(reader))"), reason: "protocol error")
            return
        }
        while self.channel === source, self.reader == reader {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                breakConnection(failure: .unavailable("Redis protocol error: \(readerError(reader))"), reason: "protocol error")
                return
            }
            guard let raw else { return }
            let reply = RedisReply(hiredis: raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            guard let reply else {
                breakConnection(failure: .unavailable("Redis protocol error: a reply of unknown type"), reason: "protocol error")
                return
            }
            deliver(reply)
        }
    }

    private func readerError(_ reader: UnsafeMutablePointer<redisReader>) -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private func deliver(_ reply: RedisReply) {
        guard !pending.isEmpty else {
            breakConnection(failure: .unavailable("Redis sent a reply nobody asked for"), reason: "unexpected reply")
            return
        }
        let head = pending.startIndex
        pending[head].replies.append(reply)
        guard pending[head].replies.count == pending[head].expected else { return }
        let done = pending.removeFirst()
        switch done.waiter {
        case let .caller(continuation):
            continuation.resume(returning: .success(done.replies))
        case .handshake:
            if let error = done.replies.compactMap(\.errorMessage).first {
                connectFailed("the connection handshake (\(handshakeNames)) failed: \(error)")
            } else {
                becameUp()
            }
        case nil:
            break
        }
        if shuttingDown && pending.isEmpty { finishShutdown() }
    }

    // MARK: Deadlines

    private func armSweep(at instant: NIODeadline) {
        if let sweepAt, sweepAt <= instant { return }
        sweep?.cancel()
        sweepAt = instant
        sweep = eventLoop.scheduleTask(deadline: instant) { self.runSweep() }
    }

    /// Answers requests whose deadline has passed with a timeout, and breaks the connection
    /// when its oldest request has waited longer than the command timeout.
    private func runSweep() {
        sweep = nil
        sweepAt = nil
        let now = NIODeadline.now()
        let commandTimeout = TimeAmount(configuration.commandTimeout)
        if channel != nil, let head = pending.first, head.sentAt + commandTimeout <= now {
            breakConnection(failure: .timeout, reason: "no reply within the command timeout \(configuration.commandTimeout)")
            return
        }
        var expired = 0
        var next: NIODeadline?
        for position in pending.indices {
            guard case let .caller(continuation) = pending[position].waiter else { continue }
            if pending[position].deadline <= now {
                pending[position].waiter = nil
                continuation.resume(returning: .failure(.timeout))
                expired += 1
            } else {
                next = min(next ?? pending[position].deadline, pending[position].deadline)
            }
        }
        if expired > 0 {
            shared.withLock {
                $0.statistics.timeouts += expired
                $0.statistics.failedRequests += expired
            }
        }
        if channel != nil, let head = pending.first {
            next = min(next ?? head.sentAt + commandTimeout, head.sentAt + commandTimeout)
        }
        if let next { armSweep(at: next) }
    }

    // MARK: Connection lifecycle

    private func connect() {
        reconnect = nil
        guard !shuttingDown else { return }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisReplyHandler(connection: self))
                }
            }
        bootstrap.connect(host: configuration.address.host, port: configuration.address.port).whenComplete { result in
            switch result {
            case let .success(channel): self.connected(channel)
            case let .failure(error as NIOConnectionError):
                let cause = error.connectionErrors.first?.error
                self.connectFailed((cause as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(cause ?? error)")
            case let .failure(error): self.connectFailed("\(error)")
            }
        }
    }

    private func connected(_ channel: any Channel) {
        guard !shuttingDown else {
            channel.close(promise: nil)
            finishShutdown()
            return
        }
        self.channel = channel
        if let reader { redisReaderFree(reader) }
        reader = redisReaderCreate()
        // The connection counts as up only once the server has answered, so a server that
        // accepts and then closes (or refuses with an error) is retried with backoff.
        var handshake: [[[UInt8]]] = []
        let address = configuration.address
        if let password = address.password {
            handshake.append((address.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]).map { Array($0.utf8) })
        }
        if address.database != 0 {
            handshake.append([Array("SELECT".utf8), Array(String(address.database).utf8)])
        }
        handshake.append([Array("PING".utf8)])
        let now = NIODeadline.now()
        let limit = now + TimeAmount(configuration.commandTimeout)
        pending.prepend(Pending(waiter: .handshake, expected: handshake.count, deadline: limit, sentAt: now))
        channel.writeAndFlush(RedisEventLoopPool.encode(handshake, allocator: channel.allocator), promise: nil)
        armSweep(at: limit)
    }

    /// The commands of the handshake, for error messages.
    private var handshakeNames: String {
        let address = configuration.address
        return ((address.password == nil ? [] : ["AUTH"]) + (address.database == 0 ? [] : ["SELECT"]) + ["PING"])
            .joined(separator: "/")
    }

    private func becameUp() {
        let recovered = everConnected || backoff > .zero
        everConnected = true
        backoff = .zero
        shared.withLock {
            $0.status = .up
            if recovered { $0.statistics.reconnects += 1 }
        }
        if recovered { logger.info("Redis connection re-established") }
        guard let channel, !pending.isEmpty else { return }
        // Requests queued during the first connect: send those still waiting; those whose
        // deadline passed were answered with a timeout and are never sent.
        let now = NIODeadline.now()
        var live = CircularBuffer<Pending>(initialCapacity: pending.count)
        while var entry = pending.popFirst() {
            guard entry.waiter != nil, let bytes = entry.unsent else { continue }
            entry.unsent = nil
            entry.sentAt = now
            channel.write(bytes, promise: nil)
            unflushedRequests += 1
            unflushedCommands += entry.expected
            live.append(entry)
        }
        pending = live
        flushNow()
        if let head = pending.first { armSweep(at: head.sentAt + TimeAmount(configuration.commandTimeout)) }
    }

    private func connectFailed(_ message: String) {
        if let channel {
            self.channel = nil
            channel.close(promise: nil)
        }
        if shuttingDown {
            finishShutdown()
            return
        }
        let error = RedisError.connectionFailed(host: configuration.address.host, port: configuration.address.port, message: message)
        let firstFailure = backoff == .zero
        backoff = backoff == .zero ? configuration.initialBackoff : min(backoff * 2, configuration.maxBackoff)
        shared.withLock {
            $0.status = .down
            $0.statistics.connectFailures += 1
            $0.lastError = "\(error)"
        }
        // Requests queued on this connection during its first attempt fail with it (other
        // connections of the pool are not asked to take them over).
        failAll(.unavailable("no connection to Redis at \(configuration.address): \(error)"))
        if firstFailure {
            logger.warning("cannot connect to Redis; retrying with backoff", metadata: ["error": "\(error)"])
        }
        reconnect = eventLoop.scheduleTask(in: TimeAmount(backoff)) { self.connect() }
    }

    /// Closes the current connection after an error: answers every pending request with
    /// `failure` and reconnects at once (backoff applies if that attempt fails).
    fileprivate func breakConnection(failure: StoreError, reason: String, source: (any Channel)? = nil) {
        guard let current = channel, source == nil || current === source else { return }
        if shared.withLock({ $0.status }) != .up {
            // Lost during the handshake: a failed connection attempt, not a broken connection.
            connectFailed(reason)
            return
        }
        channel = nil
        current.close(promise: nil)
        shared.withLock {
            $0.status = shuttingDown ? .stopped : .down
            $0.statistics.connectionErrors += 1
            $0.lastError = reason
        }
        failAll(failure)
        logger.warning("Redis connection lost; reconnecting", metadata: ["reason": "\(reason)"])
        if shuttingDown {
            finishShutdown()
        } else {
            connect()
        }
    }

    private func failAll(_ failure: StoreError) {
        var failed = 0
        while let entry = pending.popFirst() {
            if case let .caller(continuation) = entry.waiter {
                continuation.resume(returning: .failure(failure))
                failed += 1
            }
        }
        unflushedRequests = 0
        unflushedCommands = 0
        if failed > 0 {
            shared.withLock {
                $0.statistics.failedRequests += failed
                if failure == .timeout { $0.statistics.timeouts += failed }
            }
        }
    }

    // MARK: Shutdown

    /// Stops taking requests; the connection closes once the requests already sent are
    /// answered (or fail). Runs on the loop; `waiter` is resumed when closed.
    func beginShutdown(waiter: UnsafeContinuation<Void, Never>?) {
        eventLoop.preconditionInEventLoop()
        if let waiter { shutdownWaiters.append(waiter) }
        if shared.withLock({ $0.status }) == .stopped && channel == nil {
            resumeShutdownWaiters()
            return
        }
        shuttingDown = true
        reconnect?.cancel()
        reconnect = nil
        if channel == nil || pending.isEmpty { finishShutdown() }
    }

    private func finishShutdown() {
        sweep?.cancel()
        sweep = nil
        sweepAt = nil
        failAll(.unavailable("Redis client `\(configuration.name)` is shut down"))
        if let channel {
            self.channel = nil
            channel.close(promise: nil)
        }
        if let reader {
            redisReaderFree(reader)
            self.reader = nil
        }
        shared.withLock { $0.status = .stopped }
        resumeShutdownWaiters()
    }

    private func resumeShutdownWaiters() {
        let waiters = shutdownWaiters
        shutdownWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}

/// Passes a Redis connection's inbound bytes and its closing to its ``RedisEventLoopConnection``.
private final class RedisReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: RedisEventLoopConnection

    init(connection: RedisEventLoopConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data), from: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.breakConnection(
            failure: .unavailable("the Redis server closed the connection"), reason: "the server closed the connection",
            source: context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.breakConnection(
            failure: .unavailable("Redis I/O error: \(error)"), reason: "I/O error: \(error)", source: context.channel)
    }
}

/// The connections of a ``RedisClient`` using ``RedisTransport/eventLoops(_:)``: spread
/// round-robin over the group's loops; a request made on one of those loops goes to a
/// connection on the same loop, so its reply resumes it without a thread switch.
final class RedisEventLoopPool: Sendable {
    let connections: [RedisEventLoopConnection]
    private let nextIndex = Atomic<Int>(0)

    init(configuration: RedisClient.Configuration, group: MultiThreadedEventLoopGroup, logger: Logger) {
        var loops: [any EventLoop] = []
        for loop in group.makeIterator() { loops.append(loop) }
        if loops.isEmpty { loops = [group.next()] }
        var logger = logger
        logger[metadataKey: "redis.client"] = .string(configuration.name)
        logger[metadataKey: "redis.address"] = .string(configuration.address.description)
        connections = (0..<configuration.connections).map {
            RedisEventLoopConnection(index: $0, eventLoop: loops[$0 % loops.count], configuration: configuration, logger: logger)
        }
        for connection in connections { connection.start() }
    }

    /// A connection on the calling thread's loop if it takes requests, else the next one
    /// (round-robin) that does, else any (which then says why it cannot serve).
    private func pick() -> RedisEventLoopConnection {
        if let current = MultiThreadedEventLoopGroup.currentEventLoop {
            for connection in connections where connection.eventLoop === current && connection.isAccepting {
                return connection
            }
        }
        let start = nextIndex.add(1, ordering: .relaxed).oldValue
        for offset in 0..<connections.count {
            let connection = connections[(start &+ offset) % connections.count]
            if connection.isAccepting { return connection }
        }
        return connections[start % connections.count]
    }

    func execute(_ commands: [[[UInt8]]], timeout: Duration) async -> Result<[RedisReply], StoreError> {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let connection = pick()
        let bytes = Self.encode(commands, allocator: ByteBufferAllocator())
        return await withUnsafeContinuation { continuation in
            if connection.eventLoop.inEventLoop {
                connection.submit(bytes, commandCount: commands.count, deadline: deadline, continuation: continuation)
            } else {
                connection.eventLoop.execute {
                    connection.submit(bytes, commandCount: commands.count, deadline: deadline, continuation: continuation)
                }
            }
        }
    }

    /// Stops every connection at once and returns when all have closed.
    func shutdown() async {
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask {
                    await withUnsafeContinuation { continuation in
                        connection.eventLoop.execute { connection.beginShutdown(waiter: continuation) }
                    }
                }
            }
        }
    }

    func beginShutdown() {
        for connection in connections {
            connection.eventLoop.execute { connection.beginShutdown(waiter: nil) }
        }
    }

    var statistics: RedisClient.Statistics {
        connections.reduce(into: RedisClient.Statistics()) { $0.add($1.statistics) }
    }

    var connectionsUp: Int {
        connections.count { $0.status == .up }
    }

    /// The RESP encoding of `commands` (arrays of bulk strings: binary-safe, the same bytes
    /// hiredis's `redisFormatCommandArgv` produces).
    static func encode(_ commands: [[[UInt8]]], allocator: ByteBufferAllocator) -> ByteBuffer {
        var size = 0
        for command in commands {
            size += 16
            for argument in command { size += argument.count + 16 }
        }
        var buffer = allocator.buffer(capacity: size)
        for command in commands {
            buffer.writeInteger(UInt8(ascii: "*"))
            writeDecimal(command.count, to: &buffer)
            for argument in command {
                buffer.writeInteger(UInt8(ascii: "$"))
                writeDecimal(argument.count, to: &buffer)
                buffer.writeBytes(argument)
                buffer.writeInteger(UInt8(ascii: "\r"))
                buffer.writeInteger(UInt8(ascii: "\n"))
            }
        }
        return buffer
    }

    /// Writes `value` in decimal, then CRLF.
    private static func writeDecimal(_ value: Int, to buffer: inout ByteBuffer) {
        buffer.writeString(String(value))
        buffer.writeInteger(UInt8(ascii: "\r"))
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}
