import AdLoadTestSupport
@testable import StateStore
import Testing

extension RedisSerializedTests {
    @Suite("RedisScript")
    struct RedisScriptTests {
        @Test("EVALSHA after SCRIPT FLUSH reloads the script and succeeds")
        func reloadsAfterFlush() async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: .init(address: server.address))
            let keys = TestKeys()
            let script = RedisScript("return {redis.call('INCRBY', KEYS[1], ARGV[1]), ARGV[2]}")
            let key = [Array(keys("n").utf8)]

            #expect(script.loadedSHA == nil)
            let first = try await client.run(script, keys: key, arguments: [Array("2".utf8), [0, 1, 2]], timeout: .seconds(2))
            #expect(first == .array([.integer(2), .bulk([0, 1, 2])]))
            let sha = try #require(script.loadedSHA)
            #expect(try server.connect().command(["SCRIPT", "EXISTS", sha]) == .array([.integer(1)]))

            let beforeSecond = client.statistics.roundTrips
            let second = try await client.run(script, keys: key, arguments: [Array("3".utf8), []], timeout: .seconds(2))
            #expect(second == .array([.integer(5), .bulk([])]))
            #expect(client.statistics.roundTrips == beforeSecond + 1, "a loaded script runs in one round trip")

            #expect(try server.connect().command(["SCRIPT", "FLUSH"]) == .status("OK"))
            let beforeThird = client.statistics.roundTrips
            let third = try await client.run(script, keys: key, arguments: [Array("4".utf8), []], timeout: .seconds(2))
            #expect(third == .array([.integer(9), .bulk([])]), "the script ran exactly once")
            #expect(client.statistics.roundTrips == beforeThird + 2, "NOSCRIPT, then SCRIPT LOAD + EVALSHA")
            #expect(script.loadedSHA == sha)
            #expect(try server.connect().command(["GET", keys("n")]).int == 9)
            await client.shutdown()
        }

        @Test("an error raised by the script is StoreError.failed with the script's message")
        func scriptError() async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: .init(address: server.address))
            let script = RedisScript("return redis.error_reply('BAD input ' .. ARGV[1])")

            for _ in 0..<2 {
                let error = await #expect(throws: StoreError.self) {
                    try await client.run(script, keys: [], arguments: [Array("x".utf8)], timeout: .seconds(2))
                }
                guard case let .failed(message) = error else {
                    Issue.record("expected failed, got \(String(describing: error))")
                    return
                }
                #expect(message.contains("BAD input x"))
            }
            await client.shutdown()
        }
    }
}
