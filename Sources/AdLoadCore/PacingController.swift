/// The prices a priced policy adds to its objective, one set per region. Dimensionless: a
/// priced policy turns them into objective terms with its own scales (revenue price 1 and
/// the others 0 are the policy's own objective, the "default prices").
public struct PacingPrices: Sendable, Equatable {
    /// Multiplier on revenue (1 by default). Pacing moves it both ways: up when behind the
    /// revenue target, below 1 when ahead of it (the target is met with the least harm).
    public var revenue: Double
    /// Cost per impression, in units of the policy's revenue per impression (0 by default).
    public var impressions: Double
    /// Cost per negative reaction, in the policy's units (0 by default).
    public var negatives: Double
    /// Extra value per organic item, in the policy's units (0 by default).
    public var organic: Double

    /// The default prices: the policy's own objective.
    public static let defaults = PacingPrices(revenue: 1, impressions: 0, negatives: 0, organic: 0)

    public init(revenue: Double, impressions: Double, negatives: Double, organic: Double) {
        self.revenue = revenue
        self.impressions = impressions
        self.negatives = negatives
        self.organic = organic
    }
}

/// One region's counters for the current day so far, as the service or the simulation
/// keeps them.
package struct PacingCounters: Sendable, Equatable {
    package var revenue = 0.0
    package var impressions = 0.0
    package var negatives = 0.0
    package var organicItems = 0.0
    package var sessions = 0.0

    package init(revenue: Double = 0, impressions: Double = 0, negatives: Double = 0, organicItems: Double = 0, sessions: Double = 0) {
        self.revenue = revenue
        self.impressions = impressions
        self.negatives = negatives
        self.organicItems = organicItems
        self.sessions = sessions
    }

    /// Adds one session's outcome.
    package mutating func add(revenue: Double, impressions: Int, negatives: Int, organicItems: Int) {
        self.revenue += revenue
        self.impressions += Double(impressions)
        self.negatives += Double(negatives)
        self.organicItems += Double(organicItems)
        sessions += 1
    }

    /// Adds another part's counters (of the same region and day).
    package mutating func add(_ other: PacingCounters) {
        revenue += other.revenue
        impressions += other.impressions
        negatives += other.negatives
        organicItems += other.organicItems
        sessions += other.sessions
    }
}

/// The controller's memory for one region: its prices and the integral term of each
/// constraint. It carries across days (the integral learns the price level that meets a
/// target); the counters start again each day.
package struct PacingState: Sendable, Equatable {
    package var prices = PacingPrices.defaults
    /// Integral terms, in price units: revenue, impressions, negatives, organic.
    package var integrals: [Double] = [0, 0, 0, 0]

    package init(prices: PacingPrices = .defaults, integrals: [Double] = [0, 0, 0, 0]) {
        self.prices = prices
        self.integrals = integrals
    }
}

/// Moves a region's prices towards its targets: one PI controller on the dual price of each
/// constraint (dual ascent with a proportional term), pure (counters in, prices out), so the
/// simulation and every service replica compute the same prices from the same counters.
///
/// Each constraint's error is relative and compares today's counters with the day's target
/// pro-rated by the share of the day's expected amount seen so far (of revenue for the
/// revenue target and of impressions for the budget, since an hour's revenue per session
/// varies with the hour's ad value):
/// - revenue: (target · share − revenue) / (target · share), positive when behind;
/// - impressions: (impressions − budget · share) / (budget · share), positive when over;
/// - negative rate: (negatives / impressions − ceiling) / ceiling;
/// - organic items: (floor − items / sessions) / floor.
///
/// With a safety margin m (``PacingGains/safetyMargin``) the target counts as target · (1 + m)
/// and the budget as budget · (1 − m); ``PacingGains/revenueMargin``, when set, is the
/// target's m instead.
///
/// price = clamp(default + K_p · e + I, 0, max), with I += K_i · e · Δ (Δ: days since the last
/// update), and at the day's close also I += K_d · e with the whole day's error. With
/// ``PacingGains/catchUp`` the proportional term of the revenue target and the budget uses
/// e · s / max(1 − s, 1/24) instead of e within the day (s: the share of the day's amount
/// expected so far, the multiplier at most ``PacingGains/catchUpLimit``): the relative change the
/// rest of the day needs to end on target. Anti-windup
/// by conditional integration: I does not move while the price sits at a bound and the
/// error pushes it further out. A constraint without a target keeps its
/// default price and a zero integral.
package struct PacingController: Sendable, Equatable {
    package let gains: PacingGains

    package init(gains: PacingGains) {
        self.gains = gains
    }

    /// The state after one update.
    /// - Parameters:
    ///   - counters: the region's counters today so far.
    ///   - targets: the region's targets.
    ///   - day: the day the counters are of (a scheduled revenue target's day).
    ///   - activeUsers: users expected to be active in the region today (turns a per-user
    ///     revenue target into a total).
    ///   - dayShare: the share of today's expected traffic (sessions) already seen, in (0, 1].
    ///   - revenueShare: the share of today's expected revenue already earned (`nil`: `dayShare`).
    ///   - impressionShare: the share of today's expected impressions already shown (`nil`: `dayShare`).
    ///   - elapsedDays: time since the previous update, in days (positive).
    ///   - closesDay: the counters are the whole day's (its last update): the integral also
    ///     moves by the day-end gain times the day's error.
    package func update(
        _ state: PacingState, counters: PacingCounters, targets: RegionTargets, day: Int, activeUsers: Int, dayShare: Double,
        revenueShare: Double? = nil, impressionShare: Double? = nil, elapsedDays: Double, closesDay: Bool = false
    ) -> PacingState {
        precondition(elapsedDays > 0, "a pacing update comes a positive time after the previous one, got \(elapsedDays) days")
        guard dayShare >= gains.minimumDayShare, dayShare > 0 else { return state }
        var next = state
        let shares = (revenue: min(1, revenueShare ?? dayShare), impressions: min(1, impressionShare ?? dayShare))
        let current = [state.prices.revenue, state.prices.impressions, state.prices.negatives, state.prices.organic]
        let defaults = PacingPrices.defaults
        let bases = [defaults.revenue, defaults.impressions, defaults.negatives, defaults.organic]
        let errors = Self.errors(
            counters: counters, targets: targets, day: day, activeUsers: activeUsers, shares: shares,
            margins: (revenue: gains.revenueMargin ?? gains.safetyMargin, impressions: gains.safetyMargin))
        var prices = bases
        for index in 0..<4 {
            switch errors[index] {
            case .unset:
                next.integrals[index] = 0
            case .noData:
                prices[index] = current[index]
            case let .error(error):
                let integral = state.integrals[index] + gains.integral * error * elapsedDays + (closesDay ? gains.dayEndIntegral * error : 0)
                var proportional = gains.proportional * error
                if gains.catchUp && !closesDay && (index == Self.revenueIndex || index == Self.impressionsIndex) {
                    let share = index == Self.revenueIndex ? shares.revenue : shares.impressions
                    proportional *= min(gains.catchUpLimit, share / max(1 - share, PacingGains.catchUpFloor))
                }
                let unclamped = bases[index] + proportional + integral
                let pushesOut = (unclamped > gains.maxPrice && error > 0) || (unclamped < 0 && error < 0)
                let kept = pushesOut ? state.integrals[index] : integral
                next.integrals[index] = kept
                prices[index] = min(gains.maxPrice, max(0, bases[index] + proportional + kept))
            }
        }
        next.prices = PacingPrices(revenue: prices[0], impressions: prices[1], negatives: prices[2], organic: prices[3])
        return next
    }

    /// The revenue target's and the impression budget's places in the price order.
    static let revenueIndex = 0
    static let impressionsIndex = 1

    /// A constraint's error at one update.
    enum ConstraintError {
        /// No target: the price stays at its default.
        case unset
        /// A target, but nothing to measure yet (no impressions for a rate): the price holds.
        case noData
        case error(Double)
    }

    /// The relative errors of the four constraints, in price order; the revenue target and the
    /// impression budget moved inside by their `margins`.
    static func errors(
        counters: PacingCounters, targets: RegionTargets, day: Int, activeUsers: Int, shares: (revenue: Double, impressions: Double),
        margins: (revenue: Double, impressions: Double)
    ) -> [ConstraintError] {
        func relative(_ numerator: Double, over denominator: Double) -> ConstraintError {
            denominator > 0 && numerator.isFinite ? .error(numerator / denominator) : .noData
        }
        var errors: [ConstraintError] = [.unset, .unset, .unset, .unset]
        if let target = targets.dailyRevenue {
            let expected = target.amount(activeUsers: activeUsers, day: day) * (1 + margins.revenue) * shares.revenue
            errors[0] = relative(expected - counters.revenue, over: expected)
        }
        if let budget = targets.dailyImpressionBudget {
            let expected = budget.on(day: day) * (1 - margins.impressions) * shares.impressions
            errors[1] = relative(counters.impressions - expected, over: expected)
        }
        if let ceiling = targets.maxNegativeRate {
            errors[2] = counters.impressions > 0 ? relative(counters.negatives / counters.impressions - ceiling, over: ceiling) : .noData
        }
        if let floor = targets.minOrganicPerSession {
            errors[3] = counters.sessions > 0 ? relative(floor - counters.organicItems / counters.sessions, over: floor) : .noData
        }
        return errors
    }
}

/// How much of a day's sessions, revenue and impressions had come by the end of an interval
/// (cumulative shares, 1 at the day's end): what the controller pro-rates targets by.
package struct DayShares: Sendable, Equatable {
    package var sessions: Double
    package var revenue: Double
    package var impressions: Double

    /// The cumulative shares at the end of each interval of a day whose counters per interval
    /// were `intervals` (yesterday's, for today's pacing); where a quantity's total is zero,
    /// the share of the day's intervals.
    package static func profile(of intervals: [PacingCounters]) -> [DayShares] {
        let total = intervals.reduce(into: PacingCounters()) { $0.add($1) }
        var cumulative = PacingCounters()
        return intervals.enumerated().map { index, part in
            cumulative.add(part)
            let even = Double(index + 1) / Double(intervals.count)
            func share(_ done: Double, _ all: Double) -> Double { all > 0 ? done / all : even }
            return DayShares(
                sessions: share(cumulative.sessions, total.sessions), revenue: share(cumulative.revenue, total.revenue),
                impressions: share(cumulative.impressions, total.impressions))
        }
    }

    /// The mean of the profiles of the days in `days` (each a day's counters per interval,
    /// every day with the same number of intervals) that had sessions; `nil` when none had.
    /// Averaging several days keeps one day's luck, or one evening's price, from shaping the
    /// next day's pace (``PacingGains/profileDays``).
    package static func meanProfile(of days: [[PacingCounters]]) -> [DayShares]? {
        let profiles = days.filter { $0.contains { $0.sessions > 0 } }.map(profile(of:))
        guard let first = profiles.first else { return nil }
        guard profiles.count > 1 else { return first }
        let scale = 1 / Double(profiles.count)
        return first.indices.map { interval in
            var mean = DayShares(sessions: 0, revenue: 0, impressions: 0)
            for profile in profiles {
                mean.sessions += profile[interval].sessions * scale
                mean.revenue += profile[interval].revenue * scale
                mean.impressions += profile[interval].impressions * scale
            }
            return mean
        }
    }
}
