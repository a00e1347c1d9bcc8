import AdLoadCore
import AdLoadTestSupport
import Foundation
@testable import StateStore
import Testing

/// A small seeded generator (SplitMix64), so a failing sequence can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Whether two doubles agree within 1e-12 relative.
func isClose(_ a: Double?, _ b: Double?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case let (a?, b?): a == b || abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    default: false
    }
}

func expectSameRecord(_ redis: UserRecord?, _ memory: UserRecord?, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let redis, let memory else {
        #expect(redis == nil && memory == nil, "\(what): one store has no record", sourceLocation: sourceLocation)
        return
    }
    let same = isClose(redis.lastVisit, memory.lastVisit) && isClose(redis.lastUpdate, memory.lastUpdate)
        && zip(redis.week, memory.week).allSatisfy { isClose($0, $1) }
        && zip(redis.month, memory.month).allSatisfy { isClose($0, $1) }
        && redis.week.count == memory.week.count && redis.month.count == memory.month.count
        && isClose(redis.recentDwell, memory.recentDwell)
        && redis.adReactions.count == 2 && memory.adReactions.count == 2
        && zip(redis.adReactions, memory.adReactions).allSatisfy { isClose($0, $1) }
        && redis.totalSessions == memory.totalSessions && redis.adsToday == memory.adsToday
    #expect(same, "\(what):\nredis  \(redis)\nmemory \(memory)", sourceLocation: sourceLocation)
}

/// A private server, a store over it with a key prefix unique to the test, and cleanup.
struct StoreFixture {
    let server: RedisTestServer
    let store: RedisLiveStore
    let keys: TestKeys

    /// - Parameter prefixed: whether keys get a prefix unique to the test; on a private server
    ///   one can do without it (to measure the production key names).
    init(_ test: String = #function, prefixed: Bool = true, options: RedisLiveStore.Options = .init()) throws {
        server = try RedisTestServer.start()
        keys = TestKeys(test)
        var options = options
        options.keyPrefix = prefixed || server.isExternal ? keys("") : ""
        options.readTimeout = .seconds(2)
        // The default 1 s write deadline is a service's; a test that writes for 1,000
        // concurrent users on a loaded 2-core machine met it only most of the time.
        options.writeTimeout = .seconds(5)
        store = RedisLiveStore(configuration: .init(address: server.address), options: options)
    }

    func close() async {
        await store.shutdown()
        server.stop()
    }
}

extension RedisSerializedTests {
    @Suite("RedisLiveStore against a real redis-server")
    struct RedisLiveStoreTests {
        @Test("a seeded random sequence gives the same records, outcomes and streams as InMemoryLiveStore")
        func conformsToInMemoryStore() async throws {
            let fixture = try StoreFixture()
            let redis = fixture.store
            let memory = InMemoryLiveStore()
            var random = SplitMix64(state: 20_240_601)
            let users = ["alice", "bob", "carol", "dave", "eve", "user:6/ü"]
            var time = 20_000.3
            var decisions: [DecisionEntry] = []
            var sent: [FeedbackEntry] = []
            var duplicatesSeen = 0

            func randomEvents(_ random: inout SplitMix64) -> [FeedbackEvent] {
                (0..<Int.random(in: 1...6, using: &random)).map { _ in
                    let kind = FeedbackEvent.Kind.allCases.randomElement(using: &random) ?? .impression
                    switch kind {
                    case .sessionEnd:
                        return FeedbackEvent(kind: kind, value: Double(Int.random(in: 1...40, using: &random)))
                    case .dwell:
                        return FeedbackEvent(kind: kind, position: Int.random(in: 1...12, using: &random),
                                             value: Double.random(in: 0...45, using: &random))
                    case .conversion:
                        return FeedbackEvent(kind: kind, position: Bool.random(using: &random) ? Int.random(in: 1...12, using: &random) : nil)
                    default:
                        return FeedbackEvent(kind: kind, position: Int.random(in: 1...12, using: &random))
                    }
                }
            }

            for step in 0..<600 {
                time += Double.random(in: 0...0.04, using: &random)
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<3:
                    let batch = (0..<Int.random(in: 1...3, using: &random)).map { index in
                        DecisionEntry(
                            decisionID: "d\(step)-\(index)", userID: users.randomElement(using: &random) ?? "alice",
                            time: time, region: "EU", policyVersion: "v1", features: [1, time.truncatingRemainder(dividingBy: 1), 0.1],
                            plan: [2, 4, 3], chosen: 1, adPositions: [2, 6], probability: 0.625,
                            propensity: "exact", fallback: false, feedLength: 12, adLimit: 3
                        )
                    }
                    decisions += batch
                    try await redis.recordDecisions(batch)
                    try await memory.recordDecisions(batch)
                case 3..<8:
                    var entry: FeedbackEntry
                    if let decision = decisions.randomElement(using: &random), Int.random(in: 0..<10, using: &random) > 0 {
                        // Feedback usually arrives shortly after its decision; sometimes late, out of order.
                        let delay = Bool.random(using: &random) ? Double.random(in: 0...0.01, using: &random) : time - decision.time
                        entry = FeedbackEntry(decisionID: decision.decisionID, userID: decision.userID,
                                              time: decision.time + delay, events: randomEvents(&random), sessionStart: decision.time)
                    } else {
                        // A decision whose time is unknown: the session starts at the feedback time.
                        entry = FeedbackEntry(decisionID: "unknown-\(step)", userID: users.randomElement(using: &random) ?? "bob",
                                              time: time, events: randomEvents(&random))
                    }
                    if Int.random(in: 0..<5, using: &random) == 0, let repeated = entry.events.first {
                        entry.events.append(repeated)
                    }
                    sent.append(entry)
                    let redisOutcome = try await redis.applyFeedback(entry)
                    let memoryOutcome = try await memory.applyFeedback(entry)
                    #expect(redisOutcome == memoryOutcome, "step \(step): \(entry)")
                default:
                    guard var entry = sent.randomElement(using: &random) else { continue }
                    if Bool.random(using: &random) {
                        entry.events += randomEvents(&random)
                        entry.time += Double.random(in: 0...0.01, using: &random)
                    }
                    let redisOutcome = try await redis.applyFeedback(entry)
                    let memoryOutcome = try await memory.applyFeedback(entry)
                    #expect(redisOutcome == memoryOutcome, "step \(step), repeated: \(entry)")
                    duplicatesSeen += redisOutcome.duplicateEvents
                }
            }
            #expect(duplicatesSeen > 50, "the sequence must exercise repeated feedback")

            let days = Int(20_000.3)...Int(time.rounded(.down)) + 1
            #expect(days.count >= 4, "the sequence must span several days")
            for user in users + ["never-seen"] {
                for day in days {
                    let fromRedis = try await redis.userRecord(userID: user, day: day)
                    let fromMemory = try await memory.userRecord(userID: user, day: day)
                    expectSameRecord(fromRedis, fromMemory, "user \(user) day \(day)")
                }
            }
            #expect(try await redis.userRecord(userID: "never-seen", day: days.lowerBound) == nil)

            for stream in StreamName.allCases {
                let fromRedis = try await redis.readStream(stream, group: "compare", consumer: "c", count: 100_000, block: .zero)
                let fromMemory = try await memory.readStream(stream, group: "compare", consumer: "c", count: 100_000, block: .zero)
                #expect(fromRedis.count == fromMemory.count, "\(stream)")
                #expect(fromRedis.map(\.fields) == fromMemory.map(\.fields), "\(stream)")
                #expect(!fromRedis.isEmpty)
            }
            await fixture.close()
        }

        @Test("repeated feedback is ignored the second time and does not reach the stream again")
        func repeatedFeedback() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            let entry = FeedbackEntry(decisionID: "d1", userID: "u1", time: 20_100.5, events: [
                FeedbackEvent(kind: .impression, position: 3), FeedbackEvent(kind: .impression, position: 7),
                FeedbackEvent(kind: .dwell, position: 1, value: 12.5), FeedbackEvent(kind: .sessionEnd, value: 9),
            ])

            #expect(try await store.applyFeedback(entry) == FeedbackOutcome(newEvents: 4, duplicateEvents: 0, counted: entry.events))
            #expect(try await store.applyFeedback(entry) == FeedbackOutcome(newEvents: 0, duplicateEvents: 4, counted: []))

            let record = try #require(try await store.userRecord(userID: "u1", day: 20_100))
            #expect(record.adsToday == 2)
            #expect(record.totalSessions == 1)
            #expect(record.week == [1, 1, 2, 0, 0])
            #expect(record.recentDwell == 12.5)
            #expect(record.lastVisit == 20_100.5)
            #expect(try await store.userRecord(userID: "u1", day: 20_101)?.adsToday == 0)
            let entries = try await store.readStream(.feedback, group: "g", consumer: "c", count: 10, block: .zero)
            #expect(entries.map(\.fields) == [[
                "decision_id": "d1", "user_id": "u1", "time": "20100.5",
                "events": "impression:3:,impression:7:,dwell:1:12.5,session_end::9.0",
            ]])
            await #expect(throws: StoreError.self) { try await store.userRecord(userID: "a{b}", day: 1) }
            await fixture.close()
        }

        @Test("a session that ended on an ad adds one reaction once, whichever of its end and the impression is counted last")
        func endedOnAdReaction() async throws {
            let fixture = try StoreFixture()
            let memory = InMemoryLiveStore()
            let time = 20_200.5
            func send(_ decision: String, _ events: [FeedbackEvent]) async throws {
                let entry = FeedbackEntry(decisionID: decision, userID: "u1", time: time, events: events, sessionStart: time)
                #expect(try await fixture.store.applyFeedback(entry) == (try await memory.applyFeedback(entry)))
            }
            func reactions() async throws -> [Double] {
                let fromRedis = try #require(try await fixture.store.userRecord(userID: "u1", day: 20_200))
                let fromMemory = try #require(try await memory.userRecord(userID: "u1", day: 20_200))
                #expect(fromRedis.adReactions == fromMemory.adReactions)
                return fromRedis.adReactions
            }
            // Together: impressions at 3 and 9, a skip, the end at 9 → 2 ads, 2 reactions.
            try await send("a", [
                FeedbackEvent(kind: .impression, position: 3), FeedbackEvent(kind: .impression, position: 9),
                FeedbackEvent(kind: .skip, position: 9), FeedbackEvent(kind: .sessionEnd, value: 9),
            ])
            #expect(try await reactions() == [2, 2])
            // The end first, its impression later (and again): one reaction.
            try await send("b", [FeedbackEvent(kind: .sessionEnd, value: 7)])
            #expect(try await reactions() == [2, 2])
            try await send("b", [FeedbackEvent(kind: .impression, position: 7)])
            try await send("b", [FeedbackEvent(kind: .impression, position: 7), FeedbackEvent(kind: .sessionEnd, value: 7)])
            #expect(try await reactions() == [3, 3])
            // Ended on organic items, or a length that is not a position: none.
            try await send("c", [FeedbackEvent(kind: .impression, position: 4), FeedbackEvent(kind: .sessionEnd, value: 8)])
            try await send("c", [FeedbackEvent(kind: .impression, position: 6)])
            try await send("d", [FeedbackEvent(kind: .impression, position: 5), FeedbackEvent(kind: .sessionEnd, value: 5.5)])
            #expect(try await reactions() == [6, 3])
            await fixture.close()
        }

        @Test("a session end records the entry's session start (the feedback time when unknown); decisions leave no per-user key")
        func sessionStartAndKeys() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            let connection = try fixture.server.connect()
            try await store.recordDecisions([
                sampleDecision(id: "recent", user: "u1", time: 20_007.4), sampleDecision(id: "new", user: "u1", time: 20_008),
            ])
            #expect(try connection.command(["KEYS", store.options.keyPrefix + "{u:u1}*"]) == .array([]))

            _ = try await store.applyFeedback(FeedbackEntry(
                decisionID: "recent", userID: "u1", time: 20_008.2, events: [FeedbackEvent(kind: .sessionEnd, value: 4)],
                sessionStart: 20_007.4
            ))
            #expect(try await store.userRecord(userID: "u1", day: 20_008)?.lastVisit == 20_007.4)

            _ = try await store.applyFeedback(FeedbackEntry(
                decisionID: "old", userID: "u1", time: 20_008.3, events: [FeedbackEvent(kind: .sessionEnd, value: 4)]
            ))
            #expect(try await store.userRecord(userID: "u1", day: 20_008)?.lastVisit == 20_008.3)
            let counted = store.options.keyPrefix + "{u:u1}:ce:old"
            let counterTTL = try #require(try connection.command(["TTL", counted]).int)
            #expect(counterTTL > 6 * 86_400 && counterTTL <= 7 * 86_400)
            // The session length + 1 (big-endian), then position 0's byte with the session_end bit (7).
            #expect(try connection.command(["GET", counted]) == .bulk([0, 5, 0x80]))
            await fixture.close()
        }

        @Test("a region's pacing counters outlive the profile's 14 days (16 days); a slot's active users live 2 days")
        func pacingRetention() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            let connection = try fixture.server.connect()
            try await store.addPacingCounters(
                PacingCounters(revenue: 2, impressions: 3, sessions: 1), userID: "alice", region: "na", day: 20_000, slot: 7)
            let counters = try #require(try connection.command(["TTL", store.keys.pacingCounters(region: "na", day: 20_000)]).int)
            #expect(counters > 15 * 86_400 && counters <= 16 * 86_400, "counters' TTL \(counters) s")
            let users = try #require(try connection.command(["TTL", store.keys.pacingUsers(region: "na", day: 20_000, slot: 7)]).int)
            #expect(users > 86_400 && users <= 2 * 86_400, "active users' TTL \(users) s")
            let day = try await store.pacingDay(region: "na", day: 20_000, activeThrough: nil)
            #expect(day.slots[7] == PacingCounters(revenue: 2, impressions: 3, sessions: 1) && day.activeUsers == 1)
            await fixture.close()
        }

        @Test("counted events take a few bytes per decision, a third of a hash of their identities")
        func countedEventsLayout() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            let connection = try fixture.server.connect()
            var events = (1...25).map { FeedbackEvent(kind: .dwell, position: $0, value: 3) }
            events += stride(from: 5, through: 25, by: 5).map { FeedbackEvent(kind: .impression, position: $0) }
            events.append(FeedbackEvent(kind: .sessionEnd, value: 25))
            let outcome = try await store.applyFeedback(FeedbackEntry(decisionID: "long", userID: "u2", time: 20_000.5, events: events))
            #expect(outcome == FeedbackOutcome(newEvents: 31, duplicateEvents: 0, counted: events))
            let counted = store.options.keyPrefix + "{u:u2}:ce:long"
            #expect(try connection.command(["STRLEN", counted]).int == 2 + 26)
            // The same events as the hash of identities that earlier versions kept, under a name as long.
            let hashed = store.options.keyPrefix + "{u:u2}:fe:long"
            _ = try connection.command(["HSET", hashed, "#len", "25"] + events.flatMap { [$0.identity, ""] })
            let bytes = try #require(try connection.command(["MEMORY", "USAGE", counted, "SAMPLES", "0"]).int)
            let hashBytes = try #require(try connection.command(["MEMORY", "USAGE", hashed, "SAMPLES", "0"]).int)
            #expect(bytes * 3 < hashBytes, "MEMORY USAGE of a 25-item session's counted events: \(bytes) bytes, as a hash \(hashBytes)")
            _ = try connection.command(["DEL", hashed])
            #expect(try await store.userRecord(userID: "u2", day: 20_000)?.adReactions[1] == 1, "the session ended on an ad")

            let empty = try await store.applyFeedback(FeedbackEntry(decisionID: "long", userID: "u2", time: 20_000.8, events: []))
            #expect(empty == FeedbackOutcome(newEvents: 0, duplicateEvents: 0))
            #expect(try connection.command(["STRLEN", counted]).int == 2 + 26, "a call without events changes nothing")
            await fixture.close()
        }

        @Test("both stores refuse an event at a position outside 1...512 and count nothing of that feedback")
        func positionOutOfRange() async throws {
            let fixture = try StoreFixture()
            let stores: [any LiveStore] = [fixture.store, InMemoryLiveStore()]
            for store in stores {
                let entry = FeedbackEntry(decisionID: "d", userID: "u4", time: 20_000.5, events: [
                    FeedbackEvent(kind: .dwell, position: 2, value: 1), FeedbackEvent(kind: .impression, position: 513),
                ])
                await #expect(throws: StoreError.failed("feedback for decision d: event 2 (impression) has position 513, outside 1...512")) {
                    try await store.applyFeedback(entry)
                }
                #expect(try await store.userRecord(userID: "u4", day: 20_000) == nil, "\(type(of: store))")
            }
            await fixture.close()
        }

        @Test("a user hash field that is not a number fails the read naming the key and field; a user with no field set is unknown")
        func malformedUserHash() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            let connection = try fixture.server.connect()
            let key = store.options.keyPrefix + "{u:broken}"
            #expect(try await store.userRecord(userID: "broken", day: 20_000) == nil)
            _ = try connection.command(["HSET", key, "unrelated", "1"])
            #expect(try await store.userRecord(userID: "broken", day: 20_000) == nil, "only the record's own fields count")
            _ = try connection.command(["HSET", key, "lv", "20000.5", "w2", "three"])
            do {
                _ = try await store.userRecord(userID: "broken", day: 20_000)
                Issue.record("a field holding text was read as a number")
            } catch {
                #expect(error.description.contains(key) && error.description.contains("field w2 holds `three`"), "\(error)")
            }
            _ = try connection.command(["HSET", key, "w2", "3", "ts", "2.5"])
            await #expect(throws: StoreError.self) { try await store.userRecord(userID: "broken", day: 20_000) }
            _ = try connection.command(["HSET", key, "ts", "12", "q1", "0.25"])
            let record = try #require(try await store.userRecord(userID: "broken", day: 20_000))
            #expect(record.lastVisit == 20_000.5 && record.week[2] == 3 && record.totalSessions == 12 && record.adReactions == [0, 0.25])
            #expect(record.lastUpdate == nil && record.month == [0, 0, 0, 0, 0])
            await fixture.close()
        }

        @Test("publishPolicy, activePolicyVersion and policyBlob round-trip a binary blob")
        func policyRegistry() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            #expect(try await store.activePolicyVersion() == nil)
            #expect(try await store.policyBlob(version: "v1") == nil)

            let first = Data([0, 1, 2, 0, 0, 255, 13, 10] + Array("policy one\0".utf8))
            let second = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            try await store.publishPolicy(version: "v1", blob: first)
            #expect(try await store.activePolicyVersion() == "v1")
            try await store.publishPolicy(version: "v2", blob: second)

            #expect(try await store.activePolicyVersion() == "v2")
            #expect(try await store.policyBlob(version: "v1") == first)
            #expect(try await store.policyBlob(version: "v2") == second)
            #expect(try await store.policyBlob(version: "v3") == nil)
            try await store.ping()

            // Conditional publication: only over the expected active version, atomically.
            let third = Data([9, 0, 9])
            #expect(try await store.publishPolicy(version: "v3", blob: third, ifActive: "v1") == .activeChanged("v2"))
            #expect(try await store.policyBlob(version: "v3") == nil)
            #expect(try await store.activePolicyVersion() == "v2")
            #expect(try await store.publishPolicy(version: "v3", blob: third, ifActive: "v2") == .published)
            #expect(try await store.activePolicyVersion() == "v3")
            #expect(try await store.policyBlob(version: "v3") == third)
            await fixture.close()

            let empty = try StoreFixture()
            #expect(try await empty.store.publishPolicy(version: "v1", blob: first, ifActive: "v0") == .activeChanged(nil))
            #expect(try await empty.store.publishPolicy(version: "v1", blob: first, ifActive: nil) == .published)
            #expect(try await empty.store.activePolicyVersion() == "v1")
            await empty.close()
        }

        @Test("registry history, a rollback without a blob and range reads of the streams behave alike in Redis and in memory")
        func registryHistoryAndRanges() async throws {
            let fixture = try StoreFixture()
            let memory = InMemoryLiveStore()
            for store in [fixture.store, memory] as [any LiveStore] {
                func event(_ version: String, _ previous: String?, _ action: RegistryEvent.Action) -> RegistryEvent {
                    RegistryEvent(version: version, previous: previous, action: action, at: "2026-12-04T00:00:00Z", by: "test",
                                  evidence: action == .promote ? .object(["passed": .bool(true), "value": .number(0.25)]) : nil)
                }
                #expect(try await store.policyHistory(limit: 10) == [])
                #expect(try await store.publishPolicy(version: "a", blob: Data("A".utf8), ifActive: nil, event: event("a", nil, .publish)) == .published)
                #expect(try await store.publishPolicy(version: "b", blob: Data("B".utf8), ifActive: "a", event: event("b", "a", .promote)) == .published)
                // A stale expectation changes nothing, not even the history.
                #expect(try await store.publishPolicy(version: "c", blob: Data("C".utf8), ifActive: "a", event: event("c", "a", .learn)) == .activeChanged("b"))
                // A rollback names a stored version and sends no blob; an unknown one is refused.
                await #expect(throws: StoreError.failed("the registry has no policy version zz")) {
                    try await store.publishPolicy(version: "zz", blob: nil, ifActive: "b", event: event("zz", "b", .rollback))
                }
                #expect(try await store.publishPolicy(version: "a", blob: nil, ifActive: "b", event: event("a", "b", .rollback)) == .published)
                #expect(try await store.activePolicyVersion() == "a")
                #expect(try await store.policyBlob(version: "a") == Data("A".utf8))
                #expect(try await store.policyVersions() == ["a", "b"])
                let history = try await store.policyHistory(limit: 10)
                #expect(history.map(\.version) == ["a", "b", "a"])
                #expect(history.map(\.action) == [.rollback, .promote, .publish])
                #expect(history[1].evidence == .object(["passed": .bool(true), "value": .number(0.25)]))
                #expect(try await store.policyHistory(limit: 2).count == 2)

                for index in 0..<5 {
                    try await store.recordDecisions([DecisionEntry(
                        decisionID: "d\(index)", userID: "u", time: Double(index), region: "na", policyVersion: "a", features: [1],
                        plan: [1, 5, 1], chosen: 0, adPositions: [1], probability: 1, propensity: "exact", fallback: false, feedLength: 10,
                        adLimit: 1)])
                }
                let newest = try await store.latestEntries(.decisions, before: nil, count: 2)
                #expect(newest.count == 2)
                let older = try await store.latestEntries(.decisions, before: newest[0].id, count: 10)
                #expect(older.count == 3)
                let all = try await store.entries(.decisions, after: "0", count: 10)
                #expect(all.map(\.id) == older.map(\.id) + newest.map(\.id))
                #expect(try await store.entries(.decisions, after: all[2].id, count: 1).map(\.id) == [all[3].id])
            }
            await fixture.close()
        }

        @Test("decisions are written 16 to an entry; consumer group: read, acknowledge, then nothing is pending; a blocking read wakes on a new entry")
        func consumerGroupReadAndAck() async throws {
            let fixture = try StoreFixture()
            let store = fixture.store
            // 40 decisions in one write: entries of 16, 16 and 8, one decision per line.
            let entries = (0..<40).map { sampleDecision(id: "d\($0)", user: "u\($0)") }
            try await store.recordDecisions(entries)

            let read = try await store.readStream(.decisions, group: "learner", consumer: "c1", count: 10, block: .zero)
            #expect(read.count == 3)
            let decoded = try read.flatMap { entry in
                try DecisionStreamFormat.decisions(inField: entry.fields["d"] ?? "").map { try JSONDecoder().decode(DecisionEntry.self, from: Data($0.utf8)) }
            }
            #expect(decoded == entries)
            #expect(read.map { DecisionStreamFormat.decisions(inField: $0.fields["d"] ?? "").count } == [16, 16, 8])
            #expect(try await store.pendingEntries(.decisions, group: "learner", consumer: "c1", count: 10) == read)

            try await store.acknowledge(.decisions, group: "learner", ids: read.map(\.id))
            #expect(try await store.pendingEntries(.decisions, group: "learner", consumer: "c1", count: 10) == [])
            #expect(try await store.readStream(.decisions, group: "learner", consumer: "c1", count: 10, block: .zero) == [])

            let clock = ContinuousClock()
            let start = clock.now
            let waiting = Task { try await store.readStream(.decisions, group: "learner", consumer: "c1", count: 10, block: .seconds(3)) }
            // Give the blocking read time to reach the real redis-server and block there.
            try await Task.sleep(for: .milliseconds(200))
            // The decide path is not held up by the blocked read.
            #expect(try await store.userRecord(userID: "u0", day: 1) == nil)
            #expect(clock.now - start < .seconds(1))
            try await store.recordDecisions([sampleDecision(id: "late", user: "u9")])
            let woken = try await waiting.value
            #expect(woken.map { $0.fields["d"]?.contains("\"late\"") } == [true])
            #expect(clock.now - start < .seconds(2))
            await fixture.close()
        }

        @Test("entries read but not acknowledged before a crash are returned by pendingEntries after a restart")
        func pendingAfterCrash() async throws {
            let fixture = try StoreFixture()
            for index in 0..<5 { try await fixture.store.recordDecisions([sampleDecision(id: "d\(index)", user: "u")]) }
            let delivered = try await fixture.store.readStream(.decisions, group: "learner", consumer: "worker-1", count: 2, block: .zero)
            #expect(delivered.count == 2)

            // A new process: a new store and clients, same Redis.
            let restarted = RedisLiveStore(configuration: .init(address: fixture.server.address), options: fixture.store.options)
            let pending = try await restarted.pendingEntries(.decisions, group: "learner", consumer: "worker-1", count: 10)
            #expect(pending == delivered)
            // Paged: the entries after a given id.
            #expect(try await restarted.pendingEntries(.decisions, group: "learner", consumer: "worker-1", count: 10, after: delivered[0].id) == [delivered[1]])
            #expect(try await restarted.pendingEntries(.decisions, group: "learner", consumer: "worker-2", count: 10) == [])
            #expect(try await restarted.pendingEntries(.decisions, group: "no-such-group", consumer: "worker-1", count: 10) == [])
            try await restarted.acknowledge(.decisions, group: "learner", ids: pending.map(\.id))
            #expect(try await restarted.pendingEntries(.decisions, group: "learner", consumer: "worker-1", count: 10) == [])
            let rest = try await restarted.readStream(.decisions, group: "learner", consumer: "worker-1", count: 10, block: .zero)
            #expect(rest.count == 3)
            await restarted.shutdown()
            await fixture.close()
        }

        @Test("sharded streams: every shard is read, paged, acknowledged and ranged; each entry once, in (id, shard) order")
        func shardedStreams() async throws {
            let fixture = try StoreFixture(options: .init(streamShards: 4))
            let store = fixture.store
            let memory = InMemoryLiveStore()
            let users = (0..<40).map { "sharded-\($0)" }
            #expect(Set(users.compactMap(store.streamShard(ofUser:))) == [0, 1, 2, 3], "40 users land on all four shards")
            for (index, user) in users.enumerated() {
                let decision = sampleDecision(id: "d\(index)", user: user, time: 20_000.5 + Double(index) * 0.001)
                let feedback = FeedbackEntry(
                    decisionID: "d\(index)", userID: user, time: decision.time + 0.0001,
                    events: [FeedbackEvent(kind: .impression, position: 2), FeedbackEvent(kind: .click, position: 2)])
                for target in [store as any LiveStore, memory] {
                    try await target.recordDecisions([decision])
                    _ = try await target.applyFeedback(feedback)
                }
            }
            for stream in StreamName.allCases {
                // A consumer group reads every shard in small reads, each entry once.
                var read: [StreamEntry] = []
                while true {
                    let page = try await store.readStream(stream, group: "g", consumer: "c", count: 7, block: .zero)
                    if page.isEmpty { break }
                    #expect(page.count <= 7)
                    read += page
                }
                #expect(read.count == 40 && Set(read.map(\.id)).count == 40, "\(stream)")
                #expect(read.allSatisfy { StreamShardID($0.id).map { $0.shard < 4 } ?? false }, "ids name their shard")
                let fromMemory = try await memory.readStream(stream, group: "g", consumer: "c", count: 1000, block: .zero)
                #expect(read.map(\.fields.sortedText).sorted() == fromMemory.map(\.fields.sortedText).sorted(), "\(stream)")

                // Pending entries page across shards; acknowledged, none is left.
                var pending: [StreamEntry] = []
                var after = "0"
                while true {
                    let page = try await store.pendingEntries(stream, group: "g", consumer: "c", count: 3, after: after)
                    pending += page
                    guard page.count == 3, let last = page.last else { break }
                    after = last.id
                }
                #expect(Set(pending.map(\.id)) == Set(read.map(\.id)) && pending.count == 40, "\(stream)")
                try await store.acknowledge(stream, group: "g", ids: read.map(\.id))
                #expect(try await store.pendingEntries(stream, group: "g", consumer: "c", count: 100) == [])

                // Range reads merge the shards in (id, shard) order, forwards and backwards.
                var forwards: [StreamEntry] = []
                after = "0"
                while true {
                    let page = try await store.entries(stream, after: after, count: 6)
                    forwards += page
                    guard let last = page.last else { break }
                    after = last.id
                }
                let order = forwards.compactMap { StreamShardID($0.id) }
                #expect(order.count == 40 && order == order.sorted() && Set(order.map(\.text)) == Set(read.map(\.id)), "\(stream)")
                var backwards: [StreamEntry] = []
                var before: String?
                while true {
                    let page = try await store.latestEntries(stream, before: before, count: 6)
                    backwards.insert(contentsOf: page, at: 0)
                    guard let first = page.first else { break }
                    before = first.id
                }
                #expect(backwards == forwards, "\(stream)")
                // A plain Redis id is a cursor too: after it in every shard.
                let middle = order[20]
                let afterMiddle = try await store.entries(stream, after: middle.redisID, count: 100)
                #expect(afterMiddle.count == order.filter { ($0.milliseconds, $0.sequence) > (middle.milliseconds, middle.sequence) }.count)
                #expect(!afterMiddle.isEmpty && afterMiddle.allSatisfy {
                    StreamShardID($0.id).map { ($0.milliseconds, $0.sequence) > (middle.milliseconds, middle.sequence) } ?? false
                })
            }
            await #expect(throws: StoreError.self) { try await store.acknowledge(.decisions, group: "g", ids: ["1-0"]) }
            await #expect(throws: StoreError.self) { try await store.acknowledge(.decisions, group: "g", ids: ["1-0@9"]) }

            // A blocking read waits on all shards and wakes when any gets an entry.
            let waiting = Task { try await store.readStream(.decisions, group: "g", consumer: "c", count: 10, block: .seconds(3)) }
            try await Task.sleep(for: .milliseconds(200))
            try await store.recordDecisions([sampleDecision(id: "late", user: "sharded-late")])
            #expect(try await waiting.value.map { $0.fields["d"]?.contains("\"late\"") } == [true])

            // A shard that fails does not lose what the others delivered.
            let broken = store.keys.stream(.decisions, shard: 2)
            try await store.recordDecisions((0..<40).map { sampleDecision(id: "again-\($0)", user: "sharded-\($0)") })
            _ = try await store.client.execute([["DEL", broken], ["SET", broken, "not a stream"]], timeout: .seconds(2))
            let partial = try await store.readStream(.decisions, group: "g2", consumer: "c", count: 1000, block: .zero)
            #expect(!partial.isEmpty && partial.allSatisfy { StreamShardID($0.id)?.shard != 2 })
            _ = try await store.client.execute([["DEL", broken]], timeout: .seconds(2))
            await fixture.close()
        }

        @Test("a store whose Redis is gone fails with unavailable")
        func unavailable() async throws {
            let fixture = try StoreFixture()
            try await fixture.store.ping()
            fixture.server.stop()
            for _ in 0..<3 {
                let error = await #expect(throws: StoreError.self) { try await fixture.store.userRecord(userID: "u", day: 1) }
                guard case .unavailable = error else {
                    Issue.record("expected unavailable, got \(String(describing: error))")
                    break
                }
            }
            await fixture.close()
        }

        @Test("a user hash written by applyFeedback takes less than 512 bytes (MEMORY USAGE)")
        func memoryPerUser() async throws {
            let fixture = try StoreFixture(prefixed: false)
            let store = fixture.store
            var random = SplitMix64(state: 7)
            let users = 1000
            try await withThrowingTaskGroup(of: Void.self) { group in
                for user in 0..<users {
                    let seed = random.next()
                    group.addTask {
                        var random = SplitMix64(state: seed)
                        var time = 20_000 + Double.random(in: 0...1, using: &random)
                        for session in 0..<3 {
                            let decision = sampleDecision(id: "s\(user)-\(session)", user: "user-\(user)", time: time)
                            try await store.recordDecisions([decision])
                            let events = [
                                FeedbackEvent(kind: .impression, position: 3), FeedbackEvent(kind: .click, position: 3),
                                FeedbackEvent(kind: .dwell, position: 1, value: Double.random(in: 1...30, using: &random)),
                                FeedbackEvent(kind: .skip, position: 5), FeedbackEvent(kind: .sessionEnd, value: 10),
                            ]
                            _ = try await store.applyFeedback(FeedbackEntry(
                                decisionID: decision.decisionID, userID: decision.userID, time: time + 0.01, events: events
                            ))
                            time += Double.random(in: 0.1...2, using: &random)
                        }
                    }
                }
                try await group.waitForAll()
            }

            let connection = try fixture.server.connect()
            let sample = stride(from: 0, to: users, by: 20).map { fixture.store.options.keyPrefix + "{u:user-\($0)}" }
            let sizes = try connection.pipeline(sample.map { ["MEMORY", "USAGE", $0, "SAMPLES", "0"] }).map { $0.int ?? .max }
            let largest = try #require(sizes.max())
            #expect(largest < 512, "MEMORY USAGE per user hash: largest \(largest), mean \(sizes.reduce(0, +) / sizes.count) bytes")
            #expect(try connection.command(["OBJECT", "ENCODING", sample[0]]).string == "listpack")
            await fixture.close()
        }
    }
}

extension [String: String] {
    /// `key=value` pairs in key order, to compare stream entries whose order differs.
    var sortedText: String { sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
}

func sampleDecision(id: String, user: String, time: Double = 20_000.5) -> DecisionEntry {
    DecisionEntry(
        decisionID: id, userID: user, time: time, region: "US", policyVersion: "linucb-3", features: [1, 0.25, -0.5],
        plan: [2, 4, 3], chosen: 1, adPositions: [2, 6, 10], probability: 0.8,
        propensity: "exact", fallback: false, feedLength: 12, adLimit: 3
    )
}
