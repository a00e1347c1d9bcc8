@testable import AdLoadCore
@testable import Training

/// A small contextual bandit whose target value is known exactly.
///
/// Five context types with scalar feature x ∈ {0, 0.25, 0.5, 0.75, 1} and known
/// probabilities, four actions with Bernoulli rewards of mean μ(x, a) = αₐ + βₐ·x, a
/// stochastic logging policy that favours the low-reward actions and a near-greedy
/// target, so the importance weights range from 0.1 to 8.
struct SyntheticBandit: Sendable {
    let contextFeatures: [Double] = [0, 0.25, 0.5, 0.75, 1]
    let contextProbabilities: [Double] = [0.3, 0.25, 0.2, 0.15, 0.1]
    let intercepts: [Double] = [0.2, 0.5, 0.35, 0.6]
    let slopes: [Double] = [0.6, -0.3, 0.3, -0.4]
    let logging: [[Double]] = [
        [0.3, 0.4, 0.2, 0.1],
        [0.3, 0.3, 0.2, 0.2],
        [0.25, 0.25, 0.25, 0.25],
        [0.2, 0.3, 0.3, 0.2],
        [0.15, 0.35, 0.3, 0.2],
    ]
    let target: [[Double]] = [
        [0.05, 0.05, 0.1, 0.8],
        [0.1, 0.1, 0.2, 0.6],
        [0.4, 0.1, 0.4, 0.1],
        [0.7, 0.05, 0.2, 0.05],
        [0.8, 0.05, 0.1, 0.05],
    ]

    var actionCount: Int { intercepts.count }

    /// μ(x, a), the expected reward.
    func meanReward(context: Int, action: Int) -> Double {
        intercepts[action] + slopes[action] * contextFeatures[context]
    }

    /// V = Σₓ P(x) Σₐ π(a|x) μ(x, a), exactly.
    var trueValue: Double {
        var value = 0.0
        for context in contextFeatures.indices {
            for action in 0..<actionCount {
                value += contextProbabilities[context] * target[context][action] * meanReward(context: context, action: action)
            }
        }
        return value
    }

    /// One logged interaction before any reward model is applied.
    struct Interaction: Sendable {
        let context: Int
        let action: Int
        let reward: Double
    }

    /// n interactions drawn from the logging policy; interaction i is a pure function of (seed, i).
    func interactions(count: Int, seed: UInt64) -> [Interaction] {
        let root = CounterRandom(seed: seed, domain: 0x7379_6E74_6865_7469) // "syntheti"
        return (0..<count).map { index in
            let random = root.child(UInt64(index))
            let context = sample(contextProbabilities, random.uniform(0))
            let action = sample(logging[context], random.uniform(1))
            let reward = random.uniform(2) < meanReward(context: context, action: action) ? 1.0 : 0.0
            return Interaction(context: context, action: action, reward: reward)
        }
    }

    /// The decisions of `interactions` with reward model `model(context, action)`.
    func decisions(_ interactions: [Interaction], model: (Int, Int) -> Double) -> [LoggedDecision] {
        interactions.map { interaction in
            let context = interaction.context
            var predictedTarget = 0.0
            for action in 0..<actionCount {
                predictedTarget += target[context][action] * model(context, action)
            }
            return LoggedDecision(
                reward: interaction.reward,
                loggingPropensity: logging[context][interaction.action],
                targetProbability: target[context][interaction.action],
                predictedLogged: model(context, interaction.action),
                predictedTarget: predictedTarget
            )
        }
    }

    /// Features of a correctly specified linear model: one-hot action crossed with (1, x).
    func correctFeatures(context: Int, action: Int) -> [Double] {
        var features = [Double](repeating: 0, count: 2 * actionCount)
        features[2 * action] = 1
        features[2 * action + 1] = contextFeatures[context]
        return features
    }

    /// Features of a misspecified model that ignores the context: one-hot action.
    func actionOnlyFeatures(context: Int, action: Int) -> [Double] {
        var features = [Double](repeating: 0, count: actionCount)
        features[action] = 1
        return features
    }

    /// Fits a ridge model with the given features on an independent pilot log.
    func fitModel(
        features: (Int, Int) -> [Double], pilotSize: Int = 20_000, seed: UInt64 = 0xF17
    ) throws -> RidgeRewardModel {
        let pilot = interactions(count: pilotSize, seed: seed)
        return try RidgeRewardModel(
            features: pilot.map { features($0.context, $0.action) },
            rewards: pilot.map(\.reward),
            regularization: 1e-6
        )
    }
}

/// The index of the category that `uniform` falls into, by cumulative probability.
private func sample(_ probabilities: [Double], _ uniform: Double) -> Int {
    var cumulative = 0.0
    for (index, probability) in probabilities.enumerated() {
        cumulative += probability
        if uniform < cumulative { return index }
    }
    return probabilities.count - 1
}

/// Mean, sample standard deviation and standard error of the mean of a set of estimates.
struct RepetitionSummary {
    let mean: Double
    let standardDeviation: Double
    var variance: Double { standardDeviation * standardDeviation }
    let standardErrorOfMean: Double

    init(_ values: [Double]) {
        let count = Double(values.count)
        let mean = values.reduce(0, +) / count
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        self.mean = mean
        standardDeviation = (squares / (count - 1)).squareRoot()
        standardErrorOfMean = standardDeviation / count.squareRoot()
    }

    /// Whether the mean is within `k` standard errors (plus `slack`) of `truth`.
    func isUnbiased(for truth: Double, k: Double = 3, slack: Double = 0) -> Bool {
        abs(mean - truth) < k * standardErrorOfMean + slack
    }
}

/// `|a − b| ≤ tolerance · max(1, |a|, |b|)`.
func isClose(_ a: Double, _ b: Double, tolerance: Double = 1e-12) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}
