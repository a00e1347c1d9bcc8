/// What the decision service keeps per user, as read on the decide path.
///
/// The counts are exponentially decayed sums (time constants 7, 30 and 90 days, the same
/// definitions as `AdLoadCore.BehaviourHistory`) as of `lastUpdate`; times are in days
/// since the Unix epoch.
package struct UserRecord: Sendable, Equatable {
    /// Start of the user's last session (days since the epoch), or `nil` for a new user.
    package var lastVisit: Double?
    /// Time the decayed counts are as of.
    package var lastUpdate: Double?
    /// 7-day decayed counts: sessions, items, ads, clicks, negatives.
    package var week: [Double]
    /// 30-day decayed counts: sessions, items, ads, clicks, negatives.
    package var month: [Double]
    /// Exponential moving average of organic dwell per item, seconds.
    package var recentDwell: Double
    package var totalSessions: Int
    /// 90-day decayed ad reactions: ads (impressions), and adverse reactions (hide, report
    /// and skip events, plus one per session whose last position held a counted impression).
    /// What `AdLoadCore.BehaviourHistory/adAversion` is computed from.
    package var adReactions: [Double]
    /// Ad impressions counted today (the daily-cap counter).
    package var adsToday: Int

    package init(
        lastVisit: Double? = nil, lastUpdate: Double? = nil, week: [Double] = Array(repeating: 0, count: 5),
        month: [Double] = Array(repeating: 0, count: 5), recentDwell: Double = 0, totalSessions: Int = 0,
        adReactions: [Double] = [0, 0], adsToday: Int = 0
    ) {
        self.lastVisit = lastVisit
        self.lastUpdate = lastUpdate
        self.week = week
        self.month = month
        self.recentDwell = recentDwell
        self.totalSessions = totalSessions
        self.adReactions = adReactions
        self.adsToday = adsToday
    }

    /// A user never seen.
    package static let new = UserRecord()
}
