import Simulation

/// What `adload train bandit --algo A` uses when no tuning flag is given: the ridge prior λ
/// and the reward weights the shipped policies were trained with.
///
/// The per-algorithm values were chosen with `scripts/sweep-bandit-rewards` on the tuning
/// seed 5 of `env/default.json` (docs/bandits.md): a strong prior keeps the greedy policy
/// from following noise in the context × ad-load interactions (with λ = 1 LinUCB trained for
/// 2,000 users × 60 days earned 0.956× the best fixed cadence on an untouched seed), and
/// Thompson sampling and softmax gain from a larger bonus for a return within a day. An
/// environment file may set its own (``TrainingSettings``, its `training` key): the
/// field-calibrated preset does, with λ = 1 and an engagement term and a cost per negative
/// reaction.
package enum TrainingDefaults {
    /// Ridge prior precision λ for the algorithm named `algorithm` on an environment with
    /// `settings` (1 for an unknown name without an environment λ).
    package static func lambda(for algorithm: String, settings: TrainingSettings = .standard) -> Double {
        if let lambda = settings.lambda { return lambda }
        switch algorithm {
        case "linucb", "thompson": return 1e5
        case "egreedy": return 3e5
        case "softmax": return 5e4
        default: return 1
        }
    }

    /// Reward weights for the algorithm named `algorithm`, with `engagementWeight` as the
    /// weight of an organic item (the objective's engagement weight: learners take the same),
    /// then the environment's `settings.reward` over them.
    /// - Throws: `RewardWeightsError` for an environment weight that is not a reward weight.
    package static func reward(
        for algorithm: String, engagementWeight: Double, settings: TrainingSettings = .standard
    ) throws(RewardWeightsError) -> RewardWeights {
        var weights = RewardWeights.standard
        if algorithm == "thompson" || algorithm == "softmax" { weights.returned = 0.05 }
        weights.items = engagementWeight
        guard !settings.reward.isEmpty else { return weights }
        return try RewardWeights(dictionary: weights.dictionary.merging(settings.reward) { $1 })
    }
}
