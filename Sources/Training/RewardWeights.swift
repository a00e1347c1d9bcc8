import Foundation
import AdLoadCore
import Simulation

/// The bandit's per-session reward: session revenue plus weighted terms for what the
/// session did to the user's experience and retention.
///
/// reward = revenue·w_rev + items·w_items − negatives·w_neg − ads²·w_ads² + w_ret·1[next session within the window]
///
/// The ads² term is shaping: the environment's revenue and its satisfaction cost are both
/// nearly linear in a session's ad count, so a per-session learner with linear terms only
/// swings between no ads and the regional maximum; a convex cost of ad load per session
/// makes the per-session optimum interior, which is what spreading ads evenly earns in
/// the long run.
///
/// The return term is delayed: it is known when the user's next session starts, or when
/// the window expires without one.
///
/// The shipped default (``standard``) came from a sweep on a training seed
/// (`scripts/sweep-bandit-rewards`, figures in docs/bandits.md): revenue, a 0.02 bonus for a
/// return within a day, and a convex cost 0.02 × (planned ad load)² on the plan itself.
/// Linear terms alone (items, negatives, return) leave a per-session learner swinging
/// between no ads and the regional maximum, because both the revenue and the satisfaction
/// cost of ads are nearly linear in a session's ad count, and the satisfaction cost lands
/// on later sessions the per-session reward does not see.
package struct RewardWeights: Sendable, Equatable {
    package var revenue: Double
    package var items: Double
    package var negatives: Double
    package var returned: Double
    /// Cost per squared ad count of the session.
    package var adsSquared: Double
    /// Cost per squared planned ad load (the plan's ads per 10 positions among the first 60,
    /// ``PlanDescriptors`` density): a convex cost on the action itself.
    package var loadSquared: Double
    /// Days within which a next session counts as a return.
    var returnWindowDays: Double

    package init(
        revenue: Double = 1, items: Double, negatives: Double, returned: Double, adsSquared: Double = 0,
        loadSquared: Double = 0, returnWindowDays: Double = 1
    ) {
        self.loadSquared = loadSquared
        self.revenue = revenue
        self.items = items
        self.negatives = negatives
        self.returned = returned
        self.adsSquared = adsSquared
        self.returnWindowDays = returnWindowDays
    }

    /// Revenue only: what a session-greedy policy maximizes.
    static let revenueOnly = RewardWeights(items: 0, negatives: 0, returned: 0)

    /// The shipped default (see the type's documentation for how it was chosen).
    package static let standard = RewardWeights(items: 0, negatives: 0, returned: 0.02, loadSquared: 0.02)

    /// The reward of one session that followed a plan with descriptors `plan`.
    @inlinable
    package func reward(_ outcome: SessionOutcome, plan: PlanDescriptors) -> Double {
        reward(outcome) - loadSquared * plan[2]
    }

    /// The reward of one session, without the plan's own cost term.
    @inlinable
    package func reward(_ outcome: SessionOutcome) -> Double {
        revenue * outcome.revenue + items * Double(outcome.items) - negatives * Double(outcome.negatives)
            - adsSquared * Double(outcome.ads * outcome.ads) + (outcome.gapToNext <= returnWindowDays ? returned : 0)
    }

    /// The weights by name, as stored in policy files and logs.
    package var dictionary: [String: Double] {
        [
            "revenue": revenue, "items": items, "negatives": negatives, "returned": returned, "ads_squared": adsSquared, "load_squared": loadSquared,
            "return_window_days": returnWindowDays,
        ]
    }

    /// Weights from their stored names; every name is required.
    package init(dictionary: [String: Double]) throws(RewardWeightsError) {
        func value(_ key: String) throws(RewardWeightsError) -> Double {
            guard let value = dictionary[key], value.isFinite else { throw RewardWeightsError(key: key, value: dictionary[key]) }
            return value
        }
        let known = ["revenue", "items", "negatives", "returned", "ads_squared", "load_squared", "return_window_days"]
        for key in dictionary.keys where !known.contains(key) {
            throw RewardWeightsError(key: key, value: dictionary[key])
        }
        self.init(revenue: try value("revenue"), items: try value("items"), negatives: try value("negatives"),
                  returned: try value("returned"), adsSquared: try value("ads_squared"), loadSquared: try value("load_squared"),
                  returnWindowDays: try value("return_window_days"))
        guard returnWindowDays > 0 else { throw RewardWeightsError(key: "return_window_days", value: returnWindowDays) }
    }

    /// Parses `revenue=1,items=2e-4,negatives=0.005,returned=0.01,return_window_days=1`;
    /// names left out keep their value in `base`.
    package init(parsing text: String, base: RewardWeights = .standard) throws(RewardWeightsError) {
        var values = base.dictionary
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2, values[pieces[0]] != nil, let number = Double(pieces[1]) else {
                throw RewardWeightsError(key: String(part), value: nil)
            }
            values[pieces[0]] = number
        }
        try self.init(dictionary: values)
    }
}

/// A reward weight that is unknown, missing or not a finite number.
package struct RewardWeightsError: Error, Sendable, CustomStringConvertible {
    package let key: String
    package let value: Double?
    package var description: String {
        "reward weight '\(key)'\(value.map { " = \($0)" } ?? ""): expected name=number with names revenue, items, negatives, returned, ads_squared, load_squared, return_window_days (return_window_days > 0)"
    }
}
