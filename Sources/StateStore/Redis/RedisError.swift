/// An error from a Redis connection or command.
///
/// Each case carries what went wrong and where, so a log line or a test failure names the
/// server, the value and the reason. Only ``server(message:)`` and ``invalidArgument(_:)``
/// leave the connection usable; after the others the connection reports
/// ``RedisConnection/isBroken`` and must be replaced.
package enum RedisError: Error, Sendable, Hashable {
    /// The TCP connection, or the AUTH/SELECT handshake after it, failed.
    case connectionFailed(host: String, port: Int, message: String)
    /// Reading from or writing to the socket failed, or the server closed the connection.
    ///
    /// The command may or may not have run on the server.
    case io(message: String)
    /// The server sent bytes that are not valid RESP, or a reply hiredis could not represent.
    case protocolError(message: String)
    /// No reply arrived within the connection's command timeout.
    ///
    /// The command may still run on the server; the connection is broken because a late
    /// reply would be taken as the answer to the next command.
    case timeout(after: Duration)
    /// The server answered with an error reply (`-ERR ...`, `-WRONGTYPE ...`).
    ///
    /// The connection stays usable.
    case server(message: String)
    /// A command was attempted on a connection that an earlier error broke.
    ///
    /// Nothing was sent, so the command is safe to retry on a new connection.
    case connectionBroken(reason: String)
    /// The caller passed something hiredis cannot send (an empty command, a bad timeout).
    ///
    /// Nothing was sent and the connection stays usable.
    case invalidArgument(String)
}

extension RedisError: CustomStringConvertible {
    /// A sentence naming what failed and the value involved.
    package var description: String {
        switch self {
        case let .connectionFailed(host, port, message):
            "cannot connect to Redis at \(host):\(port): \(message)"
        case let .io(message):
            "Redis I/O error: \(message)"
        case let .protocolError(message):
            "Redis protocol error: \(message)"
        case let .timeout(after):
            "Redis command timed out after \(after)"
        case let .server(message):
            "Redis error reply: \(message)"
        case let .connectionBroken(reason):
            "Redis connection is broken (\(reason)); command not sent"
        case let .invalidArgument(message):
            "invalid Redis command argument: \(message)"
        }
    }
}
