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
public final class RedisTestServer: Sendable {
    /// The environment variable naming an existing server to use instead of starting one.
    public static let externalURLVariable = "ADLOAD_TEST_REDIS_URL"
    /// How long ``start(environment:)`` waits for a new server to answer `PING`.
    public static let startupTimeout: Duration = .seconds(5)

    /// Where the server listens, ready to pass to ``RedisConnection``.
    public let address: RedisAddress
    /// The server's host.
    public var host: String { address.host }
    /// The server's TCP port.
    public var port: Int { address.port }
    /// Whether this is the server named by `ADLOAD_TEST_REDIS_URL` (``stop()`` leaves it running).
    public var isExternal: Bool { process == nil }

    private let process: Process?
    private let directory: URL?
    private let stopped = Mutex(false)

    private init(address: RedisAddress, process: Process?, directory: URL?) {
        self.address = address
        self.process = process
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
    public static func start(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(RedisTestServerError) -> RedisTestServer {
        if let url = environment[externalURLVariable], !url.isEmpty {
            return try useExternal(url: url)
        }
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
    public func connect(database: Int? = nil, commandTimeout: Duration = .seconds(5)) throws(RedisError) -> RedisConnection {
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
    public func stop() {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped, let process else { return }
        Self.terminate(process)
        if let directory {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
    ///
    /// Found by binding a socket to port 0 and closing it, so another process may take it
    /// before the caller does. Also useful as a port where connections are refused.
    /// - Throws: ``RedisTestServerError/noFreePort(reason:)`` if the socket calls fail.
    public static func freePort() throws(RedisTestServerError) -> Int {
        #if canImport(Darwin)
        let socketType = SOCK_STREAM
        #else
        let socketType = Int32(SOCK_STREAM.rawValue)
        #endif
        let fd = socket(AF_INET, socketType, 0)
        guard fd >= 0 else {
            throw .noFreePort(reason: "socket() failed: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            throw .noFreePort(reason: "bind/getsockname on 127.0.0.1:0 failed: \(String(cString: strerror(errno)))")
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The path of an executable `redis-server` on `path`, /usr/bin or /usr/local/bin.
    ///
    /// - Parameter path: A `PATH`-style list of directories.
    /// - Returns: The first match, or `nil` if there is none.
    public static func findRedisServer(path: String?) -> String? {
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
        return RedisTestServer(address: address, process: nil, directory: nil)
    }

    private static func launch(executable: String, port: Int) throws(RedisTestServerError) -> RedisTestServer {
        let directory = try makeTemporaryDirectory()
        let logURL = directory.appendingPathComponent("redis-server.log")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--save", "",
            "--appendonly", "no",
            "--bind", "127.0.0.1",
            "--port", String(port),
            "--dir", directory.path,
            "--daemonize", "no",
        ]
        process.standardInput = FileHandle.nullDevice
        do {
            guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logURL.path])
            }
            let log = try FileHandle(forWritingTo: logURL)
            process.standardOutput = log
            process.standardError = log
            try runWithEmptySignalMask(process)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw .failedToStart(executable: executable, reason: "cannot run it: \(error)", log: "")
        }

        let server = RedisTestServer(
            address: RedisAddress(host: "127.0.0.1", port: port), process: process, directory: directory
        )
        let clock = ContinuousClock()
        let deadline = clock.now + startupTimeout
        var lastError = "no answer yet"
        while clock.now < deadline {
            guard process.isRunning else {
                lastError = "it exited with status \(process.terminationStatus)"
                break
            }
            do {
                let connection = try RedisConnection(
                    address: server.address, connectTimeout: .milliseconds(250), commandTimeout: .milliseconds(500)
                )
                if try connection.command(["PING"]) == .status("PONG") {
                    return server
                }
            } catch {
                lastError = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        server.stop()
        throw .failedToStart(
            executable: executable,
            reason: "it did not answer PING on 127.0.0.1:\(port) within \(startupTimeout): \(lastError)",
            log: log
        )
    }

    /// Starts `process` from this thread with no signals blocked.
    ///
    /// Foundation's `Process` on Linux passes the calling thread's signal mask to the child
    /// (swift-corelibs-foundation issue 4772), and Dispatch worker threads, which run
    /// Swift Testing tests, block nearly every signal, SIGTERM included. A redis-server
    /// started from such a thread would ignore ``stop()``'s SIGTERM, so the mask is
    /// cleared for the duration of the spawn and restored afterwards.
    private static func runWithEmptySignalMask(_ process: Process) throws {
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }

    private static func makeTemporaryDirectory() throws(RedisTestServerError) -> URL {
        var template = Array(
            FileManager.default.temporaryDirectory.appendingPathComponent("adload-redis-XXXXXX").path.utf8CString
        )
        let created = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { mkdtemp($0) != nil } ?? false
        }
        guard created else {
            throw .failedToStart(
                executable: "redis-server",
                reason: "cannot create a temporary folder: \(String(cString: strerror(errno)))",
                log: ""
            )
        }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return URL(fileURLWithPath: path, isDirectory: true)
    }

    private static func terminate(_ process: Process) {
        if process.isRunning {
            process.terminate()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            while process.isRunning && clock.now < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            }
        }
        process.waitUntilExit()
    }
}
