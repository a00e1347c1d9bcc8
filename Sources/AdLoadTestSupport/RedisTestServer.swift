import Foundation
import StateStore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis server for tests: a private `redis-server` on a free port, or the server named
/// by `ADLOAD_TEST_REDIS_URL`.
///
/// ```swift
/// @Test func roundTrip() throws {
///     let server = try RedisTestServer.start()
///     defer { server.stop() }
///     let connection = try server.connect()
///     #expect(try connection.command(["PING"]) == .status("PONG"))
/// }
/// ```
///
/// A private server runs with no persistence (`--save "" --appendonly no`), listens on
/// 127.0.0.1 only, and keeps its working files in a temporary folder that ``stop()``
/// removes. ``stop()`` also runs on deinit, but call it (with `defer`) so the server goes
/// away when the test ends rather than whenever the last reference does.
///
/// Tests sharing an external server must use keys unique to the test and must not flush
/// the database.
package final class RedisTestServer: Sendable {
    /// The environment variable naming an existing server to use instead of starting one.
    package static let externalURLVariable = "ADLOAD_TEST_REDIS_URL"
    /// How long ``start(environment:)`` waits for a new server to answer `PING`.
    package static let startupTimeout: Duration = .seconds(5)

    /// Where the server listens, ready to pass to ``RedisConnection``.
    package let address: RedisAddress
    /// The server's host.
    package var host: String { address.host }
    /// The server's TCP port.
    package var port: Int { address.port }
    /// Whether this is the server named by `ADLOAD_TEST_REDIS_URL` (``stop()`` leaves it running).
    package var isExternal: Bool { server == nil }

    private let server: RedisServerProcess?
    private let directory: URL?
    private let stopped = Mutex(false)

    private init(address: RedisAddress, server: RedisServerProcess?, directory: URL?) {
        self.address = address
        self.server = server
        self.directory = directory
    }

    deinit {
        stop()
    }

    /// Returns a running server: the one named by `ADLOAD_TEST_REDIS_URL` if that variable
    /// is set, otherwise a new private `redis-server`.
    ///
    /// - Parameter environment: Where to look up `ADLOAD_TEST_REDIS_URL` and `PATH`.
    /// - Returns: A server that has answered `PING`.
    /// - Throws: ``RedisTestServerError`` if `redis-server` is not installed, does not come
    ///   up within ``startupTimeout``, or the external server cannot be reached.
    package static func start(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisTestServerError) -> RedisTestServer {
        if let url = environment[externalURLVariable], !url.isEmpty {
            return try useExternal(url: url)
        }
        return try startPrivate(environment: environment)
    }

    /// Starts a new private `redis-server`, whatever `ADLOAD_TEST_REDIS_URL` says: for tests
    /// that stop and resume the server (``interrupt()``, ``resume()``).
    /// - Throws: ``RedisTestServerError`` as ``start(environment:)``.
    package static func startPrivate(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisTestServerError) -> RedisTestServer {
        guard let executable = findRedisServer(path: environment["PATH"]) else {
            throw .redisServerNotFound(searched: searchDirectories(path: environment["PATH"]))
        }
        // A free port can be taken by someone else before redis-server binds it: retry.
        var lastError: RedisTestServerError?
        for _ in 0..<3 {
            do {
                return try launch(executable: executable, port: freePort())
            } catch let error where error.isPortInUse {
                lastError = error
            }
        }
        throw lastError ?? .failedToStart(executable: executable, reason: "no attempt was made", log: "")
    }

    /// Opens a new connection to the server.
    ///
    /// - Parameters:
    ///   - database: Database to select, or `nil` for the one in ``address``.
    ///   - commandTimeout: Limit on each command.
    /// - Returns: A connection owned by the caller.
    /// - Throws: ``RedisError`` if connecting fails.
    package func connect(database: Int? = nil, commandTimeout: Duration = .seconds(5)) throws(RedisError) -> RedisConnection {
        var address = address
        if let database {
            address.database = database
        }
        return try RedisConnection(address: address, connectTimeout: .seconds(2), commandTimeout: commandTimeout)
    }

    /// Stops a private server (SIGTERM, then SIGKILL after 5 s) and removes its folder.
    ///
    /// Does nothing for an external server or when already stopped. Blocks until the
    /// process has exited.
    package func stop() {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped, let server else { return }
        server.stop()
        if let directory {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Stops a private server's process but keeps its port and folder, so that ``resume()``
    /// brings it back where clients expect it (reconnect tests). Does nothing for an external server.
    package func interrupt() {
        server?.stop()
    }

    /// Starts an interrupted private server again on the same port.
    /// - Throws: ``RedisTestServerError/failedToStart(executable:reason:log:)`` if it does not come back.
    package func resume() throws(RedisTestServerError) {
        guard let server else { return }
        do {
            try server.restart()
        } catch {
            throw .failedToStart(executable: "redis-server", reason: "\(error)", log: "")
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
    ///
    /// Found by binding a socket to port 0 and closing it, so another process may take it
    /// before the caller does. Also useful as a port where connections are refused.
    /// - Throws: ``RedisTestServerError/noFreePort(reason:)`` if the socket calls fail.
    package static func freePort() throws(RedisTestServerError) -> Int {
        do {
            return try RedisServerProcess.freePort()
        } catch {
            throw .noFreePort(reason: "\(error)")
        }
    }

    /// The path of an executable `redis-server` on `path`, /usr/bin or /usr/local/bin.
    ///
    /// - Parameter path: A `PATH`-style list of directories.
    /// - Returns: The first match, or `nil` if there is none.
    package static func findRedisServer(path: String?) -> String? {
        searchDirectories(path: path)
            .map { URL(fileURLWithPath: $0).appendingPathComponent("redis-server").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func searchDirectories(path: String?) -> [String] {
        var directories: [String] = []
        for directory in (path ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        where !directory.isEmpty && !directories.contains(directory) {
            directories.append(directory)
        }
        return directories
    }

    private static func useExternal(url: String) throws(RedisTestServerError) -> RedisTestServer {
        let address: RedisAddress
        do {
            address = try RedisAddress(parsing: url)
        } catch {
            throw .invalidExternalURL(variable: externalURLVariable, error: error)
        }
        do throws(RedisError) {
            let reply = try RedisConnection(address: address).command(["PING"])
            guard reply == .status("PONG") else {
                throw RedisError.protocolError(message: "PING answered \(reply) instead of PONG")
            }
        } catch {
            throw .externalServerUnreachable(address: address, error: error)
        }
        return RedisTestServer(address: address, server: nil, directory: nil)
    }

    /// Starts a private, non-persistent server through ``RedisServerProcess`` in a new temporary folder.
    private static func launch(executable: String, port: Int) throws(RedisTestServerError) -> RedisTestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("adload-redis-\(UUID().uuidString)")
        do {
            let server = try RedisServerProcess.start(
                port: port, directory: directory.path, appendOnly: false, executable: executable, startupTimeout: startupTimeout)
            return RedisTestServer(address: server.address, server: server, directory: directory)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            switch error {
            case .notFound:
                throw .redisServerNotFound(searched: [executable])
            case let .cannotStart(reason, log):
                throw .failedToStart(executable: executable, reason: reason, log: log)
            }
        }
    }
}
