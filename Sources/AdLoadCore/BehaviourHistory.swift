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
/// days), and the ad reactions behind ``adAversion`` use a 90-day time constant, so all of
/// them update in O(1) from a value and a timestamp, which is what a Redis hash can hold.
/// Times are in days.
package struct BehaviourHistory: Sendable, Equatable {
    /// Decayed counts over one horizon.
    package struct Counts: Sendable, Equatable {
        package var sessions = 0.0
        package var items = 0.0
        package var ads = 0.0
        package var clicks = 0.0
        package var negatives = 0.0

        package init(sessions: Double = 0, items: Double = 0, ads: Double = 0, clicks: Double = 0, negatives: Double = 0) {
            self.sessions = sessions
            self.items = items
            self.ads = ads
            self.clicks = clicks
            self.negatives = negatives
        }

        /// The counts in a fixed order (sessions, items, ads, clicks, negatives), for storage.
        package var values: [Double] { [sessions, items, ads, clicks, negatives] }

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

    /// Ads seen and the user's adverse reactions to them, decayed with the time constant
    /// ``BehaviourHistory/reactionDays``: what ``BehaviourHistory/adAversion`` is made of.
    ///
    /// A reaction is a negative feedback event (hide, report, fast skip) or a session whose
    /// last position was an ad (the user left right after it). In the environment model both
    /// happen about 1%/τ of the time per ad (on top of a base rate for exits), so their pooled
    /// rate reveals the latent ad tolerance τ; each alone is rarer and noisier.
    package struct AdReactions: Sendable, Equatable {
        package var ads = 0.0
        package var reactions = 0.0

        package init(ads: Double = 0, reactions: Double = 0) {
            self.ads = ads
            self.reactions = reactions
        }
    }

    /// Time constant of ``adReactions``, days: long, because ad tolerance is a trait and
    /// reactions are rare (a 30-day rate rests on a handful of events).
    package static let reactionDays = 90.0
    /// Prior pseudo-counts of ``adAversion``: 4 reactions in 100 ads, a round rate of the order
    /// of the population's (negative feedback alone is about 1% per ad, exits after an ad a
    /// few percent), so a user with few ads sits near 0.
    static let priorReactions = 4.0
    static let priorAds = 100.0

    /// Time of the last recorded session, or `nil` for a user never seen.
    package private(set) var lastVisit: Double?
    /// Counts with a 7-day time constant, as of ``lastVisit``.
    package private(set) var week = Counts()
    /// Counts with a 30-day time constant, as of ``lastVisit``.
    package private(set) var month = Counts()
    /// Exponential moving average of organic dwell per item, seconds (weight 0.2 per session).
    package private(set) var recentDwell = 0.0
    /// Sessions recorded in total.
    package private(set) var totalSessions = 0
    /// Ads and adverse reactions with the 90-day time constant, as of ``lastVisit``.
    package private(set) var adReactions = AdReactions()

    package init() {}

    /// Restores a history from stored fields (a Redis hash, a decision log).
    package init(lastVisit: Double?, week: Counts, month: Counts, recentDwell: Double, totalSessions: Int, adReactions: AdReactions) {
        self.lastVisit = lastVisit
        self.week = week
        self.month = month
        self.recentDwell = recentDwell
        self.totalSessions = totalSessions
        self.adReactions = adReactions
    }

    /// Days since the last session at `time`, or `nil` for a new user.
    func daysSinceLastVisit(at time: Double) -> Double? {
        lastVisit.map { max(0, time - $0) }
    }

    /// Clicks per ad over the 30-day horizon (0 when no ads were seen).
    var recentCTR: Double { month.ads > 0 ? month.clicks / month.ads : 0 }

    /// Negative feedback per ad over the 30-day horizon (0 when no ads were seen).
    var recentNegativeRate: Double { month.ads > 0 ? month.negatives / month.ads : 0 }

    /// How much more often than the population this user reacts badly to ads:
    /// log((r + 4) / (a + 100)) − log(4 / 100), with r the adverse reactions and a the ads
    /// of ``adReactions`` (90-day decay). 0 for a user with no ads; about −ln τ + const once
    /// a few hundred ads are seen.
    ///
    /// The shrinkage toward the prior rate keeps the feature from swinging on one event,
    /// which a raw rate does for a user with few ads (one hide in 20 ads reads as 5%).
    var adAversion: Double {
        log((adReactions.reactions + Self.priorReactions) / (adReactions.ads + Self.priorAds))
            - log(Self.priorReactions / Self.priorAds)
    }

    /// Adds one finished session that started at `time`.
    /// - Parameters:
    ///   - negatives: Negative feedback events (hide, report, fast skip).
    ///   - endedOnAd: Whether the session's last position held an ad (the user left right
    ///     after it); the feed server knows this from the plan and the session length.
    package mutating func record(
        time: Double, items: Int, ads: Int, clicks: Int, negatives: Int, dwell: Double, endedOnAd: Bool
    ) {
        if let last = lastVisit {
            let elapsed = max(0, time - last)
            week.scale(exp(-elapsed / 7))
            month.scale(exp(-elapsed / 30))
            let reactionFactor = exp(-elapsed / Self.reactionDays)
            adReactions.ads *= reactionFactor
            adReactions.reactions *= reactionFactor
        }
        week.add(items: items, ads: ads, clicks: clicks, negatives: negatives)
        month.add(items: items, ads: ads, clicks: clicks, negatives: negatives)
        adReactions.ads += Double(ads)
        adReactions.reactions += Double(negatives) + (endedOnAd && ads > 0 ? 1 : 0)
        if items > 0 {
            let perItem = dwell / Double(items)
            recentDwell = totalSessions == 0 ? perItem : 0.8 * recentDwell + 0.2 * perItem
        }
        lastVisit = time
        totalSessions += 1
    }
}
