import AdLoadCore
import Policies

/// Learning a bandit from logged decisions (off-policy).
package enum LoggedTraining {
    /// Updates `bandit` with every logged decision in order, weighting each by its
    /// importance weight 1/(K·p) clipped at `maxWeight`: a uniformly random logger gets
    /// weight 1, and plans the logger rarely chose count more, which corrects the
    /// regression for the logger's preferences.
    /// - Returns: the bandit and a learning curve (CSV lines: records, mean reward, mean weight per 1000 records).
    package static func train(
        _ bandit: LinearBandit, records: [LoggedRecord], schema: FeatureSchema, maxWeight: Double
    ) throws(LoggedTrainingError) -> (bandit: LinearBandit, curve: [String]) {
        var bandit = bandit
        var curve = ["records,mean_reward,mean_weight"]
        var rewardSum = 0.0, weightSum = 0.0, count = 0
        let layout = ContextLayout(schema)
        for (index, record) in records.enumerated() {
            try record.checkLayout(layout, index: index)
            let candidates = record.candidatePlans()
            let weight = min(maxWeight, 1 / (Double(candidates.count) * record.probability))
            let outcome = record.outcome
            let priced = PricedOutcome(
                revenue: outcome.revenue, impressions: Double(outcome.ads), negatives: Double(outcome.negatives),
                organicItems: Double(outcome.items))
            bandit.update(
                context: record.features, descriptors: candidates[record.chosen].descriptors, reward: record.reward, outcome: priced,
                weight: weight)
            rewardSum += record.reward
            weightSum += weight
            count += 1
            if count == 1000 || index == records.count - 1 {
                curve.append("\(index + 1),\(rewardSum / Double(count)),\(weightSum / Double(count))")
                rewardSum = 0
                weightSum = 0
                count = 0
            }
        }
        return (bandit, curve)
    }
}

/// A logged record that cannot be learned from.
package struct LoggedTrainingError: Error, Sendable, CustomStringConvertible {
    let index: Int
    let problem: String
    package var description: String { "logged decision \(index + 1) \(problem)" }
}

/// A training request that cannot run as asked (a policy kind a trainer cannot update, say).
struct TrainingError: Error, Sendable, CustomStringConvertible {
    let description: String

    /// Creates an error with its one-line message.
    init(_ description: String) {
        self.description = description
    }
}
