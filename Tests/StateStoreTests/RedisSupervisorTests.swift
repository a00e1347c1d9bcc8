import Foundation
import StateStore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The embedded redis-server's supervisor")
struct RedisSupervisorTests {
    @Test("kill -9 of the server: the supervisor restarts it on the same port with its data, and stop() ends the watch")
    func restartsAfterKill() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("adload-supervisor-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try RedisServerProcess.start(port: try RedisServerProcess.freePort(), directory: directory, appendOnly: true)
        defer { server.stop() }
        let events = Mutex<[RedisSupervisor.Event]>([])
        let supervisor = RedisSupervisor(server: server) { event in events.withLock { $0.append(event) } }
        supervisor.start()
        let connection = try RedisConnection(address: server.address, connectTimeout: .seconds(1), commandTimeout: .seconds(1))
        #expect(try connection.command(["SET", "kept", "yes"]) == .status("OK"))
        // The append-only file is fsynced every second: wait for it before the crash.
        Thread.sleep(forTimeInterval: 1.2)
        let before = server.processIdentifier
        #expect(kill(before, SIGKILL) == 0)

        // Within 5 s a new process answers, on the same port, with the key.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var answered = false
        while clock.now < deadline && !answered {
            Thread.sleep(forTimeInterval: 0.05)
            if let again = try? RedisConnection(address: server.address, connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(500)),
               (try? again.command(["GET", "kept"])) == .bulk(Array("yes".utf8)) {
                answered = true
            }
        }
        #expect(answered, "the server answered with its data within 5 s of the kill")
        // The test's own PING can beat the supervisor's, whose restart() returns when it sees one.
        let restartDeadline = clock.now + .seconds(5)
        while clock.now < restartDeadline && supervisor.restarts == 0 { Thread.sleep(forTimeInterval: 0.02) }
        #expect(server.processIdentifier != before && supervisor.restarts == 1)
        let seen = events.withLock { $0 }
        #expect(seen.first == .exited(status: SIGKILL) && seen.contains(.restarted(attempts: 1)), "\(seen)")

        // After stop(), stopping the server is not a crash: nothing restarts it.
        supervisor.stop()
        server.stop()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!server.isRunning && supervisor.restarts == 1)
    }
}
