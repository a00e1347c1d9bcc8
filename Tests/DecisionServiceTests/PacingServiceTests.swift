import AdLoadCore
import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
@testable import StateStore
import Testing

@Suite("Pacing in the service: /v1/targets, counters from feedback, prices in decisions")
struct PacingServiceTests {
    static let token = "test-admin-token-0123456789"

    /// Targets for the fixture's regions: an impression budget in na, nothing elsewhere.
    static func targetsText(budget: Double = 100, intervalMinutes: Int = 60, budgetJSON: String? = nil, morePacing: String = "") -> String {
        """
        {"name": "test", "description": "service pacing test",
         "pacing": {"proportional_gain": 2, "integral_gain": 5, "max_price": 10, "interval_minutes": \(intervalMinutes), "minimum_day_share": 0.02\(morePacing)},
         "regions": {
           "na": {"daily_revenue": null, "daily_impression_budget": \(budgetJSON ?? "\(budget)"), "max_negative_rate": null, "min_organic_per_session": null},
           "eu": {"daily_revenue": null, "daily_impression_budget": null, "max_negative_rate": null, "min_organic_per_session": null},
           "apac": {"daily_revenue": null, "daily_impression_budget": null, "max_negative_rate": null, "min_organic_per_session": null}
         }}
        """
    }

    static func server(store: InMemoryLiveStore, token: String? = PacingServiceTests.token) throws -> DecisionServer {
        var configuration = Fixtures.configuration()
        configuration.adminToken = token
        let pacing = ServicePacing(store: store, regions: Fixtures.schema.regions, logger: Fixtures.logger, clock: ManualClock())
        return DecisionServer(
            configuration: configuration, store: store, policyHolder: PolicyHolder(initial: try Fixtures.engine()),
            registry: PrometheusCollectorRegistry(), logger: Fixtures.logger, clock: ManualClock(), pacing: pacing)
    }

    func put(_ client: some TestClientProtocol, _ text: String, authorization: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.execute(uri: "/v1/targets", method: .put, headers: headers, body: body(text))
    }

    @Test("PUT /v1/targets is refused without the admin token (401), with a wrong one (403), and when none is configured (403); a bad file is 422 naming the key")
    func adminOnly() async throws {
        let store = InMemoryLiveStore()
        try await buildApplication(server: try Self.server(store: store)).test(.router) { client in
            let none = try await put(client, Self.targetsText(), authorization: nil)
            #expect(none.status == .unauthorized)
            #expect(try none.decode(ErrorAnswer.self).error.field == "authorization")
            let wrong = try await put(client, Self.targetsText(), authorization: "Bearer not-the-token-at-all")
            #expect(wrong.status == .forbidden)
            let bad = try await put(client, Self.targetsText(budget: -5), authorization: "Bearer \(Self.token)")
            #expect(bad.status == .unprocessableContent)
            #expect(try bad.decode(ErrorAnswer.self).error.field == "regions.na.daily_impression_budget", "\(bad.text)")
            #expect(try await store.pacingTargets() == nil, "nothing refused is stored")

            let ok = try await put(client, Self.targetsText(), authorization: "Bearer \(Self.token)")
            #expect(ok.status == .ok, "\(ok.text)")
            #expect(try await store.pacingTargets() == Data(Self.targetsText().utf8))
            let shown = try await client.execute(uri: "/v1/targets", method: .get)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(shown.body.readableBytesView)) as? [String: Any])
            let regions = try #require(document["regions"] as? [[String: Any]])
            #expect(regions.count == 3)
            let na = try #require(regions.first { $0["region"] as? String == "na" })
            #expect(na["impression_budget"] as? Double == 100)
            #expect((na["attainment"] as? [String: Any])?["impressions"] as? Double == 0, "nothing shown yet today")
            #expect((document["targets"] as? [String: Any])?["name"] as? String == "test")

            // A schedule: today's value (the single value holds on every day after its first).
            let scheduled = Self.targetsText(budgetJSON: "{\"first_day\": 0, \"values\": [77]}")
            #expect(try await put(client, scheduled, authorization: "Bearer \(Self.token)").status == .ok)
            let again = try await client.execute(uri: "/v1/targets", method: .get)
            let shownAgain = try #require(try JSONSerialization.jsonObject(with: Data(again.body.readableBytesView)) as? [String: Any])
            let naAgain = try #require((shownAgain["regions"] as? [[String: Any]])?.first { $0["region"] as? String == "na" })
            #expect(naAgain["impression_budget"] as? Double == 77, "\(again.text)")
        }
        try await buildApplication(server: try Self.server(store: InMemoryLiveStore(), token: nil)).test(.router) { client in
            let disabled = try await put(client, Self.targetsText(), authorization: "Bearer \(Self.token)")
            #expect(disabled.status == .forbidden)
        }
    }

    @Test("while pacing is on, feedback names its region; new events count once, repeats do not")
    func feedbackCounts() async throws {
        let store = InMemoryLiveStore()
        let server = try Self.server(store: store)
        let pacing = try #require(server.pacing)
        _ = try await pacing.setTargets(Data(Self.targetsText().utf8), source: "test")
        try await buildApplication(server: server).test(.router) { client in
            let decision = try await client.decide(decideBody(user: "paced", feedLength: 60)).decode(DecideAnswer.self)
            let events = #"[{"type": "impression", "position": 3, "value": 0.002}, {"type": "click", "position": 3, "value": 0.5}, {"type": "hide", "position": 3}, {"type": "dwell", "position": 1, "value": 4}, {"type": "session_end", "value": 12}]"#
            let withoutRegion = try await client.feedback(
                #"{"decision_id": "\#(decision.decision_id)", "user_id": "paced", "events": \#(events), "timestamp": \#(Fixtures.timestamp + 60)}"#)
            #expect(withoutRegion.status == .unprocessableContent)
            #expect(try withoutRegion.decode(ErrorAnswer.self).error.field == "region")
            let text = #"{"decision_id": "\#(decision.decision_id)", "user_id": "paced", "region": "na", "events": \#(events), "timestamp": \#(Fixtures.timestamp + 60)}"#
            #expect(try await client.feedback(text).status == .accepted)
            #expect(try await client.feedback(text).status == .accepted, "a repeat is accepted and not counted again")
        }
        let day = Int((Fixtures.timestamp + 60) / 86_400)
        let counted = try await store.pacingDay(region: "na", day: day, activeThrough: nil)
        var total = PacingCounters()
        for part in counted.slots { total.add(part) }
        #expect(total == PacingCounters(revenue: 0.502, impressions: 1, negatives: 1, organicItems: 1, sessions: 1))
        #expect(counted.activeUsers == 1)
    }

    @Test("the day is paced by the mean profile of the last profile_days days with sessions, read from the store", arguments: [
        (nil, false), (3, false), (4, true), (5, false),
    ] as [(Int?, Bool)])
    func profileDays(days: Int?, overPace: Bool) async throws {
        let store = InMemoryLiveStore()
        let pacing = ServicePacing(store: store, regions: Fixtures.schema.regions, logger: Fixtures.logger, clock: ManualClock())
        _ = try await pacing.setTargets(
            Data(Self.targetsText(budget: 1000, morePacing: days.map { ", \"profile_days\": \($0)" } ?? "").utf8), source: "test")
        let today = 20_000
        /// A day's 1,000 impressions (and 24 sessions) in its first hour, or spread evenly over its 24 hours.
        func addDay(_ day: Int, firstHourOnly: Bool) async throws {
            for hour in 0..<(firstHourOnly ? 1 : 24) {
                let share = firstHourOnly ? 1.0 : 1.0 / 24
                try await store.addPacingCounters(
                    PacingCounters(revenue: 0, impressions: 1000 * share, negatives: 0, organicItems: 0, sessions: 24 * share),
                    userID: "u\(hour)", region: "na", day: day, slot: hour * 12 + 5)
            }
        }
        // By the end of hour 2, yesterday had shown all its impressions; the day before had
        // no sessions (left out, not counted as even shares); the two days before that had
        // shown 2/24 of theirs, and the day before those all again.
        try await addDay(today - 1, firstHourOnly: true)
        try await addDay(today - 3, firstHourOnly: false)
        try await addDay(today - 4, firstHourOnly: false)
        try await addDay(today - 5, firstHourOnly: true)
        // Half the budget in the first two hours: over the pace of the mean of days 1, 3 and 4
        // back ((1 + 2 × 2/24) / 3 = 0.39); under yesterday's alone (1), days 1 and 3's
        // (0.54; 0.39 if the empty day counted as even shares) and days 1–5's (0.54).
        for hour in 0..<2 {
            try await store.addPacingCounters(
                PacingCounters(revenue: 0, impressions: 250, negatives: 0, organicItems: 0, sessions: 10), userID: "t\(hour)", region: "na",
                day: today, slot: hour * 12 + 1)
        }
        try await pacing.tick(now: Double(today) + 2.5 / 24)
        let price = try #require(pacing.prices(region: Fixtures.schema.regions.firstIndex(of: "na")!))
        if overPace {
            #expect(price.impressions > 0.4, "over the three days' pace: \(price)")
        } else {
            #expect(price.impressions == 0, "under the pace: \(price)")
        }
    }

    @Test("with 15-minute intervals a tick at 0:45 prices the day's first three quarter-hours; hourly ones have not moved yet")
    func quarterHourIntervals() async throws {
        let day = 20_000
        /// Yesterday exactly on its budget of 960, 10 impressions in each quarter-hour; today 12 in
        /// each of its first three: 20% over the pace of yesterday's (even) profile.
        func pacing(intervalMinutes: Int) async throws -> (ServicePacing, InMemoryLiveStore) {
            let store = InMemoryLiveStore()
            let pacing = ServicePacing(store: store, regions: Fixtures.schema.regions, logger: Fixtures.logger, clock: ManualClock())
            _ = try await pacing.setTargets(Data(Self.targetsText(budget: 960, intervalMinutes: intervalMinutes).utf8), source: "test")
            for quarter in 0..<96 {
                try await store.addPacingCounters(
                    PacingCounters(revenue: 0, impressions: 10, negatives: 0, organicItems: 0, sessions: 1), userID: "y\(quarter)",
                    region: "na", day: day - 1, slot: quarter * 3 + 1)
            }
            for quarter in 0..<3 {
                try await store.addPacingCounters(
                    PacingCounters(revenue: 0, impressions: 12, negatives: 0, organicItems: 0, sessions: 1), userID: "t\(quarter)",
                    region: "na", day: day, slot: quarter * 3 + 1)
            }
            return (pacing, store)
        }
        let na = Fixtures.schema.regions.firstIndex(of: "na")!
        let atQuarterToOne = Double(day) + (45 * 60 + 10) / 86_400.0
        let (quarterly, store) = try await pacing(intervalMinutes: 15)
        try await quarterly.tick(now: atQuarterToOne)
        let stored = try #require(try await store.pacingState(region: "na"))
        #expect(stored.day == day && stored.minute == 45)
        // K_p·e + K_i·e·Δ with e = 0.2 and Δ a quarter-hour (1/96 day).
        let expected = 2 * 0.2 + 5 * 0.2 / 96
        let price = try #require(quarterly.prices(region: na)).impressions
        #expect(abs(price - expected) < 1e-9, "impression price \(price), expected \(expected)")
        try await quarterly.tick(now: Double(day) + 50 / 1440)
        #expect(try await store.pacingState(region: "na") == stored, "one update per quarter-hour")

        let (hourly, hourlyStore) = try await pacing(intervalMinutes: 60)
        try await hourly.tick(now: atQuarterToOne)
        #expect(try await hourlyStore.pacingState(region: "na")?.minute == 0, "hourly: only yesterday's close so far")
        #expect(try #require(hourly.prices(region: na)).impressions == 0, "yesterday ended on its budget")
    }

    @Test("a tick moves a region's price from the stored counters, once per interval, and decisions use and log it")
    func tickAndDecide() async throws {
        let store = InMemoryLiveStore()
        let server = try Self.server(store: store)
        let pacing = try #require(server.pacing)
        _ = try await pacing.setTargets(Data(Self.targetsText(budget: 500).utf8), source: "test")
        let day = 20_000
        // A tenth of the day's budget shown in the first two hours (a twelfth of the day): ahead of pace.
        for hour in 0..<2 {
            try await store.addPacingCounters(
                PacingCounters(revenue: 1, impressions: 25, negatives: 0, organicItems: 100, sessions: 10), userID: "u\(hour)",
                region: "na", day: day, slot: hour * 12 + 5)
        }
        try await pacing.tick(now: Double(day) + 2.5 / 24)
        let price = try #require(pacing.prices(region: Fixtures.schema.regions.firstIndex(of: "na")!))
        #expect(price.impressions > 0, "over the budget's pace: the impression price rises")
        #expect(pacing.prices(region: Fixtures.schema.regions.firstIndex(of: "eu")!) == .defaults, "no target in eu")
        let stored = try #require(try await store.pacingState(region: "na"))
        #expect(stored.day == day && stored.minute == 120)
        // A second replica's tick in the same interval changes nothing (compare-and-set).
        let other = ServicePacing(store: store, regions: Fixtures.schema.regions, logger: Fixtures.logger, clock: ManualClock())
        try await store.addPacingCounters(
            PacingCounters(revenue: 0, impressions: 1000, negatives: 0, organicItems: 0, sessions: 1), userID: "late", region: "na", day: day,
            slot: 2 * 12 + 3)
        try await other.tick(now: Double(day) + 2.9 / 24)
        #expect(try await store.pacingState(region: "na") == stored)
        #expect(other.prices(region: Fixtures.schema.regions.firstIndex(of: "na")!) == price, "replicas serve the same prices")
        // The next day's first update is the end-of-day update of this one, from all of its
        // counters (the late 1,000 impressions too): the price rises again.
        try await other.tick(now: Double(day + 1) + 0.1 / 24)
        let nextDay = try #require(try await store.pacingState(region: "na"))
        #expect(nextDay.day == day + 1 && nextDay.minute == 0)
        #expect(price.impressions < 10, "the first price is below the ceiling: \(price)")
        #expect(nextDay.state.prices.impressions > price.impressions, "a day twice over budget raises the price at its end")

        let engine = try Fixtures.engine()
        let request = try engine.resolve(DecisionRequest(
            userID: "p", sessionID: "s", region: "na", device: "ios", hour: 2, feedLength: 60, adFormats: nil, timestamp: nil))
        let decision = engine.decide(request, record: nil, decisionID: "d", time: Double(day) + 0.1, prices: price)
        #expect(decision.entry.prices == [price.revenue, price.impressions, price.negatives, price.organic])
        let logged = try JSONDecoder().decode(DecisionEntry.self, from: Data(decision.entry.jsonBytes))
        #expect(logged.prices == decision.entry.prices, "the stream entry carries the prices")
        let unpaced = engine.decide(request, record: nil, decisionID: "d", time: Double(day) + 0.1)
        #expect(unpaced.entry.prices == nil)

        for _ in 0..<2 {
            _ = server.renderMetrics()
            let metrics = String(decoding: server.metrics.registry.emitToBuffer(), as: UTF8.self)
            let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("adload_pacing_price") && $0.contains("\"na\"") && $0.contains("\"impressions\"") })
            #expect(Double(line.split(separator: " ").last ?? "") == price.impressions, "\(line)")
        }
    }
}

@Suite("DecisionEngine.explain: what adload policy explain shows is what /v1/decide logs")
struct EngineExplainTests {
    @Test("for 100 random contexts, explain's chosen plan and its probability equal the decision's; exact kinds' probabilities sum to 1",
          arguments: ["default-egreedy", "default-thompson", "default-ppo"])
    func explainEqualsDecide(policy: String) throws {
        let engine = try Fixtures.engine(policy)
        let random = CounterRandom(seed: 31, domain: 9)
        let regions = ["na", "eu", "apac"], devices = ["ios", "android"]
        for index in 0..<100 {
            let draw = random.child(UInt64(index))
            let request = try engine.resolve(DecisionRequest(
                userID: "u\(index)", sessionID: "s", region: regions[Int(draw.uniform(0) * 3)], device: devices[Int(draw.uniform(1) * 2)],
                hour: Int(draw.uniform(2) * 24), feedLength: 1 + Int(draw.uniform(3) * 200), timestamp: nil))
            let record = UserRecord(
                lastVisit: 20_000, lastUpdate: 20_000.1, week: (0..<5).map { Double($0) * draw.uniform(UInt64(10 + $0)) * 20 },
                month: (0..<5).map { Double($0) * draw.uniform(UInt64(20 + $0)) * 60 }, recentDwell: 8 * draw.uniform(4),
                totalSessions: Int(draw.uniform(5) * 600), adReactions: [40 * draw.uniform(6), 4 * draw.uniform(7)], adsToday: Int(draw.uniform(8) * 5))
            let prices: PacingPrices? = index % 3 == 0 ? PacingPrices(revenue: 2 * draw.uniform(30), impressions: draw.uniform(31), negatives: 0, organic: 0) : nil
            let decision = engine.decide(request, record: record, decisionID: "d\(index)", time: 20_000.2, prices: prices)
            let (candidates, explanation) = engine.explain(request, record: record, decisionID: "d\(index)", time: 20_000.2, prices: prices)
            #expect(explanation.choice.index == decision.entry.chosen, "context \(index)")
            #expect(explanation.choice.probability == decision.probability, "context \(index)")
            #expect(candidates[explanation.choice.index].plan.positions == decision.adPositions)
            if explanation.probabilityKind == .exact {
                #expect(explanation.plans[decision.entry.chosen].probability == decision.probability, "context \(index)")
                #expect(abs(explanation.plans.map(\.probability).reduce(0, +) - 1) < 1e-9)
            }
        }
    }
}
