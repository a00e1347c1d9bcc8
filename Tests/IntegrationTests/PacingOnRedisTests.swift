import AdLoadCore
import AdLoadTestSupport
@testable import DecisionService
import Foundation
@testable import StateStore
import Testing

@Suite("Pacing on Redis: replicas pace together")
struct PacingOnRedisTests {
    static let targets = """
        {"name": "two-replicas", "description": "an impression budget that binds",
         "pacing": {"proportional_gain": 2, "integral_gain": 5, "max_price": 10, "interval_minutes": 60, "minimum_day_share": 0.02},
         "regions": {
           "na": {"daily_revenue": null, "daily_impression_budget": BUDGET, "max_negative_rate": null, "min_organic_per_session": null},
           "eu": {"daily_revenue": null, "daily_impression_budget": null, "max_negative_rate": null, "min_organic_per_session": null},
           "apac": {"daily_revenue": null, "daily_impression_budget": null, "max_negative_rate": null, "min_organic_per_session": null}
         }}
        """

    /// Two services on one Redis, each with its own connections, serve alternate sessions of
    /// one region whose users see fewer ads when the impression price rises (a known plant:
    /// ads per session = 5 / (1 + 2·price), sessions per hour following a daily profile). Each
    /// replica counts its own sessions' feedback and ticks at each hour, the two in turns. The
    /// budget is 80% of what the region shows at the default prices, so it binds every day.
    @Test("two replicas on one Redis serve the same prices, and their combined impressions keep one budget (within 1% a day from day 8)")
    func twoReplicasOneBudget() async throws {
        let redis = try RedisFixture()
        let regions = Fixture.schema.regions
        let na = try #require(regions.firstIndex(of: "na"))
        let stores = (0..<2).map { _ in
            RedisLiveStore(configuration: RedisClient.Configuration(address: redis.address), options: Fixture.storeOptions, logger: Fixture.logger)
        }
        let replicas = stores.map { ServicePacing(store: $0, regions: regions, logger: Fixture.logger, clock: ManualClock()) }
        func sessions(hour: Int) -> Int { Int((60 + 40 * sin(Double(hour - 8) / 24 * 2 * .pi)).rounded()) }
        let unpacedDaily = Double((0..<24).map(sessions).reduce(0, +)) * 5
        let budget = (0.8 * unpacedDaily).rounded()
        _ = try await replicas[0].setTargets(Data(Self.targets.replacingOccurrences(of: "BUDGET", with: "\(budget)").utf8), source: "test")

        let firstDay = 20_000
        var daily: [Double] = []
        for day in firstDay..<(firstDay + 12) {
            var impressions = 0.0
            for hour in 0..<24 {
                let now = Double(day) + (Double(hour) + 0.01) / 24
                // Both replicas tick at the hour's start, in alternating order; one computes, both read.
                let order = hour % 2 == 0 ? [0, 1] : [1, 0]
                for index in order { try await replicas[index].tick(now: now) }
                let prices = replicas.map { $0.prices(region: na) }
                #expect(prices[0] == prices[1], "day \(day - firstDay + 1), hour \(hour): the replicas serve one price")
                for (index, replica) in replicas.enumerated() {
                    let mine = sessions(hour: hour) / 2 + (index == 0 ? sessions(hour: hour) % 2 : 0)
                    let price = prices[index]?.impressions ?? 0
                    let shown = (Double(mine) * 5 / (1 + 2 * price)).rounded()
                    impressions += shown
                    let events = Array(repeating: FeedbackEvent(kind: .impression, position: 3, value: 0.002), count: Int(shown))
                        + Array(repeating: FeedbackEvent(kind: .sessionEnd, value: 20), count: mine)
                    try await replica.count(events, userID: "replica-\(index)-\(hour)", region: "na", time: now + 0.5 / 24)
                }
            }
            daily.append(impressions)
        }
        for store in stores { await store.shutdown() }
        #expect(daily[0] < 0.95 * unpacedDaily, "pacing acts from day 1: \(daily[0]) against \(unpacedDaily) unpaced")
        #expect((replicas[0].prices(region: na)?.impressions ?? 0) > 0.1, "a binding budget keeps a positive impression price")
        for (offset, shown) in daily.enumerated().dropFirst(7) {
            #expect(shown <= 1.01 * budget, "day \(offset + 1): \(shown) impressions against a budget of \(budget)")
            #expect(shown >= 0.9 * budget, "day \(offset + 1): the budget is used, not starved: \(shown) against \(budget)")
        }
    }
}
