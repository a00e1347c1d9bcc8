import Foundation

extension UserRecord {
    /// Time constants of the decayed counts, days.
    public static let weekDays = 7.0
    public static let monthDays = 30.0
    /// Weight of a session's dwell per item in ``recentDwell``.
    public static let dwellWeight = 0.2

    /// Applies new (already de-duplicated) feedback events observed at `time`.
    ///
    /// The reference semantics the Redis script mirrors: counts decay from `lastUpdate` to
    /// `time`, then impressions add to ads, clicks to clicks, hide/report/skip to negatives,
    /// dwell events to items (one organic item each) and to dwell; a session end adds a
    /// session and moves `lastVisit` to `sessionStart`; impressions also count toward today's ads.
    /// - Parameters:
    ///   - sessionStart: time of the decision the feedback belongs to.
    public mutating func apply(_ events: [FeedbackEvent], at time: Double, sessionStart: Double) {
        if let last = lastUpdate {
            let elapsed = max(0, time - last)
            let weekFactor = exp(-elapsed / Self.weekDays)
            let monthFactor = exp(-elapsed / Self.monthDays)
            for index in 0..<5 {
                week[index] *= weekFactor
                month[index] *= monthFactor
            }
        }
        lastUpdate = max(lastUpdate ?? time, time)
        var items = 0.0, dwell = 0.0
        for event in events {
            var slot: Int?
            switch event.kind {
            case .impression:
                slot = 2
                adsToday += 1
            case .click: slot = 3
            case .hide, .report, .skip: slot = 4
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
        if items > 0 {
            let perItem = dwell / items
            recentDwell = recentDwell == 0 ? perItem : (1 - Self.dwellWeight) * recentDwell + Self.dwellWeight * perItem
        }
    }
}
