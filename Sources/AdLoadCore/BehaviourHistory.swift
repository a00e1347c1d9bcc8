#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the service keeps about a user's past sessions: the observable behaviour a
/// policy may condition on (ENVMODEL.md, "What the controller observes").
///
/// Rolling 7- and 30-day counts are exponentially decayed sums (time constants of 7 and 30
/// days), so they update in O(1) from a value and a timestamp, which is what a Redis hash
/// can hold. Times are in days.
public struct BehaviourHistory: Sendable, Equatable {
    /// Decayed counts over one horizon.
    public struct Counts: Sendable, Equatable {
        public var sessions = 0.0
        public var items = 0.0
        public var ads = 0.0
        public var clicks = 0.0
        public var negatives = 0.0

        public init(sessions: Double = 0, items: Double = 0, ads: Double = 0, clicks: Double = 0, negatives: Double = 0) {
            self.sessions = sessions
            self.items = items
            self.ads = ads
            self.clicks = clicks
            self.negatives = negatives
        }

        /// The counts in a fixed order (sessions, items, ads, clicks, negatives), for storage.
        public var values: [Double] { [sessions, items, ads, clicks, negatives] }

        mutating func add(items: Int, ads: Int, clicks: Int, negatives: Int) {
            sessions += 1
            self.items += Double(items)
            self.ads += Double(ads)
            self.clicks += Double(clicks)
            self.negatives += Double(negatives)
        }

        mutating func scale(_ factor: Double) {
            sessions *= factor; items *= factor; ads *= factor; clicks *= factor; negatives *= factor
        }
    }

    /// Time of the last recorded session, or `nil` for a user never seen.
    public private(set) var lastVisit: Double?
    /// Counts with a 7-day time constant, as of ``lastVisit``.
    public private(set) var week = Counts()
    /// Counts with a 30-day time constant, as of ``lastVisit``.
    public private(set) var month = Counts()
    /// Exponential moving average of organic dwell per item, seconds (weight 0.2 per session).
    public private(set) var recentDwell = 0.0
    /// Sessions recorded in total.
    public private(set) var totalSessions = 0

    public init() {}

    /// Restores a history from stored fields (a Redis hash, a decision log).
    public init(lastVisit: Double?, week: Counts, month: Counts, recentDwell: Double, totalSessions: Int) {
        self.lastVisit = lastVisit
        self.week = week
        self.month = month
        self.recentDwell = recentDwell
        self.totalSessions = totalSessions
    }

    /// Days since the last session at `time`, or `nil` for a new user.
    public func daysSinceLastVisit(at time: Double) -> Double? {
        lastVisit.map { max(0, time - $0) }
    }

    /// Clicks per ad over the 30-day horizon (0 when no ads were seen).
    public var recentCTR: Double { month.ads > 0 ? month.clicks / month.ads : 0 }

    /// Negative feedback per ad over the 30-day horizon (0 when no ads were seen).
    public var recentNegativeRate: Double { month.ads > 0 ? month.negatives / month.ads : 0 }

    /// Adds one finished session that started at `time`.
    public mutating func record(time: Double, items: Int, ads: Int, clicks: Int, negatives: Int, dwell: Double) {
        if let last = lastVisit {
            let elapsed = max(0, time - last)
            week.scale(exp(-elapsed / 7))
            month.scale(exp(-elapsed / 30))
        }
        week.add(items: items, ads: ads, clicks: clicks, negatives: negatives)
        month.add(items: items, ads: ads, clicks: clicks, negatives: negatives)
        if items > 0 {
            let perItem = dwell / Double(items)
            recentDwell = totalSessions == 0 ? perItem : 0.8 * recentDwell + 0.2 * perItem
        }
        lastVisit = time
        totalSessions += 1
    }
}
