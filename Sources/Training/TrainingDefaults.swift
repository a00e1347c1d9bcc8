/// What `adload train bandit --algo A` uses when no tuning flag is given: the ridge prior λ
/// and the reward weights the shipped default-preset policies were trained with.
///
/// Chosen with `scripts/sweep-bandit-rewards` on the tuning seed 5 of `env/default.json`
/// (docs/bandits.md): a strong prior keeps the greedy policy from following noise in the
/// context × ad-load interactions (with λ = 1 LinUCB trained for 2,000 users × 60 days
/// earned 0.956× the best fixed cadence on an untouched seed), and Thompson sampling and
/// softmax gain from a larger bonus for a return within a day. The field-calibrated preset's
/// shipped policies override both (scripts/train-policies).
package enum TrainingDefaults {
    /// Ridge prior precision λ for the algorithm named `algorithm` (1 for an unknown name).
    package static func lambda(for algorithm: String) -> Double {
        switch algorithm {
        case "linucb", "thompson": 1e5
        case "egreedy": 3e5
        case "softmax": 5e4
        default: 1
        }
    }

    /// Reward weights for the algorithm named `algorithm`, with `engagementWeight` as the
    /// weight of an organic item (the objective's engagement weight: learners take the same).
    package static func reward(for algorithm: String, engagementWeight: Double) -> RewardWeights {
        var weights = RewardWeights.standard
        if algorithm == "thompson" || algorithm == "softmax" { weights.returned = 0.05 }
        weights.items = engagementWeight
        return weights
    }
}
