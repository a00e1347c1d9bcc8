import AdLoadCore
import Foundation
import StateStore

extension UserRecord {
    /// The record as the ``BehaviourHistory`` a policy's feature encoder reads.
    ///
    /// The record's decayed counts are as of ``UserRecord/lastUpdate``; a history's are as of
    /// its last visit. The week counts are multiplied by exp((lastUpdate − lastVisit)/7), the
    /// month counts by exp((lastUpdate − lastVisit)/30) and the ad reactions by
    /// exp((lastUpdate − lastVisit)/90) when both times exist (the exponent is capped at 700
    /// so that a record decades apart cannot overflow). A record
    /// without a last visit (no finished session yet) is a new user: an empty history.
    var behaviourHistory: BehaviourHistory {
        guard let lastVisit else { return BehaviourHistory() }
        let elapsed = lastUpdate.map { $0 - lastVisit } ?? 0
        let weekFactor = exp(min(700, elapsed / UserRecord.weekDays))
        let monthFactor = exp(min(700, elapsed / UserRecord.monthDays))
        let reactionFactor = exp(min(700, elapsed / UserRecord.reactionDays))
        func reaction(_ index: Int) -> Double { adReactions.indices.contains(index) ? adReactions[index] * reactionFactor : 0 }
        return BehaviourHistory(
            lastVisit: lastVisit, week: Self.counts(week, weekFactor), month: Self.counts(month, monthFactor),
            recentDwell: recentDwell, totalSessions: totalSessions,
            adReactions: BehaviourHistory.AdReactions(ads: reaction(0), reactions: reaction(1)))
    }

    /// Counts in storage order (sessions, items, ads, clicks, negatives), scaled; missing values are 0.
    static func counts(_ values: [Double], _ factor: Double) -> BehaviourHistory.Counts {
        func value(_ index: Int) -> Double { values.indices.contains(index) ? values[index] * factor : 0 }
        return BehaviourHistory.Counts(sessions: value(0), items: value(1), ads: value(2), clicks: value(3), negatives: value(4))
    }
}
