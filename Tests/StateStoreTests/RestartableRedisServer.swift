import AdLoadTestSupport
import Foundation
import StateStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A private `redis-server` that can be stopped and started again on the same port, for
/// reconnect tests (``RedisTestServer`` stops for good).
///
/// Stopped with `SHUTDOWN NOSAVE` sent over a connection (so no signal is involved; see
/// ``RedisTestServer`` on signal masks), with `SIGKILL` as the fallback.
final class RestartableRedisServer {
    let port: Int
    let directory: URL
    private var process: Process?

    var address: RedisAddress { RedisAddress(host: "127.0.0.1", port: port) }

    init() throws {
        port = try RedisTestServer.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("adload-redis-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts redis-server on ``port`` and waits until it answers PING.
    func start() throws {
        guard let executable = RedisTestServer.findRedisServer(path: ProcessInfo.processInfo.environment["PATH"]) else {
            throw RedisTestServerError.redisServerNotFound(searched: ["PATH", "/usr/bin", "/usr/local/bin"])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", String(port),
            "--dir", directory.path, "--daemonize", "no",
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            if let connection = try? RedisConnection(
                address: address, connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(500)
            ), (try? connection.command(["PING"])) == .status("PONG") {
                return
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        stop()
        throw RedisTestServerError.failedToStart(executable: executable, reason: "no PONG on port \(port)", log: "")
    }

    /// Stops the server and waits for the process to exit.
    func stop() {
        guard let process else { return }
        self.process = nil
        if let connection = try? RedisConnection(address: address, connectTimeout: .milliseconds(200)) {
            _ = try? connection.command(["SHUTDOWN", "NOSAVE"])
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3)
        while process.isRunning && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }
}
