import Foundation
#if canImport(Glibc)
import Glibc
#endif
import StateStore

/// A private 3-master Redis Cluster on loopback for tests, run by `scripts/redis-cluster`
/// (the script users run), in a temporary folder on ports no other test uses.
///
/// ```swift
/// let cluster = try RedisClusterTestServer.start()
/// defer { cluster.stop() }
/// var configuration = RedisClient.Configuration(address: cluster.seeds[0])
/// configuration.clusterSeeds = cluster.seeds
/// ```
package final class RedisClusterTestServer: Sendable {
    /// The masters' ports.
    package let ports: [Int]
    let directory: URL
    let script: URL

    private init(ports: [Int], directory: URL, script: URL) {
        self.ports = ports
        self.directory = directory
        self.script = script
    }

    /// The masters, as seeds for a cluster client.
    package var seeds: [RedisAddress] { ports.map { RedisAddress(host: "127.0.0.1", port: $0) } }

    /// Starts the cluster and waits until it reports ok.
    /// - Parameter repository: The package root (where `scripts/redis-cluster` is).
    /// - Throws: ``RedisTestServerError/failedToStart(executable:reason:log:)`` with the script's output.
    package static func start(repository: URL) throws(RedisTestServerError) -> RedisClusterTestServer {
        let script = repository.appendingPathComponent("scripts/redis-cluster")
        var outputs: [String] = []
        // Node ports and their cluster bus ports (+10000) must be free: try a few random bases,
        // all below Linux's ephemeral range (32768 and up), where other tests' servers and
        // every client connection take their ports.
        for _ in 0..<4 {
            let base = Int.random(in: 20_000...22_700)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("adload-cluster-\(UUID().uuidString)")
            let server = RedisClusterTestServer(ports: [base, base + 1, base + 2], directory: directory, script: script)
            let (status, output) = server.run(["start"])
            if status == 0 { return server }
            outputs.append("ports \(base)–\(base + 2): \(output)")
            server.stop()
        }
        throw .failedToStart(executable: script.path, reason: "scripts/redis-cluster start failed", log: outputs.joined(separator: "\n"))
    }

    /// Runs the script with this cluster's ports and folder; returns its status and output.
    ///
    /// Through `posix_spawn` and `waitpid` with no signal blocked in the child, not
    /// Foundation's `Process`, whose `waitUntilExit` was seen to hang here after the script
    /// had exited (two cluster tests starting at once).
    @discardableResult
    func run(_ arguments: [String]) -> (Int32, String) {
        let log = directory.deletingLastPathComponent().appendingPathComponent("\(directory.lastPathComponent)-\(UUID().uuidString).log")
        let command = ["/usr/bin/env", "PORT=\(ports[0])", "DIR=\(directory.path)", "/bin/bash", script.path] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, &attributes, argv, environ)
        guard spawned == 0 else { return (-1, "posix_spawn: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: log)
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : -1, output)
    }

    /// `kill -9` of the master on `port`.
    package func kill(port: Int) {
        run(["kill-node", String(port)])
    }

    /// Starts the master on `port` again on its data (it rejoins the cluster).
    /// - Throws: ``RedisTestServerError/failedToStart(executable:reason:log:)``.
    package func restart(port: Int) throws(RedisTestServerError) {
        let (status, output) = run(["start-node", String(port)])
        guard status == 0 else { throw .failedToStart(executable: script.path, reason: "start-node \(port) failed", log: output) }
    }

    /// Shuts every master down and removes the folder.
    package func stop() {
        run(["stop"])
        try? FileManager.default.removeItem(at: directory)
    }
}
