import Foundation

/// What the traffic team asks of one region per day: a revenue target, an impression supply
/// budget and user-experience guardrails. Each is optional (`nil`: not set). The placement
/// rules stay hard constraints in the environment; these are soft, paced by prices
/// (``PacingController``).
package struct RegionTargets: Sendable, Equatable {
    /// How a daily revenue target is stated.
    package enum RevenueTarget: Sendable, Equatable {
        /// Revenue per user active that day.
        case perActiveUser(DailyAmount)
        /// Revenue of the whole region that day.
        case total(DailyAmount)

        /// Day `day`'s target in revenue units, for `activeUsers` users active that day.
        /// Days are the counters' day numbers (the simulated day, from 1, in a simulation;
        /// days since 1970-01-01 UTC in the service).
        package func amount(activeUsers: Int, day: Int) -> Double {
            switch self {
            case let .perActiveUser(value): value.on(day: day) * Double(activeUsers)
            case let .total(value): value.on(day: day)
            }
        }
    }

    package var dailyRevenue: RevenueTarget?
    /// The most ad impressions the region's inventory and campaigns take per day.
    package var dailyImpressionBudget: DailyAmount?
    /// Ceiling on negative feedback (hides, reports, fast skips) per ad shown.
    package var maxNegativeRate: Double?
    /// Floor on organic items per session.
    package var minOrganicPerSession: Double?

    package init(
        dailyRevenue: RevenueTarget? = nil, dailyImpressionBudget: DailyAmount? = nil, maxNegativeRate: Double? = nil,
        minOrganicPerSession: Double? = nil
    ) {
        self.dailyRevenue = dailyRevenue
        self.dailyImpressionBudget = dailyImpressionBudget
        self.maxNegativeRate = maxNegativeRate
        self.minOrganicPerSession = minOrganicPerSession
    }
}

/// A daily amount of a targets file: the same every day, or one per day (a schedule), for a
/// population, an inventory or a campaign expected to grow or shrink, so that a target does
/// not ask for the same level on every day. Days are the counters' day numbers (the
/// simulated day, from 1, in a simulation; days since 1970-01-01 UTC in the service).
package enum DailyAmount: Sendable, Equatable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    /// Every day's amount.
    case every(Double)
    /// Day `firstDay + i`'s amount is `values[i]`; before `firstDay` the first value holds,
    /// after the last day the last. The parser refuses an empty `values` (one built empty
    /// in code is 0 every day).
    case schedule(firstDay: Int, values: [Double])

    package init(floatLiteral value: Double) { self = .every(value) }
    package init(integerLiteral value: Int) { self = .every(Double(value)) }

    /// Day `day`'s amount.
    package func on(day: Int) -> Double {
        switch self {
        case let .every(value): value
        case let .schedule(firstDay, values): values.isEmpty ? 0 : values[min(max(day - firstDay, 0), values.count - 1)]
        }
    }
}

/// The gains and limits of the pacing controller (one set for every region and constraint;
/// errors are relative, so one set fits targets of any size).
package struct PacingGains: Sendable, Equatable {
    /// Price change per unit of relative error, at once.
    package var proportional: Double
    /// Price change per unit of relative error held for one day.
    package var integral: Double
    /// Integral change per unit of a whole day's relative error, once at the day's close (0:
    /// none). The hourly integral settles where the day's hourly errors average 0, which need
    /// not be where the day's total meets its target; this term acts on the total itself.
    package var dayEndIntegral: Double
    /// How far inside the revenue target and the impression budget they are paced, as a
    /// fraction (0: on them): revenue to target × (1 + margin), impressions to budget ×
    /// (1 − margin); the guardrails are paced on their limits. A day's outcome scatters
    /// around where it is paced, so a limit that must hold every day (a budget) is kept by
    /// aiming under it.
    package var safetyMargin: Double
    /// The margin the revenue target alone is paced inside by (`pacing.revenue_margin`, 0 to
    /// 0.5), in place of ``safetyMargin``; `nil`: ``safetyMargin``. A budget must hold on every
    /// day, so it is paced under; a revenue target within a band either side is best paced
    /// on its middle, and a margin that keeps budgets under would pace revenue above it.
    package var revenueMargin: Double?
    /// Whether the proportional term of the revenue target and the impression budget acts on
    /// what the rest of the day must do (false: on the error so far). With share s of the
    /// day's amount expected so far and e the relative error so far, the rest of the day must
    /// bring 1 + e · s / (1 − s) of its expected revenue ((target − so far) / (target · (1 − s)))
    /// and 1 − e · s / (1 − s) of its expected impressions (e is positive when over budget), so
    /// the term is K_p · e · s / (1 − s). The same error weighs little early in the day, when
    /// there is time to recover it, and more and more towards the day's end, when only the
    /// last hours can still answer it. 1 − s is floored at ``catchUpFloor`` (the multiplier
    /// is at most 24) and the multiplier at ``catchUpLimit``; the integral and the day's close
    /// use e.
    package var catchUp: Bool
    /// The least remaining share of the day that catching up divides by (an hour's): where the
    /// expected shares reach 1 before the day's close, the multiplier stays bounded.
    package static let catchUpFloor = 1.0 / 24
    /// The largest multiplier catching up applies (`pacing.catch_up_limit`, 1 to 24; without it,
    /// `.infinity`: only ``catchUpFloor``'s bound of 24). A policy whose revenue answers a high
    /// price far more than in proportion overshoots when the last hour's price multiplies a
    /// late error 20-fold; a limit keeps the evening's price within reach of the day's.
    package var catchUpLimit: Double
    /// How many days back the day's profile (the shares of its sessions, revenue and
    /// impressions by the end of each interval, which targets are pro-rated by) is averaged
    /// over (`pacing.profile_days`, 1 to 14; 1: yesterday's); days without sessions are left
    /// out. An evening's high price pulls that evening's share of the day's revenue up; with
    /// one day, the next day is paced as if it would come again.
    package var profileDays: Int
    /// Prices stay in [0, maxPrice]; the integral stops growing while a price is held at a
    /// bound by an error that pushes further (anti-windup).
    package var maxPrice: Double
    /// Minutes between two price updates.
    package var intervalMinutes: Double
    /// No update before this share of the day's expected traffic has been seen (early in the
    /// day a cumulative rate is mostly noise).
    package var minimumDayShare: Double

    /// The documented defaults (env/targets/README.md).
    package static let standard = PacingGains(proportional: 2, integral: 5, maxPrice: 10, intervalMinutes: 60, minimumDayShare: 0.02)

    package init(
        proportional: Double, integral: Double, maxPrice: Double, intervalMinutes: Double, minimumDayShare: Double, dayEndIntegral: Double = 0,
        safetyMargin: Double = 0, catchUp: Bool = false, catchUpLimit: Double = .infinity, profileDays: Int = 1,
        revenueMargin: Double? = nil
    ) {
        self.profileDays = profileDays
        self.revenueMargin = revenueMargin
        self.safetyMargin = safetyMargin
        self.catchUp = catchUp
        self.catchUpLimit = catchUpLimit
        self.proportional = proportional
        self.integral = integral
        self.dayEndIntegral = dayEndIntegral
        self.maxPrice = maxPrice
        self.intervalMinutes = intervalMinutes
        self.minimumDayShare = minimumDayShare
    }
}

/// A targets file: per region targets and the pacing controller's gains.
package struct RevenueTargets: Sendable, Equatable {
    package var name: String
    package var description: String
    package var gains: PacingGains
    /// Targets by region name, sorted by name.
    package var regions: [(name: String, targets: RegionTargets)]

    package init(name: String, description: String, gains: PacingGains, regions: [(name: String, targets: RegionTargets)]) {
        self.name = name
        self.description = description
        self.gains = gains
        self.regions = regions.sorted { $0.name < $1.name }
    }

    package static func == (lhs: RevenueTargets, rhs: RevenueTargets) -> Bool {
        lhs.name == rhs.name && lhs.description == rhs.description && lhs.gains == rhs.gains
            && lhs.regions.map(\.name) == rhs.regions.map(\.name) && lhs.regions.map(\.targets) == rhs.regions.map(\.targets)
    }

    /// The targets of region `name` (none set when the file does not list it).
    package func targets(region name: String) -> RegionTargets {
        regions.first { $0.name == name }?.targets ?? RegionTargets()
    }

    /// Loads and validates a targets file: every key required (null where a target is not
    /// set), unknown keys rejected, values range-checked; errors name the file, key and value.
    package static func load(path: String) throws(ConfigError) -> RevenueTargets {
        try parse(try ConfigReader.contents(of: path), file: path)
    }

    /// Parses targets JSON; `file` names the source in errors.
    /// `pacing.interval_minutes`: a multiple of 5 that divides a day, so intervals are whole
    /// 5-minute slots (the service's counters) and a day has a whole number of them.
    static func intervalMinutes(_ pacing: ConfigReader) throws(ConfigError) -> Double {
        let minutes = try pacing.integer("interval_minutes", in: 5...1440)
        guard minutes % 5 == 0, 1440 % minutes == 0 else {
            throw pacing.error(
                "interval_minutes", .number(Double(minutes)), "must be a multiple of 5 that divides 1440 (5, 10, 15, 20, 30, 60, 120, …)")
        }
        return Double(minutes)
    }

    package static func parse(_ data: Data, file: String) throws(ConfigError) -> RevenueTargets {
        let top = try ConfigReader(data: data, file: file, keys: ["name", "description", "pacing", "regions"])
        let pacing = try top.object(
            "pacing", keys: ["proportional_gain", "integral_gain", "max_price", "interval_minutes", "minimum_day_share"],
            optionalKeys: ["day_end_integral_gain", "safety_margin", "catch_up", "catch_up_limit", "profile_days", "revenue_margin"])
        let gains = PacingGains(
            proportional: try pacing.number("proportional_gain", in: 0...1000),
            integral: try pacing.number("integral_gain", in: 0...1000),
            maxPrice: try pacing.number("max_price", in: 0.001...1e6),
            intervalMinutes: try Self.intervalMinutes(pacing),
            minimumDayShare: try pacing.number("minimum_day_share", in: 0...0.5),
            dayEndIntegral: pacing.has("day_end_integral_gain") ? try pacing.number("day_end_integral_gain", in: 0...1000) : 0,
            safetyMargin: pacing.has("safety_margin") ? try pacing.number("safety_margin", in: 0...0.5) : 0,
            catchUp: pacing.has("catch_up") ? try pacing.bool("catch_up") : false,
            catchUpLimit: pacing.has("catch_up_limit") ? try pacing.number("catch_up_limit", in: 1...24) : .infinity,
            profileDays: pacing.has("profile_days") ? try pacing.integer("profile_days", in: 1...14) : 1,
            revenueMargin: pacing.has("revenue_margin") ? try pacing.number("revenue_margin", in: 0...0.5) : nil)
        if pacing.has("catch_up_limit") && !gains.catchUp {
            throw pacing.error(
                "catch_up_limit", .number(gains.catchUpLimit), "bounds catching up, which is off: set \"catch_up\": true as well, or leave the limit out")
        }
        var regions: [(name: String, targets: RegionTargets)] = []
        for (name, reader) in try top.namedObjects("regions", keys: [
            "daily_revenue", "daily_impression_budget", "max_negative_rate", "min_organic_per_session",
        ]) {
            var targets = RegionTargets()
            if !reader.isNull("daily_revenue") {
                let revenue = try reader.object("daily_revenue", keys: ["per_active_user", "total"])
                switch (revenue.isNull("per_active_user"), revenue.isNull("total")) {
                case (false, true): targets.dailyRevenue = .perActiveUser(try Self.dailyAmount(revenue, "per_active_user", in: 0...1e6))
                case (true, false): targets.dailyRevenue = .total(try Self.dailyAmount(revenue, "total", in: 0...1e15))
                default:
                    throw ConfigError(
                        file: file, key: revenue.path, value: nil,
                        problem: "must set exactly one of per_active_user and total (the other null)")
                }
            }
            if !reader.isNull("daily_impression_budget") {
                targets.dailyImpressionBudget = try Self.dailyAmount(reader, "daily_impression_budget", in: 0...1e15)
            }
            targets.maxNegativeRate = try reader.optionalNumber("max_negative_rate", in: 0...1)
            targets.minOrganicPerSession = try reader.optionalNumber("min_organic_per_session", in: 0...10_000)
            regions.append((name, targets))
        }
        return RevenueTargets(
            name: try top.string("name"), description: try top.string("description"), gains: gains, regions: regions)
    }

    /// A daily amount at `key`: a number in `range` (every day's), or `{"first_day": D,
    /// "values": [...]}` (a schedule: `values[i]` is day D + i's).
    static func dailyAmount(_ reader: ConfigReader, _ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> DailyAmount {
        guard case .object = try reader.raw(key) else { return .every(try reader.number(key, in: range)) }
        let schedule = try reader.object(key, keys: ["first_day", "values"])
        let values = try schedule.numbers("values", in: range)
        return .schedule(firstDay: try schedule.integer("first_day", in: 0...10_000_000), values: values)
    }

    /// Checks that every region the file names is one of `known` (the environment's or the
    /// service's regions), so that a misspelt region is an error, not a target never paced.
    package func validate(regions known: [String], file: String) throws(ConfigError) {
        if let unknown = regions.map(\.name).first(where: { !known.contains($0) }) {
            throw ConfigError(
                file: file, key: "regions.\(unknown)", value: nil,
                problem: "is not a region of the environment (its regions: \(known.joined(separator: ", ")))")
        }
    }
}
