import Foundation

extension UserRecord {
    /// Time constants of the decayed counts, days.
    package static let weekDays = 7.0
    package static let monthDays = 30.0
    /// Time constant of ``adReactions``, days (`BehaviourHistory.reactionDays`).
    package static let reactionDays = BehaviourHistory.reactionDays
    /// Weight of a session's dwell per item in ``recentDwell``.
    package static let dwellWeight = 0.2

    /// Applies new (already de-duplicated) feedback events observed at `time`.
    ///
    /// The reference semantics the Redis script mirrors: counts decay from `lastUpdate` to
    /// `time`, then impressions add to ads, clicks to clicks, hide/report/skip to negatives,
    /// dwell events to items (one organic item each) and to dwell; a session end adds a
    /// session and moves `lastVisit` to `sessionStart`; impressions also count toward today's
    /// ads. The 90-day ``adReactions`` count impressions as ads and hide/report/skip as
    /// reactions, plus one reaction when `endedOnAd`.
    /// - Parameters:
    ///   - sessionStart: time of the decision the feedback belongs to.
    ///   - endedOnAd: whether these events complete the evidence that the decision's session
    ///     ended on an ad: its first counted session end has length L and an impression at
    ///     position L is counted, whichever of the two comes last (so at most once per
    ///     decision). The store decides this from the events it counted for the decision.
    package mutating func apply(_ events: [FeedbackEvent], at time: Double, sessionStart: Double, endedOnAd: Bool) {
        if let last = lastUpdate {
            let elapsed = max(0, time - last)
            let weekFactor = exp(-elapsed / Self.weekDays)
            let monthFactor = exp(-elapsed / Self.monthDays)
            for index in 0..<5 {
                week[index] *= weekFactor
                month[index] *= monthFactor
            }
            let reactionFactor = exp(-elapsed / Self.reactionDays)
            for index in 0..<2 { adReactions[index] *= reactionFactor }
        }
        lastUpdate = max(lastUpdate ?? time, time)
        var items = 0.0, dwell = 0.0
        for event in events {
            var slot: Int?
            switch event.kind {
            case .impression:
                slot = 2
                adsToday += 1
                adReactions[0] += 1
            case .click: slot = 3
            case .hide, .report, .skip:
                slot = 4
                adReactions[1] += 1
            case .dwell:
                slot = 1
                items += 1
                dwell += event.value ?? 0
            case .sessionEnd:
                slot = 0
                totalSessions += 1
                lastVisit = max(lastVisit ?? sessionStart, sessionStart)
            case .conversion: slot = nil
            }
            if let slot {
                week[slot] += 1
                month[slot] += 1
            }
        }
        if endedOnAd { adReactions[1] += 1 }
        if items > 0 {
            let perItem = dwell / items
            recentDwell = recentDwell == 0 ? perItem : (1 - Self.dwellWeight) * recentDwell + Self.dwellWeight * perItem
        }
    }

    /// The session length a `session_end` value gives for the ended-on-an-ad check: the
    /// value when it is a whole feed position (1...512), otherwise 0 (matches no ad).
    package static func sessionLength(_ value: Double?) -> Int {
        guard let value, value >= 1, value <= Double(AdPlan.maxPosition), value == value.rounded() else { return 0 }
        return Int(value)
    }
}
