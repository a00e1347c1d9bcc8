import AdLoadTestSupport
import Foundation
import NIOPosix
@testable import StateStore
import Testing

/// The two transports of ``RedisClient``; every client test runs on both.
enum Transport: String, CaseIterable, CustomTestStringConvertible {
    case threads
    case eventLoops

    /// Two loops, so the default two connections land on different threads.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    var testDescription: String { rawValue }

    var transport: RedisTransport {
        switch self {
        case .threads: .threads
        case .eventLoops: .eventLoops(Self.group)
        }
    }

    /// `configuration` on this transport.
    func callAsFunction(_ configuration: RedisClient.Configuration) -> RedisClient.Configuration {
        var configuration = configuration
        configuration.transport = transport
        return configuration
    }
}

extension RedisSerializedTests {
    @Suite("RedisClient against a real redis-server")
    struct RedisClientTests {
        @Test("2000 concurrent tasks each get their own replies, and concurrent requests share round trips", arguments: Transport.allCases)
        func concurrentRequests(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: transport(.init(address: server.address)))
            let keys = TestKeys()
            let counter = keys("counter")
            let tasks = 2000

            let results = try await withThrowingTaskGroup(of: (Int, RedisReply, [RedisReply]).self) { group in
                for index in 0..<tasks {
                    group.addTask {
                        let increment = try await client.execute([["INCR", counter]], timeout: .seconds(10))
                        let own = try await client.execute(
                            [["SET", keys("own:\(index)"), "value \(index)"], ["GET", keys("own:\(index)")]],
                            timeout: .seconds(10)
                        )
                        return (index, increment[0], own)
                    }
                }
                var results: [(Int, RedisReply, [RedisReply])] = []
                for try await result in group {
                    results.append(result)
                }
                return results
            }

            #expect(results.count == tasks)
            #expect(Set(results.compactMap { $0.1.int }) == Set(1...tasks))
            for (index, _, own) in results {
                #expect(own == [.status("OK"), .bulk(Array("value \(index)".utf8))], "task \(index)")
            }
            let statistics = client.statistics
            #expect(statistics.requests == 2 * tasks)
            #expect(statistics.batchedRequests == 2 * tasks)
            #expect(statistics.commands == 3 * tasks)
            #expect(statistics.failedRequests == 0)
            #expect(statistics.roundTrips * 4 <= statistics.requests, "\(statistics.roundTrips) round trips for \(statistics.requests) requests")
            await client.shutdown()
        }

        @Test("a stopped server fails requests with unavailable in under a second; the client reconnects after a restart", arguments: Transport.allCases)
        func reconnectsAfterRestart(transport: Transport) async throws {
            let server = try RedisTestServer.startPrivate()
            defer { server.stop() }
            let client = RedisClient(configuration: transport(.init(address: server.address, connectTimeout: .milliseconds(500))))
            let keys = TestKeys()
            #expect(try await client.execute([["SET", keys("k"), "before"]], timeout: .seconds(5)) == [.status("OK")])
            try await waitUntil { client.connectionsUp == 2 }

            server.interrupt()
            let clock = ContinuousClock()
            for attempt in 0..<4 {
                let start = clock.now
                let error = await #expect(throws: StoreError.self) {
                    try await client.execute([["GET", keys("k")]], timeout: .seconds(5))
                }
                #expect(clock.now - start < .seconds(1), "attempt \(attempt) took \(clock.now - start)")
                guard case .unavailable = error else {
                    Issue.record("attempt \(attempt): expected unavailable, got \(String(describing: error))")
                    return
                }
            }
            #expect(!client.isConnected)

            try server.resume()
            // The restarted redis-server and the client's reconnect backoff run in real time: retry until it answers.
            let deadline = clock.now + .seconds(8)
            var reply: [RedisReply]?
            while reply == nil && clock.now < deadline {
                reply = try? await client.execute([["SET", keys("k"), "after"]], timeout: .seconds(1))
                if reply == nil {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(reply == [.status("OK")])
            #expect(try await client.execute([["GET", keys("k")]], timeout: .seconds(1)) == [.bulk(Array("after".utf8))])
            let statistics = client.statistics
            #expect(statistics.reconnects >= 1)
            #expect(statistics.connectionErrors == 2, "each connection noticed the stop once")
            await client.shutdown()
        }

        @Test("a client whose server is not there fails its first request quickly", arguments: Transport.allCases)
        func noServer(transport: Transport) async throws {
            let port = try RedisTestServer.freePort()
            let client = RedisClient(configuration: transport(.init(address: RedisAddress(host: "127.0.0.1", port: port))))
            let clock = ContinuousClock()
            let start = clock.now

            let error = await #expect(throws: StoreError.self) {
                try await client.execute([["PING"]], timeout: .seconds(5))
            }

            #expect(clock.now - start < .seconds(1))
            guard case let .unavailable(reason) = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            #expect(reason.contains("\(port)"))
            await client.shutdown()
        }

        @Test("a full queue rejects requests at once instead of growing", arguments: Transport.allCases)
        func overload(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let capacity = 8
            let client = RedisClient(
                configuration: transport(.init(address: server.address, connections: 1, queueCapacity: capacity, commandTimeout: .seconds(5)))
            )
            let keys = TestKeys()
            // Occupy the only connection for two seconds.
            let blocker = Task { try await client.execute([["BLPOP", keys("never"), "2"]], timeout: .seconds(4)) }
            try await waitUntil { client.statistics.roundTrips == 1 }

            let outcomes = await withTaskGroup(of: (Result<[RedisReply], StoreError>, Duration).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let clock = ContinuousClock()
                        let start = clock.now
                        do throws(StoreError) {
                            return (.success(try await client.execute([["PING"]], timeout: .seconds(4))), clock.now - start)
                        } catch {
                            return (.failure(error), clock.now - start)
                        }
                    }
                }
                var outcomes: [(Result<[RedisReply], StoreError>, Duration)] = []
                for await outcome in group {
                    outcomes.append(outcome)
                }
                return outcomes
            }

            let served = outcomes.filter { (try? $0.0.get()) == [.status("PONG")] }
            let rejected = outcomes.filter {
                if case let .failure(.unavailable(reason)) = $0.0 { reason.contains("overloaded") } else { false }
            }
            #expect(served.count == capacity)
            #expect(rejected.count == 20 - capacity)
            #expect(rejected.allSatisfy { $0.1 < .seconds(1) }, "rejections must not wait for the busy connection")
            #expect(client.statistics.rejected == 20 - capacity)
            #expect(try await blocker.value == [.null])
            await client.shutdown()
        }

        @Test("deadlines fire while queued and while in flight, and the connection serves again afterwards", arguments: Transport.allCases)
        func requestDeadlines(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: transport(.init(address: server.address, connections: 1, commandTimeout: .seconds(5))))
            let keys = TestKeys()
            let clock = ContinuousClock()

            // In flight: the command itself outlives the request's deadline.
            var start = clock.now
            let slow = Task { try await client.execute([["BLPOP", keys("never"), "2"]], timeout: .milliseconds(200)) }
            try await waitUntil { client.statistics.roundTrips == 1 }
            // Queued behind it: never sent before its deadline.
            let queuedStart = clock.now
            await #expect(throws: StoreError.timeout) {
                try await client.execute([["PING"]], timeout: .milliseconds(100))
            }
            let queuedElapsed = clock.now - queuedStart
            #expect(queuedElapsed >= .milliseconds(90) && queuedElapsed < .seconds(1), "queued request took \(queuedElapsed)")
            await #expect(throws: StoreError.timeout) { try await slow.value }
            let slowElapsed = clock.now - start
            #expect(slowElapsed >= .milliseconds(190) && slowElapsed < .milliseconds(1200), "in-flight request took \(slowElapsed)")

            // The late BLPOP reply is discarded; the connection stays in step.
            start = clock.now
            #expect(try await client.execute([["SET", keys("k"), "v"], ["GET", keys("k")]], timeout: .seconds(3))
                == [.status("OK"), .bulk(Array("v".utf8))])
            #expect(client.statistics.timeouts == 2)
            #expect(client.statistics.connectionErrors == 0)
            await client.shutdown()
        }

        @Test("a round trip slower than the command timeout breaks the connection with timeout; the next request reconnects", arguments: Transport.allCases)
        func socketTimeout(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(
                configuration: transport(.init(address: server.address, connections: 1, commandTimeout: .milliseconds(300)))
            )
            let keys = TestKeys()
            let clock = ContinuousClock()
            let start = clock.now

            await #expect(throws: StoreError.timeout) {
                try await client.execute([["BLPOP", keys("never"), "3"]], timeout: .seconds(5))
            }

            #expect(clock.now - start < .seconds(2), "the 300 ms socket timeout, not the 3 s BLPOP, must end the request")
            #expect(client.statistics.connectionErrors == 1)
            try await waitUntil { client.isConnected }
            #expect(try await client.execute([["PING"]], timeout: .seconds(2)) == [.status("PONG")])
            #expect(client.statistics.reconnects == 1)
            await client.shutdown()
        }

        @Test("error replies come back in place; an empty command is rejected before sending", arguments: Transport.allCases)
        func errorReplies(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: transport(.init(address: server.address)))
            let keys = TestKeys()

            let replies = try await client.execute(
                [["SET", keys("text"), "abc"], ["INCR", keys("text")], ["GET", keys("text")]], timeout: .seconds(2)
            )

            #expect(replies.count == 3)
            #expect(replies[1].errorMessage?.contains("not an integer") == true)
            #expect(replies[2] == .bulk(Array("abc".utf8)))
            await #expect(throws: StoreError.failed("command 1 of 2 has 0 arguments; nothing was sent")) {
                try await client.execute([["PING"], []], timeout: .seconds(2))
            }
            #expect(try await client.execute([[String]](), timeout: .seconds(2)) == [])
            await client.shutdown()
        }

        @Test("arguments are binary-safe (NUL, CR LF, empty, 1 MB) and replies split across reads are reassembled", arguments: Transport.allCases)
        func binarySafety(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: transport(.init(address: server.address)))
            let keys = TestKeys()
            var generator = SystemRandomNumberGenerator()
            var values: [[UInt8]] = [[], [0], Array("\r\n*1\r\n$3\r\nGET".utf8), [13, 10, 0, 255, 36, 42]]
            values.append((0..<1_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
            for (index, value) in values.enumerated() {
                let key = Array(keys("binary:\(index)\r\n\u{0}").utf8)
                let replies = try await client.execute(
                    [[Array("SET".utf8), key, value], [Array("GET".utf8), key], [Array("STRLEN".utf8), key]], timeout: .seconds(10))
                #expect(replies == [.status("OK"), .bulk(value), .integer(Int64(value.count))], "value \(index) (\(value.count) bytes)")
            }
            await client.shutdown()
        }

        @Test("AUTH and SELECT from the address run on every connection; a wrong password fails requests naming AUTH", arguments: Transport.allCases)
        func authenticationAndDatabase(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let keys = TestKeys()
            _ = try server.connect().command(["CONFIG", "SET", "requirepass", "s3cret"])
            var address = server.address
            address.password = "s3cret"
            address.database = 3
            let client = RedisClient(configuration: transport(.init(address: address)))
            for index in 0..<4 {
                #expect(try await client.execute([["SET", keys("db3:\(index)"), "v"]], timeout: .seconds(5)) == [.status("OK")])
            }
            let direct = try RedisConnection(address: address)
            #expect(try direct.command(["DBSIZE"]) == .integer(4), "every connection selected database 3")
            await client.shutdown()

            address.password = "wrong"
            let refused = RedisClient(configuration: transport(.init(address: address)))
            let error = await #expect(throws: StoreError.self) {
                try await refused.execute([["PING"]], timeout: .seconds(5))
            }
            guard case let .unavailable(reason) = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            #expect(reason.contains("AUTH"), "\(reason)")
            await refused.shutdown()
        }

        @Test("a server that accepts and closes at once is retried with backoff, not in a tight loop")
        func acceptThenClose() async throws {
            let listener = try await ServerBootstrap(group: Transport.group)
                .childChannelInitializer { channel in channel.close() }
                .bind(host: "127.0.0.1", port: 0).get()
            let port = try #require(listener.localAddress?.port)
            let client = RedisClient(configuration: .init(
                address: RedisAddress(host: "127.0.0.1", port: port), connections: 1, initialBackoff: .milliseconds(50),
                maxBackoff: .milliseconds(400), transport: .eventLoops(Transport.group)))
            // The backoff under test is the client's own, in real time against a real socket: let
            // about a second pass, and measure how long it was (a loaded machine wakes late).
            let clock = ContinuousClock()
            let start = clock.now
            try await Task.sleep(for: .seconds(1))
            let statistics = client.statistics
            let elapsed = start.duration(to: clock.now)
            // Attempts at 0, 50, 150, 350, 750, 1150, … ms (the backoff doubles from 50 ms up to
            // 400 ms): how many the schedule allows by `elapsed`. A tight loop makes hundreds.
            var scheduled = 0
            var at = Duration.zero
            var backoff = Duration.milliseconds(50)
            while at <= elapsed {
                scheduled += 1
                at += backoff
                backoff = min(backoff * 2, .milliseconds(400))
            }
            #expect(
                statistics.connectFailures >= 3 && statistics.connectFailures <= scheduled + 1,
                "\(statistics.connectFailures) attempts in \(elapsed), the backoff allows \(scheduled)")
            #expect(statistics.reconnects == 0 && statistics.connectionErrors == 0, "never counted as up: \(statistics)")
            #expect(!client.isConnected)
            await #expect(throws: StoreError.self) { try await client.execute([["PING"]], timeout: .seconds(1)) }
            await client.shutdown()
            try await listener.close()
        }

        @Test("shutdown finishes queued requests, then rejects new ones", arguments: Transport.allCases)
        func shutdown(transport: Transport) async throws {
            let server = try RedisTestServer.start()
            defer { server.stop() }
            let client = RedisClient(configuration: transport(.init(address: server.address, connections: 1, commandTimeout: .seconds(5))))
            let keys = TestKeys()
            let blocker = Task { try await client.execute([["BLPOP", keys("never"), "1"]], timeout: .seconds(4)) }
            try await waitUntil { client.statistics.roundTrips == 1 }
            let queued = Task { try await client.execute([["INCR", keys("n")]], timeout: .seconds(4)) }
            try await waitUntil { client.statistics.requests == 2 }

            await client.shutdown()

            #expect(try await blocker.value == [.null])
            #expect(try await queued.value == [.integer(1)])
            let error = await #expect(throws: StoreError.self) {
                try await client.execute([["PING"]], timeout: .seconds(1))
            }
            guard case .unavailable = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            await client.shutdown()
        }
    }
}

/// Polls `condition` every 5 ms for up to `limit`; fails the test if it never holds. (What
/// these tests wait for happens on a real redis-server, in real time.)
func waitUntil(
    _ limit: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while !condition() {
        guard clock.now < deadline else {
            Issue.record("condition not met within \(limit)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
