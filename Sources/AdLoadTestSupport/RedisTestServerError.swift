import StateStore

/// Why ``RedisTestServer/start(environment:)`` could not provide a server.
package enum RedisTestServerError: Error, Sendable, CustomStringConvertible {
    /// No executable `redis-server` in any searched directory.
    case redisServerNotFound(searched: [String])
    /// `redis-server` was found but did not come up; `log` is its output.
    case failedToStart(executable: String, reason: String, log: String)
    /// `ADLOAD_TEST_REDIS_URL` is set but is not a valid `redis://` URL.
    case invalidExternalURL(variable: String, error: RedisAddressError)
    /// `ADLOAD_TEST_REDIS_URL` names a server that does not answer `PING`.
    case externalServerUnreachable(address: RedisAddress, error: RedisError)
    /// No local port could be reserved.
    case noFreePort(reason: String)

    /// What went wrong and what to do about it.
    package var description: String {
        switch self {
        case let .redisServerNotFound(searched):
            "redis-server not found: install it with `apt-get install redis-server` (scripts/setup does); "
                + "searched \(searched.joined(separator: ", ")), or set \(RedisTestServer.externalURLVariable) "
                + "to use a running server"
        case let .failedToStart(executable, reason, log):
            "\(executable) did not start: \(reason)" + (log.isEmpty ? "" : "\n--- redis-server output ---\n\(log)")
        case let .invalidExternalURL(variable, error):
            "\(variable) is not usable: \(error)"
        case let .externalServerUnreachable(address, error):
            "the Redis server at \(address) (from \(RedisTestServer.externalURLVariable)) is not usable: \(error)"
        case let .noFreePort(reason):
            "cannot find a free port for redis-server: \(reason)"
        }
    }

    var isPortInUse: Bool {
        if case let .failedToStart(_, _, log) = self {
            return log.contains("Address already in use")
        }
        return false
    }
}
