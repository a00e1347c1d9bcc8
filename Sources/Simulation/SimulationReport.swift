import AdLoadCore
/// The metrics of one policy over one simulation (ENVMODEL.md: every term of the
/// objective is reported separately).
package struct SimulationReport: Sendable, Equatable {
    package let policy: String
    package let setup: SimulationSetup
    package let sessions: Int
    /// Mean discounted objective per user.
    package let objectivePerUser: Double
    package let revenuePerUser: Double
    /// Organic items watched per session.
    package let itemsPerSession: Double
    package let adsPerSession: Double
    /// Ads among all positions shown.
    let adShare: Double
    /// Clicks per ad.
    package let ctr: Double
    /// Negative feedback events per ad.
    package let negativeFeedbackRate: Double
    package let sessionsPerUserDay: Double
    /// Share of active user-days followed by a session on the next day.
    package let nextDayReturn: Double
    /// Share of users not churned at the end of the horizon.
    package let survival: Double
    /// Mean organic dwell per item, seconds.
    let dwellPerItem: Double
    /// Standard error of ``objectivePerUser`` across users.
    package let objectiveStandardError: Double
    package let positions: Int
    package let elapsedSeconds: Double
    /// Each user's discounted objective, in user order: what paired comparisons on common
    /// random numbers (``PairedRatio``) difference user by user.
    package let userObjectives: [Double]
    /// Each user's revenue, sessions, organic items and survival, in user order: what
    /// paired comparisons of those quantities (``PairedDifference``) difference user by user.
    package let users: [UserSummary]
    /// For a policy that computes its own value (`oracle:dynamic`): that value per user,
    /// to set against ``objectivePerUser`` (their gap is the computation's error).
    package var computedValuePerUser: Double?

    package init(policy: String, setup: SimulationSetup, outcomes: [UserOutcome], elapsedSeconds: Double) {
        self.policy = policy
        self.setup = setup
        self.elapsedSeconds = elapsedSeconds
        userObjectives = outcomes.map(\.objective)
        users = outcomes.map {
            UserSummary(revenue: $0.revenue, sessions: Double($0.sessions), items: Double($0.items), survived: $0.survived ? 1 : 0)
        }
        var sessions = 0, items = 0, ads = 0, clicks = 0, negatives = 0, survivors = 0
        var eligibleDays = 0, returns = 0
        var objective = 0.0, objectiveSquares = 0.0, revenue = 0.0, dwell = 0.0
        for outcome in outcomes {
            sessions += outcome.sessions
            items += outcome.items
            ads += outcome.ads
            clicks += outcome.clicks
            negatives += outcome.negatives
            survivors += outcome.survived ? 1 : 0
            eligibleDays += outcome.activeDaysWithNextDay
            returns += outcome.nextDayReturns
            objective += outcome.objective
            objectiveSquares += outcome.objective * outcome.objective
            revenue += outcome.revenue
            dwell += outcome.dwell
        }
        let users = Double(max(1, outcomes.count))
        func ratio(_ a: Double, _ b: Int) -> Double { b == 0 ? 0 : a / Double(b) }
        self.sessions = sessions
        positions = items + ads
        objectivePerUser = objective / users
        let variance = max(0, objectiveSquares / users - objectivePerUser * objectivePerUser)
        objectiveStandardError = (variance / max(1, users - 1)).squareRoot()
        revenuePerUser = revenue / users
        itemsPerSession = ratio(Double(items), sessions)
        adsPerSession = ratio(Double(ads), sessions)
        adShare = ratio(Double(ads), items + ads)
        ctr = ratio(Double(clicks), ads)
        negativeFeedbackRate = ratio(Double(negatives), ads)
        sessionsPerUserDay = Double(sessions) / (users * Double(max(1, setup.days)))
        nextDayReturn = ratio(Double(returns), eligibleDays)
        survival = Double(survivors) / users
        dwellPerItem = ratio(dwell, items)
    }

    /// Sessions simulated per second of wall time.
    package var sessionsPerSecond: Double { elapsedSeconds > 0 ? Double(sessions) / elapsedSeconds : 0 }

    /// The report as JSON key/value pairs in a fixed order (for `--json`).
    /// Everything but `sessions_per_second` is a deterministic function of the inputs.
    package var jsonFields: [(String, String)] {
        let number = JSONNumber.json
        return [
            ("policy", JSONValue.quoted(policy)),
            ("users", "\(setup.users)"),
            ("days", "\(setup.days)"),
            ("seed", "\(setup.luckSeed)"),
            ("population_seed", "\(setup.populationSeed)"),
            ("sessions", "\(sessions)"),
            ("positions", "\(positions)"),
            ("objective_per_user", number(objectivePerUser)),
            ("objective_standard_error", number(objectiveStandardError)),
            ("revenue_per_user", number(revenuePerUser)),
            ("items_per_session", number(itemsPerSession)),
            ("ads_per_session", number(adsPerSession)),
            ("ad_share", number(adShare)),
            ("ctr", number(ctr)),
            ("negative_feedback_rate", number(negativeFeedbackRate)),
            ("sessions_per_user_day", number(sessionsPerUserDay)),
            ("next_day_return", number(nextDayReturn)),
            ("survival", number(survival)),
            ("dwell_per_item", number(dwellPerItem)),
            ("sessions_per_second", number(sessionsPerSecond)),
        ] + (computedValuePerUser.map { [("computed_value_per_user", number($0))] } ?? [])
    }

    /// One JSON object with every metric.
    package var json: String {
        "{" + jsonFields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }
}

/// One simulated user's totals, for paired comparisons.
package struct UserSummary: Sendable, Equatable {
    package let revenue: Double
    package let sessions: Double
    /// Organic items.
    package let items: Double
    /// 1 if the user had not churned by the horizon's end, else 0.
    package let survived: Double
}
