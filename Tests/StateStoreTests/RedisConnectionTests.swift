import AdLoadTestSupport
@testable import StateStore
import Testing

@Suite("RedisConnection against a real redis-server")
struct RedisConnectionTests {
    @Test("SET then GET returns the exact bytes, including spaces, newlines, CR LF and NUL")
    func binaryRoundTrip() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let connection = try server.connect()
        let keys = TestKeys()

        let key = Array(keys("binary key \n\0 end").utf8) + [0x00, 0xFF]
        var value: [UInt8] = Array("a value with spaces\r\nand a fake *3\r\n$3\r\nSET reply\n".utf8)
        value += [0x00, 0x00, 0x0A, 0x0D, 0x20] + (0...255).map(UInt8.init)
        value += (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

        #expect(try connection.command([Array("SET".utf8), key, value]) == .status("OK"))
        let reply = try connection.command([Array("GET".utf8), key])
        #expect(reply == .bulk(value))
        #expect(try connection.command([Array("STRLEN".utf8), key]) == .integer(Int64(value.count)))

        let text = "héllo wörld 🌍\nline two\0after NUL"
        #expect(try connection.command(["SET", keys("text"), text]) == .status("OK"))
        #expect(try connection.command(["GET", keys("text")]).string == text)

        #expect(try connection.command(["SET", keys("empty"), ""]) == .status("OK"))
        #expect(try connection.command(["GET", keys("empty")]) == .bulk([]))
        #expect(try connection.command(["GET", keys("missing")]) == .null)
        #expect(!connection.isBroken)
    }

    @Test("a pipeline of 1000 INCR/SET commands answers in order and its effects are visible")
    func pipelineOrder() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let connection = try server.connect()
        let keys = TestKeys()
        let pairs = 500

        var commands: [[String]] = []
        for index in 0..<pairs {
            commands.append(["INCR", keys("counter")])
            commands.append(["SET", keys("item:\(index)"), "value-\(index)"])
        }
        let replies = try connection.pipeline(commands)

        try #require(replies.count == 2 * pairs)
        for index in 0..<pairs {
            #expect(replies[2 * index] == .integer(Int64(index + 1)), "INCR reply \(index)")
            #expect(replies[2 * index + 1] == .status("OK"), "SET reply \(index)")
        }

        #expect(try connection.command(["GET", keys("counter")]).int == pairs)
        let values = try connection.pipeline((0..<pairs).map { ["GET", keys("item:\($0)")] })
        #expect(values.map(\.string) == (0..<pairs).map { "value-\($0)" })
        #expect(try connection.pipeline([[String]]()) == [])
    }

    @Test("an error reply throws RedisError.server and the connection stays usable")
    func errorReplyKeepsConnection() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let connection = try server.connect()
        let keys = TestKeys()
        _ = try connection.command(["SET", keys("text"), "not a number"])

        let error = #expect(throws: RedisError.self) {
            try connection.command(["INCR", keys("text")])
        }
        guard case let .server(message) = error else {
            Issue.record("expected RedisError.server, got \(String(describing: error))")
            return
        }
        #expect(message.contains("not an integer"))
        #expect(!connection.isBroken)
        #expect(try connection.command(["GET", keys("text")]).string == "not a number")

        let replies = try connection.pipeline([
            ["SET", keys("n"), "1"],
            ["LPUSH", keys("text"), "x"],
            ["INCR", keys("n")],
        ])
        try #require(replies.count == 3)
        #expect(replies[0] == .status("OK"))
        #expect(replies[1].errorMessage?.hasPrefix("WRONGTYPE") == true)
        #expect(replies[2] == .integer(2))
        #expect(throws: RedisError.self) { try replies[1].checked() }
        #expect(try connection.command(["PING"]) == .status("PONG"))
    }

    @Test("an empty command is rejected before anything is sent")
    func emptyCommand() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let connection = try server.connect()
        let keys = TestKeys()

        #expect(throws: RedisError.invalidArgument("command 0 of 1 has no arguments")) {
            try connection.command([String]())
        }
        #expect(throws: RedisError.invalidArgument("command 1 of 2 has no arguments")) {
            try connection.pipeline([["INCR", keys("counter")], []])
        }
        #expect(!connection.isBroken)
        #expect(try connection.command(["GET", keys("counter")]) == .null)
    }

    @Test("nested arrays, nulls, statuses and errors convert from a Lua reply")
    func nestedReplies() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let connection = try server.connect()
        let script = "return {1, 'two', {3, false}, redis.status_reply('FINE'), redis.error_reply('BAD thing'), {}}"

        let reply = try connection.command(["EVAL", script, "0"])

        #expect(
            reply == .array([
                .integer(1), .bulk(Array("two".utf8)), .array([.integer(3), .null]),
                .status("FINE"), .error("BAD thing"), .array([]),
            ])
        )
    }

    @Test("connecting to a closed port fails quickly with connectionFailed naming host and port")
    func closedPort() throws {
        let port = try RedisTestServer.freePort()
        let clock = ContinuousClock()
        let start = clock.now

        let error = #expect(throws: RedisError.self) {
            try RedisConnection(address: RedisAddress(host: "127.0.0.1", port: port), connectTimeout: .seconds(2))
        }

        #expect(clock.now - start < .seconds(1))
        guard case let .connectionFailed(host, failedPort, message) = error else {
            Issue.record("expected connectionFailed, got \(String(describing: error))")
            return
        }
        #expect(host == "127.0.0.1")
        #expect(failedPort == port)
        #expect(message.localizedStandardContains("refused"))
    }

    @Test("a port outside 1...65535 is rejected without connecting")
    func portOutOfRange() {
        #expect(throws: RedisError.connectionFailed(host: "h", port: 70000, message: "port 70000 is outside 1...65535")) {
            try RedisConnection(address: RedisAddress(host: "h", port: 70000))
        }
    }

    @Test("a command that outlives the command timeout throws timeout and breaks the connection")
    func commandTimeout() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let keys = TestKeys()
        let connection = try server.connect(commandTimeout: .milliseconds(300))
        let clock = ContinuousClock()
        let start = clock.now

        #expect(throws: RedisError.timeout(after: .milliseconds(300))) {
            try connection.command(["BLPOP", keys("never-pushed"), "5"])
        }

        let elapsed = clock.now - start
        #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(3), "took \(elapsed)")
        #expect(connection.isBroken)
        let error = #expect(throws: RedisError.self) { try connection.command(["PING"]) }
        guard case .connectionBroken = error else {
            Issue.record("expected connectionBroken, got \(String(describing: error))")
            return
        }
    }

    @Test("a connection the server closes gives an I/O error, not a SIGPIPE crash, and reports broken")
    func serverClosesConnection() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let keys = TestKeys()
        let victim = try server.connect()
        let killer = try server.connect()
        let id = try #require(try victim.command(["CLIENT", "ID"]).int)
        #expect(try killer.command(["CLIENT", "KILL", "ID", String(id)]) == .integer(1))

        let large = [UInt8](repeating: 0x61, count: 16 << 20)
        let error = #expect(throws: RedisError.self) {
            try victim.command([Array("SET".utf8), Array(keys("large").utf8), large])
        }

        guard case .io = error else {
            Issue.record("expected RedisError.io, got \(String(describing: error))")
            return
        }
        #expect(victim.isBroken)
        #expect(try killer.command(["PING"]) == .status("PONG"))
    }

    @Test("the database in the address is selected on connect")
    func selectsDatabase() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        let keys = TestKeys()

        _ = try server.connect(database: 3).command(["SET", keys("k"), "in db 3"])

        #expect(try server.connect(database: 3).command(["GET", keys("k")]).string == "in db 3")
        #expect(try server.connect(database: 0).command(["GET", keys("k")]) == .null)
    }

    @Test("a rejected AUTH is a connectionFailed error that does not echo the password")
    func rejectedAuth() throws {
        let server = try RedisTestServer.start()
        defer { server.stop() }
        var address = server.address
        address.password = "wrong-test-password-1234"

        let error = #expect(throws: RedisError.self) { try RedisConnection(address: address) }

        guard case let .connectionFailed(_, port, message) = error else {
            Issue.record("expected connectionFailed, got \(String(describing: error))")
            return
        }
        #expect(port == server.port)
        #expect(message.hasPrefix("AUTH failed"))
        #expect(!"\(String(describing: error))".contains("wrong-test-password-1234"))
    }
}
