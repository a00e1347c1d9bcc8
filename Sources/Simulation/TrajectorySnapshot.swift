import AdLoadCore

/// Everything needed to rebuild a ``UserTrajectory`` at a session start: the simulator's
/// ground truth (latent state included), written into simulation decision logs so that
/// `adload evaluate --env` can replay a logged context under another plan.
///
/// It is simulator-only data: no policy may read it (the features come from the
/// observable ``SessionContext``).
package struct TrajectorySnapshot: Sendable, Equatable, Codable {
    package var user: Int
    package var populationSeed: UInt64
    package var luckSeed: UInt64
    package var days: Int
    package var sessionIndex: Int
    package var time: Double
    package var satisfaction: Double
    var blindness: Double
    package var adsToday: Int
    package var day: Int
    package var lastVisit: Double?
    /// Week counts: sessions, items, ads, clicks, negatives.
    package var week: [Double]
    /// Month counts: sessions, items, ads, clicks, negatives.
    package var month: [Double]
    package var recentDwell: Double
    package var totalSessions: Int
    /// 90-day ad reactions: ads, adverse reactions (``BehaviourHistory/AdReactions``).
    package var adReactions: [Double]
    /// The session's revenue with each click replaced by its probability (latent): for
    /// evaluation only. The logged outcome's `revenue` is the realized one. Set once the
    /// session has run; `nil` in a snapshot taken for a session not yet run.
    package var expectedRevenue: Double?

    enum CodingKeys: String, CodingKey {
        case user, days, time, satisfaction, blindness, day, week, month
        case populationSeed = "population_seed", luckSeed = "luck_seed", sessionIndex = "session"
        case adsToday = "ads_today", lastVisit = "last_visit", recentDwell = "recent_dwell", totalSessions = "total_sessions"
        case adReactions = "ad_reactions", expectedRevenue = "expected_revenue"
    }
}

extension EnvironmentModel {
    /// A snapshot of `trajectory` at its next session start.
    package func snapshot(_ trajectory: UserTrajectory, populationSeed: UInt64, luckSeed: UInt64) -> TrajectorySnapshot {
        let history = trajectory.history
        return TrajectorySnapshot(
            user: trajectory.user.index, populationSeed: populationSeed, luckSeed: luckSeed, days: trajectory.days,
            sessionIndex: trajectory.sessionIndex, time: trajectory.time, satisfaction: trajectory.satisfaction,
            blindness: trajectory.blindness, adsToday: trajectory.adsToday, day: trajectory.day,
            lastVisit: history.lastVisit, week: history.week.values, month: history.month.values,
            recentDwell: history.recentDwell, totalSessions: history.totalSessions,
            adReactions: [history.adReactions.ads, history.adReactions.reactions], expectedRevenue: nil)
    }

    /// The trajectory a snapshot was taken from (same user, luck and state; totals reset).
    /// - Throws: ``SnapshotError`` when the snapshot is malformed.
    package func restore(_ snapshot: TrajectorySnapshot) throws(SnapshotError) -> UserTrajectory {
        guard snapshot.week.count == 5, snapshot.month.count == 5, snapshot.adReactions.count == 2 else {
            throw SnapshotError(problem: "week and month must hold 5 counts each, ad_reactions 2")
        }
        guard snapshot.user >= 0, snapshot.days >= 1, snapshot.sessionIndex >= 0, snapshot.time.isFinite else {
            throw SnapshotError(problem: "user, days, session or time out of range")
        }
        let user = self.user(snapshot.user, populationSeed: snapshot.populationSeed)
        var trajectory = startTrajectory(user, luckSeed: snapshot.luckSeed, days: snapshot.days)
        func counts(_ values: [Double]) -> BehaviourHistory.Counts {
            BehaviourHistory.Counts(sessions: values[0], items: values[1], ads: values[2], clicks: values[3], negatives: values[4])
        }
        trajectory.time = snapshot.time
        trajectory.satisfaction = snapshot.satisfaction
        trajectory.blindness = snapshot.blindness
        trajectory.adsToday = snapshot.adsToday
        trajectory.day = snapshot.day
        trajectory.sessionIndex = snapshot.sessionIndex
        trajectory.history = BehaviourHistory(
            lastVisit: snapshot.lastVisit, week: counts(snapshot.week), month: counts(snapshot.month),
            recentDwell: snapshot.recentDwell, totalSessions: snapshot.totalSessions,
            adReactions: BehaviourHistory.AdReactions(ads: snapshot.adReactions[0], reactions: snapshot.adReactions[1]))
        trajectory.totals = UserOutcome()
        return trajectory
    }
}

/// A trajectory snapshot that cannot be restored.
package struct SnapshotError: Error, Sendable, CustomStringConvertible {
    package let problem: String
    package var description: String { "invalid simulator snapshot: \(problem)" }
}
