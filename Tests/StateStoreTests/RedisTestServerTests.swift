import AdLoadTestSupport
import StateStore
import Testing

@Suite("RedisTestServer")
struct RedisTestServerTests {
    @Test("start() serves PING and stop() shuts a private server down")
    func startAndStop() throws {
        let server = try RedisTestServer.start()
        #expect(try server.connect().command(["PING"]) == .status("PONG"))

        let clock = ContinuousClock()
        let start = clock.now
        server.stop()
        server.stop()

        #expect(clock.now - start < .seconds(2), "stop() should not need the SIGKILL fallback")

        if !server.isExternal {
            #expect(throws: RedisError.self) { try server.connect() }
        }
    }

    @Test("redis-server is found in /usr/bin or /usr/local/bin even with an empty PATH")
    func findsRedisServer() throws {
        let path = try #require(RedisTestServer.findRedisServer(path: ""))
        #expect(path.hasSuffix("/redis-server"))
        #expect(RedisTestServer.findRedisServer(path: nil) != nil)
    }

    @Test("ADLOAD_TEST_REDIS_URL that is not a redis:// URL is reported")
    func invalidExternalURL() {
        let error = #expect(throws: RedisTestServerError.self) {
            try RedisTestServer.start(environment: ["ADLOAD_TEST_REDIS_URL": "http://h:1"])
        }
        #expect(error?.description.hasPrefix("ADLOAD_TEST_REDIS_URL is not usable: invalid Redis URL: bad scheme") == true)
    }

    @Test("ADLOAD_TEST_REDIS_URL naming a closed port is reported as unreachable")
    func unreachableExternalServer() throws {
        let port = try RedisTestServer.freePort()
        let error = #expect(throws: RedisTestServerError.self) {
            try RedisTestServer.start(environment: ["ADLOAD_TEST_REDIS_URL": "redis://127.0.0.1:\(port)"])
        }
        guard case let .externalServerUnreachable(address, _) = error else {
            Issue.record("expected externalServerUnreachable, got \(String(describing: error))")
            return
        }
        #expect(address.port == port)
    }
}

@Test("the not-found error says how to install redis-server")
func notFoundMessage() {
    let error = RedisTestServerError.redisServerNotFound(searched: ["/usr/bin", "/usr/local/bin"])
    #expect(
        error.description.hasPrefix(
            "redis-server not found: install it with `apt-get install redis-server` (scripts/setup does)"
        )
    )
    #expect(error.description.contains("/usr/local/bin"))
}
