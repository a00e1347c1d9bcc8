import AdLoadCore
import Policies
import Training

/// What the feedback stream said about one decision's session: the counts a reward and
/// the priced quantities are made of, and whether the user came back within the window.
/// The online learner and the promotion gate's log reader join decisions the same way.
struct SessionTally: Sendable {
    var impressions = 0, clicks = 0, negatives = 0, items = 0
    var revenue = 0.0
    /// Whether any feedback arrived for the decision.
    var sawFeedback = false
    /// Whether the user's next decision came within the reward window.
    var returned = false

    /// Counts a feedback stream entry's `events` field (`kind:position:value`, comma-separated).
    mutating func add(events: String) {
        sawFeedback = true
        for event in events.split(separator: ",") {
            let parts = event.split(separator: ":", omittingEmptySubsequences: false)
            guard let kind = parts.first.flatMap({ FeedbackEvent.Kind(rawValue: String($0)) }) else { continue }
            let value = parts.count > 2 ? Double(parts[2]) ?? 0 : 0
            switch kind {
            case .impression:
                impressions += 1
                revenue += value
            case .click, .conversion: revenue += value
            case .hide, .report, .skip: negatives += 1
            case .dwell: items += 1
            case .sessionEnd: break
            }
            if kind == .click { clicks += 1 }
        }
    }

    /// The reward of the decision's session under `weights`, or `defaultReward` when no
    /// feedback arrived (nothing was seen happening).
    func reward(weights: RewardWeights, plan: AdPlan, defaultReward: Double) -> Double {
        guard sawFeedback else { return defaultReward }
        return weights.revenue * revenue + weights.items * Double(items) - weights.negatives * Double(negatives)
            - weights.adsSquared * Double(impressions * impressions) - weights.loadSquared * PlanDescriptors(plan: plan)[2]
            + (returned ? weights.returned : 0)
    }

    /// The priced quantities; all zero without feedback, as the default reward assumes.
    var pricedOutcome: PricedOutcome {
        sawFeedback
            ? PricedOutcome(revenue: revenue, impressions: Double(impressions), negatives: Double(negatives), organicItems: Double(items))
            : PricedOutcome(revenue: 0, impressions: 0, negatives: 0, organicItems: 0)
    }
}

extension DecisionEntry {
    /// The chosen plan as laid out in the session (no ads when the entry has no plan triple).
    var chosenPlan: AdPlan {
        plan.count == 3 ? PlanSpec(first: plan[0], spacing: plan[1], maxAds: plan[2]).plan(feedLength: feedLength, limit: adLimit) : AdPlan()
    }
}
