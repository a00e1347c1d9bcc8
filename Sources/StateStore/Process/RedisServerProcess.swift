import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server` child process: started with given options, ready once it answers
/// PING, stopped with SIGTERM (then SIGKILL after a grace period), and restartable on the
/// same port and data folder (an append-only file, when on, is replayed).
///
/// The one launcher: `adload serve` uses it for its embedded store (AOF on, data under the
/// data folder); tests use it, through `RedisTestServer`, for private servers, and restart
/// it to test reconnects.
package final class RedisServerProcess: Sendable {
    /// Where the server listens.
    package let address: RedisAddress
    /// The server's log file.
    let logPath: String
    let directory: String
    let appendOnly: Bool
    let executable: String
    let startupTimeout: Duration
    /// The running process (the last one started).
    let process: Mutex<Process>

    private init(address: RedisAddress, directory: String, appendOnly: Bool, executable: String, startupTimeout: Duration, process: Process) {
        self.address = address
        self.directory = directory
        self.appendOnly = appendOnly
        self.executable = executable
        self.startupTimeout = startupTimeout
        logPath = (directory as NSString).appendingPathComponent("redis-server.log")
        self.process = Mutex(process)
    }

    /// The redis-server executable on PATH or in /usr/bin, /usr/local/bin, /usr/sbin; `nil` if none.
    static func findExecutable(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let directories = (path ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        return directories.map { "\($0)/redis-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    package static func freePort() throws(RedisServerProcessError) -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw .cannotStart(reason: "socket(): \(String(cString: strerror(errno)))", log: "") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw .cannotStart(reason: "bind(): \(String(cString: strerror(errno)))", log: "") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        guard named == 0 else { throw .cannotStart(reason: "getsockname(): \(String(cString: strerror(errno)))", log: "") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts redis-server on 127.0.0.1:`port` with its data (and log) in `directory`.
    /// - Parameters:
    ///   - appendOnly: keep an append-only file (durable across restarts).
    ///   - startupTimeout: how long to wait for PING to answer.
    /// - Throws: ``RedisServerProcessError`` naming what went wrong, with the server's log.
    package static func start(
        port: Int, directory: String, appendOnly: Bool, executable: String? = nil, startupTimeout: Duration = .seconds(5)
    ) throws(RedisServerProcessError) -> RedisServerProcess {
        guard let executable = executable ?? findExecutable() else {
            throw .notFound
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotStart(reason: "cannot create the data folder \(directory): \(error.localizedDescription)", log: "")
        }
        let server = RedisServerProcess(
            address: RedisAddress(host: "127.0.0.1", port: port), directory: directory, appendOnly: appendOnly,
            executable: executable, startupTimeout: startupTimeout, process: Process())
        try server.launch()
        return server
    }

    /// Stops the server if it runs and starts it again on the same port and data folder.
    /// - Throws: ``RedisServerProcessError`` as ``start(port:directory:appendOnly:executable:startupTimeout:)``.
    package func restart() throws(RedisServerProcessError) {
        stop()
        try launch()
    }

    /// Runs a new process and waits until it answers PING.
    private func launch() throws(RedisServerProcessError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--bind", "127.0.0.1", "--port", String(address.port), "--dir", directory, "--daemonize", "no",
            "--save", "", "--appendonly", appendOnly ? "yes" : "no", "--logfile", logPath,
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try Self.runWithEmptySignalMask(process)
        } catch {
            throw .cannotStart(reason: "cannot run \(executable): \(error)", log: "")
        }
        self.process.withLock { $0 = process }
        let clock = ContinuousClock()
        let deadline = clock.now + startupTimeout
        var lastError = "no answer yet"
        while clock.now < deadline {
            guard process.isRunning else {
                lastError = "it exited with status \(process.terminationStatus)"
                break
            }
            do {
                let connection = try RedisConnection(address: address, connectTimeout: .milliseconds(250), commandTimeout: .milliseconds(500))
                if try connection.command(["PING"]) == .status("PONG") { return }
            } catch {
                lastError = "\(error)"
            }
            // A real server process is being waited for: nothing to inject a clock into.
            Thread.sleep(forTimeInterval: 0.02)
        }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        stop()
        throw .cannotStart(reason: "it did not answer PING on 127.0.0.1:\(address.port) within \(startupTimeout): \(lastError)", log: log)
    }

    /// Whether the server process is still running.
    package var isRunning: Bool { process.withLock { $0.isRunning } }

    /// How the last process ended (its exit status or signal; 0 while it runs).
    package var terminationStatus: Int32 {
        process.withLock { $0.isRunning ? 0 : $0.terminationStatus }
    }

    /// The running server's process id (0 before the first start).
    package var processIdentifier: Int32 { process.withLock { $0.processIdentifier } }

    /// Stops the server: SIGTERM (redis-server then finishes its AOF), SIGKILL after 5 s.
    /// Does nothing when it is not running.
    package func stop() {
        let process = process.withLock { $0 }
        guard process.processIdentifier != 0 else { return }
        if process.isRunning {
            process.terminate()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            while process.isRunning && clock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    /// Starts `process` with no signals blocked: Foundation's `Process` on Linux passes the
    /// calling thread's signal mask to the child (swift-corelibs-foundation issue 4772), and
    /// Dispatch and cooperative-pool threads block nearly every signal, SIGTERM included,
    /// so a server started from them would ignore ``stop()``.
    static func runWithEmptySignalMask(_ process: Process) throws {
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }
}

/// A redis-server that cannot be started.
package enum RedisServerProcessError: Error, Sendable, CustomStringConvertible {
    case notFound
    case cannotStart(reason: String, log: String)

    package var description: String {
        switch self {
        case .notFound:
            "redis-server not found on PATH or in /usr/bin, /usr/local/bin, /usr/sbin: install it with `apt-get install redis-server` (scripts/setup does)"
        case let .cannotStart(reason, log):
            "redis-server could not be started: \(reason)" + (log.isEmpty ? "" : "\n--- redis-server log ---\n\(log)")
        }
    }
}
