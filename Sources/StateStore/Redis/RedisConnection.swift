import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One blocking connection to a Redis server, owning one hiredis `redisContext`.
///
/// **Blocking.** Every method blocks the calling thread on the network, for up to the
/// command timeout. Never call it on a SwiftNIO event loop or from Swift concurrency's
/// cooperative pool (an `async` function, a `Task`, an actor): a handful of slow replies
/// would stall every request sharing those threads. Call it from a dedicated thread (a
/// connection pool's dispatcher thread) or from `NIOThreadPool`.
///
/// **Confined to one thread at a time.** A `redisContext` is not thread-safe, so this type
/// is deliberately not `Sendable`: create it on the thread that uses it, or hand it over
/// with `sending`, and never use it from two threads at once.
///
/// **Binary-safe.** Commands go through `redisAppendCommandArgv` with explicit lengths; no
/// command string is ever built from input, and arguments may contain spaces, newlines
/// or NUL bytes.
///
/// **Errors.** An error reply from the server throws ``RedisError/server(message:)`` and
/// leaves the connection usable. An I/O, protocol or timeout error leaves the byte stream
/// in an unknown state: the connection reports ``isBroken`` and every later call throws
/// ``RedisError/connectionBroken(reason:)`` without sending anything. Replace a broken
/// connection with a new one.
///
/// **SIGPIPE.** hiredis writes with `write(2)`, which raises `SIGPIPE` when the server has
/// gone away, and that signal kills the process by default. The first connection made
/// therefore sets `SIGPIPE` to ignored if, and only if, it still has its default action,
/// so such a write fails with an I/O error instead.
package final class RedisConnection {
    /// The server this connection talks to.
    package let address: RedisAddress
    /// How long one command or pipeline may wait on a socket read or write.
    package let commandTimeout: Duration

    private let context: UnsafeMutablePointer<redisContext>
    private var failure: RedisError?

    /// Connects, authenticates and selects the database named in `address`.
    ///
    /// - Parameters:
    ///   - address: Host, port, database and optional credentials.
    ///   - connectTimeout: Limit on establishing the TCP connection.
    ///   - commandTimeout: Limit on each socket read or write once connected, including the
    ///     `AUTH` and `SELECT` sent here.
    /// - Throws: ``RedisError/connectionFailed(host:port:message:)`` if the server cannot be
    ///   reached or rejects `AUTH` or `SELECT`; ``RedisError/invalidArgument(_:)`` for a
    ///   timeout that is not positive.
    package init(
        address: RedisAddress,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) throws(RedisError) {
        let failed = { (message: String) in
            RedisError.connectionFailed(host: address.host, port: address.port, message: message)
        }
        guard let port = Int32(exactly: address.port), (1...65535).contains(port) else {
            throw failed("port \(address.port) is outside 1...65535")
        }
        guard let connectTimeval = Self.makeTimeval(connectTimeout) else {
            throw .invalidArgument("connect timeout must be positive, got \(connectTimeout)")
        }
        guard let commandTimeval = Self.makeTimeval(commandTimeout) else {
            throw .invalidArgument("command timeout must be positive, got \(commandTimeout)")
        }
        _ = ignoreSIGPIPEOnce

        guard let context = redisConnectWithTimeout(address.host, port, connectTimeval) else {
            throw failed("hiredis could not allocate a connection context")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw failed(message)
        }
        if redisSetTimeout(context, commandTimeval) != REDIS_OK || redisEnableKeepAlive(context) != REDIS_OK {
            let message = Self.errorString(context)
            redisFree(context)
            throw failed("cannot configure the socket: \(message)")
        }

        self.address = address
        self.commandTimeout = commandTimeout
        self.context = context

        // From here on, a throw releases self and deinit frees the context.
        if let password = address.password {
            let auth = address.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            do {
                _ = try command(auth)
            } catch {
                throw failed("AUTH\(address.username.map { " as user `\($0)`" } ?? "") failed: \(error)")
            }
        }
        if address.database != 0 {
            do {
                _ = try command(["SELECT", String(address.database)])
            } catch {
                throw failed("SELECT \(address.database) failed: \(error)")
            }
        }
    }

    deinit {
        redisFree(context)
    }

    /// Whether an I/O, protocol or timeout error has made this connection unusable.
    ///
    /// A pool checks this after an error and replaces the connection.
    var isBroken: Bool {
        failure != nil || context.pointee.err != 0
    }

    /// Sends one command and waits for its reply.
    ///
    /// - Parameter args: The command and its arguments, e.g. `["SET", key, value]`, each
    ///   sent as its UTF-8 bytes.
    /// - Returns: The reply; never ``RedisReply/error(_:)``.
    /// - Throws: ``RedisError/server(message:)`` for an error reply (the connection stays
    ///   usable), or an I/O, protocol, timeout or broken-connection error.
    package func command(_ args: [String]) throws(RedisError) -> RedisReply {
        let buffer = try RedisCommandBuffer(CollectionOfOne(args.lazy.map(\.utf8)))
        return try roundTrip(buffer)[0].checked()
    }

    /// Sends one command given as raw bytes and waits for its reply.
    ///
    /// - Parameter args: The command and its arguments as bytes; any byte values are allowed.
    /// - Returns: The reply; never ``RedisReply/error(_:)``.
    /// - Throws: The same errors as ``command(_:)-([String])``.
    package func command(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        let buffer = try RedisCommandBuffer(CollectionOfOne(args))
        return try roundTrip(buffer)[0].checked()
    }

    /// Sends all commands in one write, then reads one reply per command, in order.
    ///
    /// Error replies are returned in place as ``RedisReply/error(_:)``, not thrown, so one
    /// failing command does not hide the replies of the others; call
    /// ``RedisReply/checked()`` on a reply to throw instead.
    /// - Parameter commands: The commands; an empty list sends nothing.
    /// - Returns: One reply per command, in the order the commands were given.
    /// - Throws: ``RedisError/invalidArgument(_:)`` for an empty command (nothing is sent),
    ///   or an I/O, protocol, timeout or broken-connection error.
    /// - Complexity: One network round trip for the whole batch.
    func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        try roundTrip(RedisCommandBuffer(commands.lazy.map { $0.lazy.map(\.utf8) }))
    }

    /// Sends all commands, given as raw bytes, in one write, then reads their replies.
    ///
    /// - Parameter commands: The commands as bytes.
    /// - Returns: One reply per command, in order; error replies in place.
    /// - Throws: The same errors as ``pipeline(_:)-([[String]])``.
    func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        try roundTrip(RedisCommandBuffer(commands))
    }

    /// Appends every command of `buffer` to hiredis's output buffer, then reads the replies.
    private func roundTrip(_ buffer: borrowing RedisCommandBuffer) throws(RedisError) -> [RedisReply] {
        if let failure {
            throw .connectionBroken(reason: failure.description)
        }
        if context.pointee.err != 0 {
            throw .connectionBroken(reason: Self.errorString(context))
        }
        for index in 0..<buffer.count {
            let status = buffer.withCommand(at: index) { argc, argv, argvlen in
                redisAppendCommandArgv(context, argc, argv, argvlen)
            }
            guard status == REDIS_OK else {
                throw markBroken(errno: errno)
            }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(buffer.count)
        for _ in 0..<buffer.count {
            var raw: UnsafeMutableRawPointer?
            let status = redisGetReply(context, &raw)
            let savedErrno = errno
            guard status == REDIS_OK, let raw else {
                throw markBroken(errno: savedErrno)
            }
            let reply = RedisReply(hiredis: raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            guard let reply else {
                let error = RedisError.protocolError(message: "reply of a type this client does not know")
                failure = error
                throw error
            }
            replies.append(reply)
        }
        return replies
    }

    /// Records and returns the error hiredis reported on the context.
    private func markBroken(errno savedErrno: Int32) -> RedisError {
        let message = Self.errorString(context)
        let error: RedisError
        switch context.pointee.err {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || savedErrno == ETIMEDOUT:
            error = .timeout(after: commandTimeout)
        case REDIS_ERR_IO, REDIS_ERR_EOF:
            error = .io(message: message)
        case REDIS_ERR_PROTOCOL:
            error = .protocolError(message: message)
        default:
            error = .io(message: message.isEmpty ? "hiredis error \(context.pointee.err)" : message)
        }
        failure = error
        return error
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Converts a positive duration to a `timeval`, rounding sub-microsecond values up.
    private static func makeTimeval(_ duration: Duration) -> timeval? {
        guard duration > .zero else { return nil }
        let (seconds, attoseconds) = duration.components
        var microseconds = attoseconds / 1_000_000_000_000
        if seconds == 0 && microseconds == 0 {
            microseconds = 1
        }
        return .init(tv_sec: .init(seconds), tv_usec: .init(microseconds))
    }
}

@available(*, unavailable, message: "RedisConnection wraps a redisContext, which must stay on one thread")
extension RedisConnection: Sendable {}

/// Ignores `SIGPIPE` once per process if it still has its default action (see
/// ``RedisConnection``).
private let ignoreSIGPIPEOnce: Void = {
    let previous = signal(SIGPIPE, SIG_IGN)
    if previous != nil {
        _ = signal(SIGPIPE, previous)
    }
}()
