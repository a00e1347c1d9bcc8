import Synchronization

/// A Lua script run on the server with `EVALSHA`.
///
/// The script's SHA-1 is learned from the server (`SCRIPT LOAD` replies with it), so no
/// hashing happens here. The first run sends `SCRIPT LOAD` and `EVAL` in one pipeline and
/// remembers the SHA; later runs send only `EVALSHA`. When the server has lost its script
/// cache (a restart, `SCRIPT FLUSH`, a failover) it answers `NOSCRIPT`; the run is then
/// retried once as `SCRIPT LOAD` + `EVALSHA` in one pipeline. `NOSCRIPT` means the script
/// did not run, so the retry cannot apply it twice.
///
/// Keys the script touches must all be passed in `keys` (Redis Cluster routes on them and
/// rejects scripts whose keys span slots).
final class RedisScript: Sendable {
    /// The Lua source.
    let source: String
    private let sha = Mutex<String?>(nil)

    /// Creates a script from its Lua source; nothing is sent until it is first run.
    init(_ source: String) {
        self.source = source
    }

    /// The SHA-1 the server reported for this script, once it has been loaded.
    var loadedSHA: String? {
        sha.withLock { $0 }
    }

    func remember(_ value: String) {
        sha.withLock { $0 = value }
    }
}

extension RedisClient {
    /// Runs `script` with `EVALSHA`, loading it first if this process has not yet, and
    /// reloading and retrying once if the server answers `NOSCRIPT`.
    ///
    /// - Parameters:
    ///   - script: The script.
    ///   - keys: The keys it touches (`KEYS[1]...`).
    ///   - arguments: Its other arguments (`ARGV[1]...`).
    ///   - timeout: Deadline for the whole run, a reload and retry included.
    /// - Returns: The script's reply; never ``RedisReply/error(_:)``.
    /// - Throws: ``StoreError/failed(_:)`` for an error the script raised or a failed load;
    ///   the transport errors of `execute(_:timeout:)`.
    /// - Complexity: One round trip, or two when the server had lost the script.
    func run(
        _ script: RedisScript, keys: [[UInt8]], arguments: [[UInt8]], timeout: Duration
    ) async throws(StoreError) -> RedisReply {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let tail = [Array(String(keys.count).utf8)] + keys + arguments
        let load = [Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)]

        guard let sha = script.loadedSHA else {
            let replies = try await execute([load, [Array("EVAL".utf8), Array(script.source.utf8)] + tail], timeout: timeout)
            try remember(script, from: replies[0])
            return try Self.scriptResult(replies[1])
        }
        let evalsha = [Array("EVALSHA".utf8), Array(sha.utf8)] + tail
        let reply = try await execute([evalsha], timeout: timeout)[0]
        guard let message = reply.errorMessage, message.hasPrefix("NOSCRIPT") else {
            return try Self.scriptResult(reply)
        }
        let remaining = deadline - clock.now
        guard remaining > .zero else { throw .timeout }
        let replies = try await execute([load, evalsha], timeout: remaining)
        try remember(script, from: replies[0])
        return try Self.scriptResult(replies[1])
    }

    private func remember(_ script: RedisScript, from reply: RedisReply) throws(StoreError) {
        if let message = reply.errorMessage {
            throw .failed("SCRIPT LOAD failed: \(message)")
        }
        guard let sha = reply.string, sha.utf8.count == 40 else {
            throw .failed("SCRIPT LOAD answered \(reply), not a SHA-1")
        }
        script.remember(sha)
    }

    private static func scriptResult(_ reply: RedisReply) throws(StoreError) -> RedisReply {
        if let message = reply.errorMessage {
            throw .failed("Lua script failed: \(message)")
        }
        return reply
    }
}
