import AdLoadCore
import Foundation
import Testing

@Suite("Pacing: targets files and the PI controller on dual prices")
struct PacingControllerTests {
    /// A region whose traffic is spread evenly over 24 hourly intervals and whose revenue and
    /// impressions per interval respond to the prices through `revenue` and `impressions`.
    /// Runs `days` days with an update after every interval; returns the daily totals.
    func run(
        days: Int, targets: RegionTargets, gains: PacingGains = .standard,
        revenue: (PacingPrices) -> Double, impressions: (PacingPrices) -> Double
    ) -> (revenue: [Double], impressions: [Double], states: [PacingState]) {
        run(days: days, targets: targets, gains: gains, revenue: { prices, _ in revenue(prices) }, impressions: impressions)
    }

    /// As above, with revenue that depends on the day too (days from 1).
    func run(
        days: Int, targets: RegionTargets, gains: PacingGains = .standard,
        revenue: (PacingPrices, Int) -> Double, impressions: (PacingPrices) -> Double, hourWeights: [Double] = Array(repeating: 1, count: 24)
    ) -> (revenue: [Double], impressions: [Double], states: [PacingState]) {
        let controller = PacingController(gains: gains)
        var state = PacingState()
        var dailyRevenue: [Double] = [], dailyImpressions: [Double] = [], states: [PacingState] = []
        for day in 1...days {
            var counters = PacingCounters()
            for hour in 0..<24 {
                counters.revenue += revenue(state.prices, day) * hourWeights[hour] / 24
                counters.impressions += impressions(state.prices) / 24
                counters.sessions += 100
                state = controller.update(
                    state, counters: counters, targets: targets, day: day, activeUsers: 1_000, dayShare: Double(hour + 1) / 24,
                    elapsedDays: 1.0 / 24, closesDay: hour == 23)
            }
            dailyRevenue.append(counters.revenue)
            dailyImpressions.append(counters.impressions)
            states.append(state)
        }
        return (dailyRevenue, dailyImpressions, states)
    }

    @Test("a revenue target 10% above the default prices' revenue is met within ±3% from day 8 on")
    func revenueTarget() {
        // Revenue grows with the revenue price with diminishing returns; 100 a day at the defaults.
        let result = run(
            days: 30, targets: RegionTargets(dailyRevenue: .perActiveUser(0.11)),
            revenue: { 100 * (1 + 0.5 * log($0.revenue)) }, impressions: { _ in 0 })
        for (day, revenue) in result.revenue.enumerated().dropFirst(7) {
            #expect(abs(revenue / 110 - 1) <= 0.03, "day \(day + 1): revenue \(revenue) against the target 110")
        }
        #expect(result.states.last!.prices.revenue > 1, "the revenue price rose above its default")
    }

    @Test("when the day's revenue comes earlier than the controller expects, the hourly integral settles off target and the day-end integral on it")
    func dayEndIntegral() {
        // Three quarters of the day's revenue in its first half, while the shares expected
        // are even: the hourly errors then average 0 away from the day's target.
        let early = (0..<24).map { $0 < 12 ? 1.5 : 0.5 }
        func days(_ gains: PacingGains) -> [Double] {
            run(
                days: 30, targets: RegionTargets(dailyRevenue: .perActiveUser(0.11)), gains: gains,
                revenue: { prices, _ in 100 * (1 + 0.5 * log(prices.revenue)) }, impressions: { _ in 0 }, hourWeights: early
            ).revenue.dropFirst(7).map { $0 / 110 }
        }
        let hourly = days(.standard)
        #expect(hourly.contains { abs($0 - 1) > 0.03 }, "the hourly integral alone misses: \(hourly)")
        var gains = PacingGains.standard
        gains.integral = 0
        gains.dayEndIntegral = 5
        let dayEnd = days(gains)
        #expect(dayEnd.allSatisfy { abs($0 - 1) <= 0.03 }, "the day-end integral meets the target from day 8: \(dayEnd)")
        let controller = PacingController(gains: gains)
        let counters = PacingCounters(revenue: 90, sessions: 100)
        let targets = RegionTargets(dailyRevenue: .total(100))
        let closing = controller.update(
            PacingState(), counters: counters, targets: targets, day: 1, activeUsers: 1, dayShare: 1, elapsedDays: 1.0 / 24, closesDay: true)
        let open = controller.update(PacingState(), counters: counters, targets: targets, day: 1, activeUsers: 1, dayShare: 1, elapsedDays: 1.0 / 24)
        #expect(abs(closing.integrals[0] - 5 * 0.1) < 1e-12 && open.integrals[0] == 0, "K_d · e once, at the close only")
    }

    @Test("a revenue schedule 10% above revenue that grows 4-fold over the month is met within ±3% from day 8; a flat target at its mean is not")
    func revenueSchedule() {
        // At the default prices a region's revenue grows from 40 to 160 a day (a cohort that
        // ages); the schedule asks for 10% more every day.
        func natural(_ day: Int) -> Double { 40 * pow(4, Double(day - 1) / 29) }
        let plant: (PacingPrices, Int) -> Double = { prices, day in natural(day) * (1 + 0.5 * log(prices.revenue)) }
        let values = (1...30).map { 1.1 * natural($0) / 1_000 }
        let scheduled = run(
            days: 30, targets: RegionTargets(dailyRevenue: .perActiveUser(.schedule(firstDay: 1, values: values))), revenue: plant,
            impressions: { _ in 0 })
        for (index, revenue) in scheduled.revenue.enumerated().dropFirst(7) {
            let target = 1.1 * natural(index + 1)
            #expect(abs(revenue / target - 1) <= 0.03, "day \(index + 1): revenue \(revenue) against the scheduled \(target)")
        }
        let mean = values[7...].reduce(0, +) / Double(values.count - 7)
        let flat = run(days: 30, targets: RegionTargets(dailyRevenue: .perActiveUser(.every(mean))), revenue: plant, impressions: { _ in 0 })
        let within = flat.revenue.dropFirst(7).filter { abs($0 / (mean * 1_000) - 1) <= 0.03 }.count
        #expect(within < 12, "a flat target against growing revenue is met on \(within) of 23 days")
    }

    @Test("a schedule holds its first value before its first day and its last after its last")
    func scheduleEnds() {
        let schedule = DailyAmount.schedule(firstDay: 10, values: [5, 6, 7])
        #expect([8, 10, 11, 12, 40].map { schedule.on(day: $0) } == [5, 5, 6, 7, 7])
        #expect(RegionTargets.RevenueTarget.total(schedule).amount(activeUsers: 100, day: 11) == 6)
        #expect(RegionTargets.RevenueTarget.perActiveUser(schedule).amount(activeUsers: 100, day: 11) == 600)
        #expect(DailyAmount.every(4).on(day: 12_345) == 4)
    }

    @Test("an impression budget scheduled 20% below impressions that grow 4-fold is kept within 1% from day 8")
    func budgetSchedule() {
        func natural(_ day: Int) -> Double { 2_500 * pow(4, Double(day - 1) / 29) }
        let budget = DailyAmount.schedule(firstDay: 1, values: (1...30).map { 0.8 * natural($0) })
        let controller = PacingController(gains: .standard)
        var state = PacingState()
        for day in 1...30 {
            var counters = PacingCounters()
            for hour in 0..<24 {
                counters.impressions += natural(day) / (1 + state.prices.impressions) / 24
                counters.sessions += 100
                state = controller.update(
                    state, counters: counters, targets: RegionTargets(dailyImpressionBudget: budget), day: day, activeUsers: 1_000,
                    dayShare: Double(hour + 1) / 24, elapsedDays: 1.0 / 24)
            }
            if day >= 8 {
                #expect(counters.impressions <= 1.01 * budget.on(day: day), "day \(day): \(counters.impressions) against \(budget.on(day: day))")
                #expect(counters.impressions >= 0.95 * budget.on(day: day), "day \(day): \(counters.impressions), far below \(budget.on(day: day))")
            }
        }
    }

    @Test("an impression budget 20% below the default prices' impressions is not exceeded by more than 1% from day 8 on")
    func impressionBudget() {
        let result = run(
            days: 30, targets: RegionTargets(dailyImpressionBudget: 8_000),
            revenue: { _ in 100 }, impressions: { 10_000 / (1 + $0.impressions) })
        for (day, impressions) in result.impressions.enumerated().dropFirst(7) {
            #expect(impressions <= 8_080, "day \(day + 1): \(impressions) impressions against a budget of 8000")
            #expect(impressions >= 7_600, "day \(day + 1): \(impressions) impressions, far below the budget of 8000")
        }
    }

    @Test("a slack budget keeps its price at 0 and its integral from winding down")
    func slackBudget() {
        let result = run(
            days: 10, targets: RegionTargets(dailyImpressionBudget: 20_000),
            revenue: { _ in 100 }, impressions: { 10_000 / (1 + $0.impressions) })
        for state in result.states {
            #expect(state.prices.impressions == 0)
            #expect(state.integrals[1] >= -PacingGains.standard.proportional, "integral \(state.integrals[1]) wound down")
        }
    }

    @Test("anti-windup: an unreachable target holds the price near its ceiling without growing the integral, and a reachable one is met 4 days after")
    func antiWindup() {
        var gains = PacingGains.standard
        gains.maxPrice = 3
        let controller = PacingController(gains: gains)
        let plant: (PacingPrices) -> Double = { 100 * min($0.revenue, 2) }  // at most 200 a day
        var state = PacingState()
        for day in 0..<20 {
            var counters = PacingCounters()
            let target = day < 10 ? 0.5 : 0.15  // per active user, 1000 users: 500 (unreachable), then 150
            for hour in 0..<24 {
                counters.revenue += plant(state.prices) / 24
                state = controller.update(
                    state, counters: counters, targets: RegionTargets(dailyRevenue: .perActiveUser(.every(target))), day: day + 1, activeUsers: 1_000,
                    dayShare: Double(hour + 1) / 24, elapsedDays: 1.0 / 24)
            }
            if day == 9 {
                // Without anti-windup the integral would have grown by K_i · 0.6 a day to about 12.
                #expect(state.prices.revenue >= 0.95 * gains.maxPrice, "price \(state.prices.revenue)")
                #expect(state.integrals[0] <= gains.maxPrice - 1, "the integral grew to \(state.integrals[0]) while the price was held")
            }
            if day >= 13 {
                #expect(abs(counters.revenue / 150 - 1) <= 0.03, "day \(day + 1): revenue \(counters.revenue) against 150")
            }
        }
    }

    @Test("without a target a price stays at its default; with a target but no data yet it holds")
    func unsetAndNoData() {
        let controller = PacingController(gains: .standard)
        let moved = PacingState(prices: PacingPrices(revenue: 1.5, impressions: 0.3, negatives: 0.2, organic: 0.1), integrals: [0.5, 0.3, 0.2, 0.1])
        let unset = controller.update(moved, counters: PacingCounters(revenue: 5, sessions: 3), targets: RegionTargets(), day: 1, activeUsers: 10, dayShare: 0.5, elapsedDays: 0.04)
        #expect(unset == PacingState())
        let waiting = controller.update(
            moved, counters: PacingCounters(), targets: RegionTargets(maxNegativeRate: 0.01, minOrganicPerSession: 40), day: 1, activeUsers: 10,
            dayShare: 0.5, elapsedDays: 0.04)
        #expect(waiting.prices.negatives == 0.2 && waiting.prices.organic == 0.1 && waiting.integrals[2] == 0.2 && waiting.integrals[3] == 0.1)
        let early = controller.update(moved, counters: PacingCounters(), targets: RegionTargets(), day: 1, activeUsers: 10, dayShare: 0.001, elapsedDays: 0.04)
        #expect(early == moved, "no update before the minimum share of the day")
    }

    @Test("guardrails: a negative-feedback ceiling and an organic floor raise their prices when crossed")
    func guardrails() {
        let controller = PacingController(gains: .standard)
        let state = controller.update(
            PacingState(), counters: PacingCounters(impressions: 1_000, negatives: 30, organicItems: 3_000, sessions: 100),
            targets: RegionTargets(maxNegativeRate: 0.02, minOrganicPerSession: 40), day: 1, activeUsers: 100, dayShare: 0.5, elapsedDays: 1.0 / 24)
        #expect(state.prices.negatives > 0, "3% negatives against a 2% ceiling")
        #expect(state.prices.organic > 0, "30 items a session against a floor of 40")
        #expect(state.prices.revenue == 1 && state.prices.impressions == 0)
    }

    static let valid = """
        {"name": "t", "description": "d",
         "pacing": {"proportional_gain": 0.5, "integral_gain": 2, "max_price": 10, "interval_minutes": 60, "minimum_day_share": 0.02},
         "regions": {
           "na": {"daily_revenue": {"per_active_user": 0.2, "total": null}, "daily_impression_budget": null,
                  "max_negative_rate": 0.02, "min_organic_per_session": null},
           "eu": {"daily_revenue": null, "daily_impression_budget": 50000, "max_negative_rate": null, "min_organic_per_session": 40}
         }}
        """

    @Test("a budget kept on average is over it on some days; a safety margin keeps every day under it, and moves a revenue target up")
    func safetyMargin() {
        // Impressions fall as their price rises, 1,000 a day at the defaults; the day's last
        // three hours move the day's total by up to ±1.5%, too late for the controller to
        // answer. The budget is 800.
        func noise(_ day: Int, _ hour: Int) -> Double { hour >= 21 ? 8 * 0.015 * sin(Double(day) * 2.3) : 0 }
        func days(_ gains: PacingGains) -> [Double] {
            let controller = PacingController(gains: gains)
            var state = PacingState()
            var totals: [Double] = []
            for day in 1...30 {
                var counters = PacingCounters()
                for hour in 0..<24 {
                    counters.impressions += 1_000 * exp(-state.prices.impressions) * (1 + noise(day, hour)) / 24
                    counters.sessions += 100
                    state = controller.update(
                        state, counters: counters, targets: RegionTargets(dailyImpressionBudget: 800), day: day, activeUsers: 1_000,
                        dayShare: Double(hour + 1) / 24, elapsedDays: 1.0 / 24, closesDay: hour == 23)
                }
                totals.append(counters.impressions / 800)
            }
            return Array(totals.dropFirst(7))
        }
        var gains = PacingGains.standard
        let onBudget = days(gains)
        #expect(onBudget.contains { $0 > 1.005 }, "paced onto the budget, noisy days go over it: \(onBudget)")
        gains.safetyMargin = 0.02
        let underBudget = days(gains)
        #expect(underBudget.allSatisfy { $0 <= 1.0 }, "paced 2% under it, no day is over: \(underBudget)")
        #expect(underBudget.allSatisfy { $0 >= 0.95 }, "and none far under: \(underBudget)")
        let controller = PacingController(gains: gains)
        let behind = controller.update(
            PacingState(), counters: PacingCounters(revenue: 100, sessions: 100), targets: RegionTargets(dailyRevenue: .total(100)), day: 1,
            activeUsers: 1, dayShare: 1, elapsedDays: 1.0 / 24)
        #expect(behind.prices.revenue > 1, "a revenue target met exactly is 2% short of target × 1.02: \(behind.prices)")
        // A revenue margin of its own: the target met exactly is on target with a margin of
        // 0, and 1% short with 0.01; the budget keeps the safety margin either way.
        func errors(revenueMargin: Double?) -> (revenue: Double, impressions: Double) {
            var own = gains
            own.revenueMargin = revenueMargin
            let prices = PacingController(gains: own).update(
                PacingState(), counters: PacingCounters(revenue: 100, impressions: 100, sessions: 100),
                targets: RegionTargets(dailyRevenue: .total(100), dailyImpressionBudget: 100), day: 1, activeUsers: 1, dayShare: 1,
                elapsedDays: 1.0 / 24).prices
            return (prices.revenue, prices.impressions)
        }
        let perHour = gains.proportional + gains.integral / 24
        #expect(errors(revenueMargin: 0).revenue == 1, "on target, paced on it: the default price")
        #expect(abs(errors(revenueMargin: 0.01).revenue - (1 + perHour * 0.01 / 1.01)) < 1e-12, "1% short of target × 1.01")
        #expect(abs(errors(revenueMargin: nil).revenue - (1 + perHour * 0.02 / 1.02)) < 1e-12, "no revenue margin: the safety margin's 2%")
        let budgetPrice = perHour * 0.02 / 0.98
        #expect([errors(revenueMargin: 0), errors(revenueMargin: 0.01), errors(revenueMargin: nil)].allSatisfy { abs($0.impressions - budgetPrice) < 1e-12 },
                "the budget is paced 2% under in every case")
    }

    @Test("catching up: a shortfall late in the day is made up by the day's end, where the error so far leaves it")
    func catchUp() {
        // Revenue is 100 × the revenue price a day, spread evenly over the hours; in hours
        // 15–18 it moves the day's total by up to ±4% (luck that the price does not cause),
        // and the five hours after them can still answer it. The target is 110.
        func noise(_ day: Int, _ hour: Int) -> Double { (15...18).contains(hour) ? 6 * 0.04 * sin(Double(day) * 2.3) : 0 }
        func days(_ gains: PacingGains) -> [Double] {
            let controller = PacingController(gains: gains)
            var state = PacingState()
            var totals: [Double] = []
            for day in 1...30 {
                var counters = PacingCounters()
                for hour in 0..<24 {
                    counters.revenue += 100 * state.prices.revenue * (1 + noise(day, hour)) / 24
                    counters.sessions += 100
                    state = controller.update(
                        state, counters: counters, targets: RegionTargets(dailyRevenue: .total(110)), day: day, activeUsers: 1_000,
                        dayShare: Double(hour + 1) / 24, elapsedDays: 1.0 / 24, closesDay: hour == 23)
                }
                totals.append(counters.revenue / 110)
            }
            return Array(totals.dropFirst(7))
        }
        var gains = PacingGains.standard
        let errorSoFar = days(gains)
        #expect(errorSoFar.contains { abs($0 - 1) > 0.015 }, "on the error so far some days end more than 1.5% off: \(errorSoFar)")
        gains.catchUp = true
        let caughtUp = days(gains)
        #expect(caughtUp.allSatisfy { abs($0 - 1) <= 0.01 }, "catching up, every day ends within 1%: \(caughtUp)")
        // The term itself: revenue 1% behind and impressions 1% over, at a share s of the day.
        func prices(_ catchUp: Bool, share: Double, closes: Bool = false, limit: Double = .infinity) -> PacingPrices {
            var gains = PacingGains.standard
            gains.catchUp = catchUp
            gains.catchUpLimit = limit
            return PacingController(gains: gains).update(
                PacingState(), counters: PacingCounters(revenue: 99 * share, impressions: 101 * share, sessions: 100),
                targets: RegionTargets(dailyRevenue: .total(100), dailyImpressionBudget: 100), day: 1, activeUsers: 1, dayShare: share,
                revenueShare: share, impressionShare: share, elapsedDays: 1.0 / 24, closesDay: closes).prices
        }
        let k = PacingGains.standard.proportional
        let integral = PacingGains.standard.integral * 0.01 / 24  // one hour of a 1% error
        #expect(abs(prices(true, share: 0.5).revenue - prices(false, share: 0.5).revenue) < 1e-12, "at midday the rest of the day is as long as the day so far")
        #expect(abs(prices(true, share: 0.8).revenue - (1 + k * 0.01 * 4 + integral)) < 1e-9, "at s = 0.8, 1% behind asks 4% more of the evening")
        #expect(abs(prices(true, share: 0.8).impressions - (k * 0.01 * 4 + integral)) < 1e-9, "1% over the budget raises the impression price 4-fold too")
        #expect(abs(prices(true, share: 0.2).revenue - (1 + k * 0.01 / 4 + integral)) < 1e-9, "at s = 0.2 the same error weighs a quarter")
        #expect(abs(prices(true, share: 0.999).revenue - (1 + k * 0.01 * 0.999 * 24 + integral)) < 1e-9, "the remaining share is floored at an hour's")
        #expect(prices(true, share: 1, closes: true) == prices(false, share: 1, closes: true), "the day's close uses the day's error, with or without catching up")
        #expect(abs(prices(true, share: 0.95, limit: 4).revenue - (1 + k * 0.01 * 4 + integral)) < 1e-9, "a limit of 4 holds the 19-fold multiplier at s = 0.95 to 4")
        #expect(abs(prices(true, share: 0.95, limit: 4).impressions - (k * 0.01 * 4 + integral)) < 1e-9, "and the budget's as well")
        #expect(prices(true, share: 0.6, limit: 4) == prices(true, share: 0.6), "below the limit (1.5 at s = 0.6) nothing changes")
        #expect(prices(true, share: 0.999, limit: 24) == prices(true, share: 0.999), "a limit of 24 is the floor's own bound")
    }

    @Test("a profile of several days is the interval-by-interval mean of the days that had sessions")
    func meanProfile() throws {
        func day(_ sessions: [Double], revenue: [Double]) -> [PacingCounters] {
            zip(sessions, revenue).map { PacingCounters(revenue: $1, impressions: $0 * 2, negatives: 0, organicItems: 0, sessions: $0) }
        }
        let early = day([3, 1, 0, 0], revenue: [6, 2, 0, 0])
        let even = day([1, 1, 1, 1], revenue: [1, 1, 1, 1])
        let empty = day([0, 0, 0, 0], revenue: [0, 0, 0, 0])
        #expect(DayShares.meanProfile(of: [early]) == DayShares.profile(of: early), "one day: its own profile")
        #expect(DayShares.profile(of: early).map(\.sessions) == [0.75, 1, 1, 1])
        let mean = try #require(DayShares.meanProfile(of: [early, empty, even]))
        #expect(mean.map(\.sessions) == [0.5, 0.75, 0.875, 1], "(0.75 + 0.25) / 2, (1 + 0.5) / 2, …; the empty day left out")
        #expect(mean.map(\.revenue) == mean.map(\.sessions) && mean.map(\.impressions) == mean.map(\.sessions))
        #expect(DayShares.meanProfile(of: [empty, empty]) == nil, "no day with sessions: no profile")
        #expect(DayShares.meanProfile(of: []) == nil)
    }

    @Test("a targets file loads strictly")
    func loads() throws {
        let targets = try RevenueTargets.parse(Data(Self.valid.utf8), file: "t.json")
        #expect(targets.regions.map(\.name) == ["eu", "na"])
        #expect(targets.targets(region: "na") == RegionTargets(dailyRevenue: .perActiveUser(0.2), maxNegativeRate: 0.02))
        #expect(targets.targets(region: "eu") == RegionTargets(dailyImpressionBudget: 50_000, minOrganicPerSession: 40))
        #expect(targets.targets(region: "apac") == RegionTargets())
        #expect(targets.gains == PacingGains(proportional: 0.5, integral: 2, maxPrice: 10, intervalMinutes: 60, minimumDayShare: 0.02))
        /// The gains of the valid file with `keys` added to its pacing object.
        func gains(adding keys: String) throws -> PacingGains {
            let text = Self.valid.replacingOccurrences(of: "\"minimum_day_share\": 0.02}", with: "\"minimum_day_share\": 0.02, \(keys)}")
            return try RevenueTargets.parse(Data(text.utf8), file: "t.json").gains
        }
        #expect(targets.gains.dayEndIntegral == 0, "no day-end integral unless the file sets one")
        #expect(try gains(adding: "\"day_end_integral_gain\": 3").dayEndIntegral == 3)
        #expect(targets.gains.safetyMargin == 0, "no safety margin unless the file sets one")
        #expect(try gains(adding: "\"safety_margin\": 0.02").safetyMargin == 0.02)
        #expect(!targets.gains.catchUp, "the proportional term acts on the error so far unless the file says otherwise")
        let catchUp = try gains(adding: "\"catch_up\": true")
        #expect(catchUp.catchUp)
        #expect(catchUp.catchUpLimit == .infinity, "no limit but the floor's unless the file sets one")
        #expect(try gains(adding: "\"catch_up\": true, \"catch_up_limit\": 4").catchUpLimit == 4)
        #expect(targets.gains.profileDays == 1, "yesterday's profile unless the file says otherwise")
        #expect(try gains(adding: "\"profile_days\": 3").profileDays == 3)
        #expect(targets.gains.revenueMargin == nil, "the revenue target takes the safety margin unless the file sets its own")
        let revenueMargin = try gains(adding: "\"safety_margin\": 0.02, \"revenue_margin\": 0")
        #expect(revenueMargin.revenueMargin == 0 && revenueMargin.safetyMargin == 0.02)
        try targets.validate(regions: ["na", "eu", "apac"], file: "t.json")
    }

    @Test("a daily revenue target and an impression budget may be schedules of days")
    func loadsSchedule() throws {
        let text = Self.valid.replacingOccurrences(
            of: "\"per_active_user\": 0.2", with: "\"per_active_user\": {\"first_day\": 3, \"values\": [0.1, 0.2, 0.25]}"
        ).replacingOccurrences(of: "\"daily_impression_budget\": 50000", with: "\"daily_impression_budget\": {\"first_day\": 1, \"values\": [500, 600]}")
        let targets = try RevenueTargets.parse(Data(text.utf8), file: "t.json")
        #expect(targets.targets(region: "na").dailyRevenue == .perActiveUser(.schedule(firstDay: 3, values: [0.1, 0.2, 0.25])))
        #expect(targets.targets(region: "eu").dailyImpressionBudget == .schedule(firstDay: 1, values: [500, 600]))
    }

    @Test("bad targets files are refused with the file, key and value", arguments: [
        ("\"max_negative_rate\": 0.02", "\"max_negative_rate\": 2", "t.json: key 'regions.na.max_negative_rate' has value 2: out of range"),
        ("\"total\": null", "\"total\": 5", "t.json: key 'regions.na.daily_revenue' must set exactly one of per_active_user and total"),
        ("\"interval_minutes\": 60,", "", "t.json: key 'pacing.interval_minutes' is missing"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"day_end_integral_gain\": -1}",
         "t.json: key 'pacing.day_end_integral_gain' has value -1"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"safety_margin\": 0.6}",
         "t.json: key 'pacing.safety_margin' has value 0.6: out of range"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"catch_up\": 1}",
         "t.json: key 'pacing.catch_up' has value 1: expected a boolean, found a number"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"catch_up_limit\": 0.5}",
         "t.json: key 'pacing.catch_up_limit' has value 0.5: out of range"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"catch_up_limit\": 8}",
         "t.json: key 'pacing.catch_up_limit' has value 8: bounds catching up, which is off: set \"catch_up\": true as well"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"revenue_margin\": -0.01}",
         "t.json: key 'pacing.revenue_margin' has value -0.01: out of range"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"profile_days\": 15}",
         "t.json: key 'pacing.profile_days' has value 15: out of range"),
        ("\"minimum_day_share\": 0.02}", "\"minimum_day_share\": 0.02, \"profile_days\": 2.5}",
         "t.json: key 'pacing.profile_days' has value 2.5: expected an integer"),
        ("\"interval_minutes\": 60,", "\"interval_minutes\": 7,", "t.json: key 'pacing.interval_minutes' has value 7: must be a multiple of 5 that divides 1440"),
        ("\"interval_minutes\": 60,", "\"interval_minutes\": 25,", "t.json: key 'pacing.interval_minutes' has value 25: must be a multiple of 5 that divides 1440"),
        ("\"min_organic_per_session\": 40}", "\"min_organic_per_session\": 40, \"budget\": 1}", "t.json: key 'regions.eu.budget' has value 1: unknown key"),
        ("\"per_active_user\": 0.2", "\"per_active_user\": {\"first_day\": 1, \"values\": []}",
         "t.json: key 'regions.na.daily_revenue.per_active_user.values' has value an array of 0: expected a non-empty array of numbers, found an empty array"),
        ("\"per_active_user\": 0.2", "\"per_active_user\": {\"first_day\": 1, \"values\": [0.1, -2]}",
         "t.json: key 'regions.na.daily_revenue.per_active_user.values[1]' has value -2: expected a number in [0, 1000000]"),
        ("\"per_active_user\": 0.2", "\"per_active_user\": {\"first_day\": 1.5, \"values\": [0.1]}",
         "t.json: key 'regions.na.daily_revenue.per_active_user.first_day' has value 1.5: expected an integer"),
        ("\"per_active_user\": 0.2", "\"per_active_user\": {\"values\": [0.1]}",
         "t.json: key 'regions.na.daily_revenue.per_active_user.first_day' is missing"),
        ("\"per_active_user\": 0.2", "\"per_active_user\": \"0.2\"",
         "t.json: key 'regions.na.daily_revenue.per_active_user' has value \"0.2\": expected a number, found a string"),
    ])
    func refuses(find: String, replace: String, message: String) {
        let text = Self.valid.replacingOccurrences(of: find, with: replace)
        #expect(text != Self.valid)
        #expect {
            try RevenueTargets.parse(Data(text.utf8), file: "t.json")
        } throws: { error in
            (error as? ConfigError)?.description.hasPrefix(message) == true
        }
    }

    @Test("a targets file with no region says the object is empty")
    func noRegions() {
        let text = String(Self.valid[..<Self.valid.range(of: "\"regions\"")!.lowerBound]) + "\"regions\": {}}"
        #expect {
            try RevenueTargets.parse(Data(text.utf8), file: "t.json")
        } throws: { error in
            (error as? ConfigError)?.description.hasSuffix("expected a non-empty object of named entries, found an empty object") == true
        }
    }

    @Test("a region the environment does not have is an error")
    func unknownRegion() throws {
        let targets = try RevenueTargets.parse(Data(Self.valid.utf8), file: "t.json")
        #expect(throws: ConfigError.self) { try targets.validate(regions: ["na", "apac"], file: "t.json") }
    }
}
