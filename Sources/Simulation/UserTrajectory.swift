import AdLoadCore

/// One user's life in the environment model, advanced one session at a time by
/// ``EnvironmentModel/step(_:decider:policyName:)``.
///
/// A value type: copying it snapshots the user (latent state, history, luck), which is how
/// counterfactual sessions are simulated (what would this plan have done here?).
public struct UserTrajectory: Sendable {
    public let user: UserProfile
    public let days: Int
    let luck: CounterRandom
    let inverseTolerance: Double
    /// Start time of the next session, in days.
    public internal(set) var time: Double
    /// Latent satisfaction S.
    package internal(set) var satisfaction = 0.0
    /// Latent ad blindness B.
    var blindness = 0.0
    package internal(set) var history = BehaviourHistory()
    /// Ads seen on the current calendar day.
    public internal(set) var adsToday = 0
    /// Index of the next session.
    package internal(set) var sessionIndex = 0
    package internal(set) var churned = false
    var day = -1
    var totals = UserOutcome()

    init(user: UserProfile, days: Int, luck: CounterRandom, inverseTolerance: Double, time: Double) {
        self.user = user
        self.days = days
        self.luck = luck
        self.inverseTolerance = inverseTolerance
        self.time = time
    }

    /// Whether another session happens within the horizon.
    package var isActive: Bool { !churned && time < Double(days) }

    /// Hour of day at the next session's start.
    package var hour: Int { min(23, max(0, Int((time - time.rounded(.down)) * 24))) }

    /// Everything so far, summed; the current day counts toward next-day return once it
    /// has a next day inside the horizon.
    public var outcome: UserOutcome {
        var result = totals
        if day >= 0 && day + 1 < days { result.activeDaysWithNextDay += 1 }
        return result
    }

    /// Starts a new calendar day if the next session falls on one, closing the last
    /// active day for next-day-return accounting.
    mutating func rollOverDay() {
        let today = Int(time.rounded(.down))
        guard today != day else { return }
        if day >= 0 && day + 1 < days {
            totals.activeDaysWithNextDay += 1
            if today == day + 1 { totals.nextDayReturns += 1 }
        }
        day = today
        adsToday = 0
    }
}

/// What one session did, and what followed it.
public struct SessionOutcome: Sendable, Equatable {
    /// Session start, in days.
    package let time: Double
    package let items: Int
    package let ads: Int
    package let clicks: Int
    package let negatives: Int
    /// Organic dwell, seconds.
    package let dwell: Double
    /// Ad revenue from the impressions shown and the clicks that happened: what the service
    /// sees, and all a learner may use.
    package let revenue: Double
    /// The revenue with each click replaced by its probability (latent traits and state):
    /// for evaluation only, never for learning.
    package let expectedRevenue: Double
    /// This session's undiscounted objective term: revenue (expected, if the objective says
    /// so) + w_e · items.
    package let value: Double
    /// Whether the user churned after this session.
    package let churned: Bool
    /// Days until the next session (infinite after churn); may reach past the horizon.
    package let gapToNext: Double

    package init(time: Double, items: Int, ads: Int, clicks: Int, negatives: Int, dwell: Double, revenue: Double,
                expectedRevenue: Double, value: Double, churned: Bool, gapToNext: Double) {
        self.time = time
        self.items = items
        self.ads = ads
        self.clicks = clicks
        self.negatives = negatives
        self.dwell = dwell
        self.revenue = revenue
        self.expectedRevenue = expectedRevenue
        self.value = value
        self.churned = churned
        self.gapToNext = gapToNext
    }
}
