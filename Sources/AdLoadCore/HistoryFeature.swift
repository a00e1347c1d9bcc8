#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One behavioural-history feature of the context vector c, computed from a user's
/// ``BehaviourHistory`` (what the decision service keeps in Redis).
///
/// A ``FeatureSchema`` lists the history features it encodes, so a policy can be trained on
/// any subset; the policy file records the choice in its context names. ``standard`` is
/// the set the shipped policies use.
public enum HistoryFeature: String, CaseIterable, Sendable, Hashable {
    /// 1 for a user with no recorded session, else 0 (every other feature is then 0).
    case newUser = "new_user"
    /// ln(1 + days since the last session).
    case logDaysSinceVisit = "log_days_since_visit"
    /// ln(1 + sessions over the last week, decayed to now).
    case logSessionsWeek = "log_sessions_week"
    /// Items per session over 30 days, in hundreds.
    case itemsPerSession = "items_per_session"
    /// Share of ads among the positions seen over 30 days, × 10.
    case recentAdShare = "recent_ad_share"
    /// Clicks per ad over 30 days, × 50.
    case recentCTR = "recent_ctr"
    /// Negative feedback (hide, report, fast skip) per ad over 30 days, × 50.
    case recentNegativeRate = "recent_negative_rate"
    /// Dwell seconds per item (exponentially averaged over sessions), ÷ 30.
    case recentDwell = "recent_dwell"
    /// ``BehaviourHistory/adAversion``: the shrunk 90-day rate of adverse reactions to ads.
    case adAversion = "ad_aversion"

    /// The history features of feature schema version 2, used by the shipped policies.
    ///
    /// Measured with greedy Thompson sampling (train seed 1, screening seeds 5, 11, 13):
    /// `recent_negative_rate`, `recent_ctr` and `recent_dwell` cost more than they gave. A raw
    /// 30-day rate rests on a few events and swings with each one, and the learner followed
    /// it; knowing the click propensity made the per-session learner pile ads onto likely
    /// clickers, whose long-run cost its reward does not see. `ad_aversion` carries the ad
    /// tolerance instead: 1.02 -> 1.10x the best fixed cadence on seed 5.
    public static let standard: [HistoryFeature] = [
        .newUser, .logDaysSinceVisit, .logSessionsWeek, .itemsPerSession, .recentAdShare, .adAversion,
    ]

    /// The names of every history feature, for messages.
    package static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Parses a comma-separated list of names, or `standard` or `all`.
    /// - Throws: ``HistoryFeatureError`` naming an unknown or repeated feature.
    package static func parseList(_ text: String) throws(HistoryFeatureError) -> [HistoryFeature] {
        switch text {
        case "standard": return standard
        case "all": return allCases
        default: break
        }
        var features: [HistoryFeature] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingSpaces }) {
            guard let feature = HistoryFeature(rawValue: name) else {
                throw HistoryFeatureError("unknown history feature \"\(name)\"; known: \(allNames) (or `standard`, `all`)")
            }
            guard !features.contains(feature) else { throw HistoryFeatureError("history feature \"\(name)\" is listed twice") }
            features.append(feature)
        }
        return features
    }

    /// The feature's value for a user whose last session was `daysSinceVisit` days ago.
    @inline(__always)
    func value(_ history: BehaviourHistory, daysSinceVisit since: Double) -> Double {
        let month = history.month
        switch self {
        case .newUser: return 0
        case .logDaysSinceVisit: return log1p(since)
        case .logSessionsWeek: return log1p(history.week.sessions * exp(-since / 7))
        case .itemsPerSession: return month.sessions > 0 ? month.items / month.sessions / 100 : 0
        case .recentAdShare: return month.items + month.ads > 0 ? month.ads / (month.items + month.ads) * 10 : 0
        case .recentCTR: return history.recentCTR * 50
        case .recentNegativeRate: return history.recentNegativeRate * 50
        case .recentDwell: return history.recentDwell / 30
        case .adAversion: return history.adAversion
        }
    }
}

/// A history feature list that cannot be used, with the reason.
package struct HistoryFeatureError: Error, Sendable, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
