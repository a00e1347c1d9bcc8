import AdLoadCore
import Foundation
import LinearAlgebra
import Networks

/// What a behaviour-cloning pass did, for progress lines.
package struct ImitationStatistics: Sendable, Equatable {
    /// Mean cross-entropy against the smoothed targets over the last epoch.
    package var crossEntropy = 0.0
    /// Share of samples whose most likely allowed action is the teacher's, last epoch.
    package var agreement = 0.0
    /// Mean squared error of the value network against the discounted returns, last epoch.
    package var valueLoss = 0.0

    package init() {}
}

extension PolicyGradientTrainer {
    /// Warm start by behaviour cloning: fits the policy network to the actions of `batch`
    /// (a teacher's rollout, observations already normalized) and, when the run's advantages
    /// use a critic on the observation alone, the value network to the batch's discounted
    /// returns (GAE with λ = 1 on zero values, so truncated episodes bootstrap nothing). That
    /// is without paired rollouts and without branches valued at their cut, whose critic also
    /// sees the time and is fitted by ``criticSamples(_:)`` and
    /// ``fitValue(observations:targets:random:)``.
    ///
    /// The policy's target is the teacher's action smoothed over the allowed actions,
    /// (1 − `smoothing`)·1[a = teacher] + `smoothing`/|allowed|, so the cloned policy keeps
    /// exploring and its probabilities stay finite for the PPO ratio. Gradient of the
    /// cross-entropy with respect to the logits: π_j − target_j. Minibatches are shuffled
    /// with `random`; each network gets its own fresh Adam (the PPO optimizers are not touched).
    package mutating func imitate(
        _ batch: RolloutBatch, epochs: Int, smoothing: Double, learningRate: Double, random: CounterRandom
    ) -> ImitationStatistics {
        let n = batch.count
        guard n > 0 else { return ImitationStatistics() }
        let returns = AdvantageEstimation.discountedReturns(batch)
        var policyAdam = Adam(for: model.policy, learningRate: learningRate, maxGradientNorm: configuration.maxGradientNorm)
        var valueAdam = Adam(for: model.value, learningRate: learningRate, maxGradientNorm: configuration.maxGradientNorm)
        let critic = configuration.pairedRollouts <= 1 && configuration.branching?.valuedAtCut != true
        let size = min(configuration.minibatchSize, n)
        var order = Array(0..<n)
        var statistics = ImitationStatistics()
        var probabilities = [Double](repeating: 0, count: actionCount)
        for epoch in 0..<max(1, epochs) {
            Self.shuffle(&order, random: random.child(UInt64(epoch)))
            var epochStatistics = ImitationStatistics()
            for start in stride(from: 0, to: n, by: size) {
                let rows = order[start..<min(n, start + size)]
                let m = rows.count
                let (policyCache, valueCache) = forward(rows, of: batch, critic: critic)
                var logitGradients = [Double](repeating: 0, count: m * actionCount)
                var valueGradients = [Double](repeating: 0, count: m)
                let scale = 1 / Double(m)
                for (row, sample) in rows.enumerated() {
                    let mask = batch.masks[(sample * actionCount)..<((sample + 1) * actionCount)]
                    policyCache.output.withUnsafeBufferPointer { all in
                        let logits = UnsafeBufferPointer(rebasing: all[(row * actionCount)..<((row + 1) * actionCount)])
                        ActorCritic.softmax(logits, mask: mask, into: &probabilities)
                    }
                    let allowed = Double(mask.reduce(0) { $0 + ($1 ? 1 : 0) })
                    let teacher = batch.actions[sample]
                    var best = teacher
                    var crossEntropy = 0.0
                    for (offset, isAllowed) in mask.enumerated() where isAllowed {
                        let target = (offset == teacher ? 1 - smoothing : 0) + smoothing / allowed
                        let p = probabilities[offset]
                        if target > 0 { crossEntropy -= target * log(max(p, 1e-300)) }
                        logitGradients[row * actionCount + offset] = (p - target) * scale
                        if p > probabilities[best] { best = offset }
                    }
                    if let valueCache {
                        let error = valueCache.output[row, 0] - returns[sample]
                        valueGradients[row] = 2 * error * scale
                        epochStatistics.valueLoss += error * error / Double(n)
                    }
                    epochStatistics.crossEntropy += crossEntropy / Double(n)
                    epochStatistics.agreement += (best == teacher ? 1 : 0) / Double(n)
                }
                var policyGradients = MLP.Gradients(zeroFor: model.policy)
                model.policy.backward(Matrix(rows: m, columns: actionCount, elements: logitGradients), cache: policyCache, gradients: &policyGradients)
                policyAdam.update(&model.policy, gradients: &policyGradients)
                if let valueCache {
                    var valueGradientsOfNetwork = MLP.Gradients(zeroFor: model.value)
                    model.value.backward(Matrix(rows: m, columns: 1, elements: valueGradients), cache: valueCache, gradients: &valueGradientsOfNetwork)
                    valueAdam.update(&model.value, gradients: &valueGradientsOfNetwork)
                }
            }
            statistics = epochStatistics
        }
        return statistics
    }

    /// Sets the observation normalization from raw observations in `batch` (see
    /// ``fitNormalization(_:)``) and normalizes them in place.
    package mutating func fitAndNormalize(_ batch: inout RolloutBatch) {
        fitNormalization(batch)
        for step in 0..<batch.count {
            for feature in 0..<observationCount {
                let index = step * observationCount + feature
                batch.observations[index] = (batch.observations[index] - mean[feature]) / standardDeviation[feature]
            }
        }
    }
}
