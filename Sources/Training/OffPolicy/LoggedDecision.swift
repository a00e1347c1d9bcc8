/// One logged contextual-bandit decision, reduced to what off-policy estimators need.
///
/// The caller evaluates both policies and the reward model on the logged context; the
/// estimators never see contexts or actions, so they work with any log storage.
/// Validation happens when an estimator runs (see `OffPolicyError`), not here.
package struct LoggedDecision: Sendable, Hashable {
    /// The observed reward r for the logged action.
    package var reward: Double

    /// The logging policy's probability μ(a|x) of the action it took, in (0, 1].
    var loggingPropensity: Double

    /// The target policy's probability π(a|x) of the logged action, in [0, 1].
    var targetProbability: Double

    /// The reward model's prediction q̂(x, a) for the logged action.
    ///
    /// Read only by the model-based estimators (DM, DR, switch-DR).
    var predictedLogged: Double

    /// The reward model's expected reward under the target, Σₐ π(a|x) q̂(x, a).
    ///
    /// Read only by the model-based estimators (DM, DR, switch-DR).
    var predictedTarget: Double

    /// Creates a decision.
    ///
    /// Pass zero predictions when there is no reward model; DM then estimates 0 and
    /// DR and switch-DR reduce to IPS.
    /// - Parameters:
    ///   - reward: The observed reward r.
    ///   - loggingPropensity: μ(a|x), the logging policy's probability of the logged action.
    ///   - targetProbability: π(a|x), the target policy's probability of the logged action.
    ///   - predictedLogged: q̂(x, a) for the logged action.
    ///   - predictedTarget: Σₐ π(a|x) q̂(x, a).
    package init(
        reward: Double, loggingPropensity: Double, targetProbability: Double,
        predictedLogged: Double = 0, predictedTarget: Double = 0
    ) {
        self.reward = reward
        self.loggingPropensity = loggingPropensity
        self.targetProbability = targetProbability
        self.predictedLogged = predictedLogged
        self.predictedTarget = predictedTarget
    }

    /// The importance weight π(a|x) / μ(a|x).
    var importanceWeight: Double { targetProbability / loggingPropensity }
}

extension LoggedDecision {
    /// Checks this decision's fields, naming `index` in the error.
    ///
    /// - Parameter usesRewardModel: Whether the predictions must be finite too.
    func validate(index: Int, usesRewardModel: Bool) throws(OffPolicyError) {
        guard loggingPropensity > 0, loggingPropensity <= 1 else {
            throw .invalidPropensity(index: index, value: loggingPropensity)
        }
        guard targetProbability >= 0, targetProbability <= 1 else {
            throw .invalidTargetProbability(index: index, value: targetProbability)
        }
        guard reward.isFinite else {
            throw .nonFiniteReward(index: index, value: reward)
        }
        if usesRewardModel {
            guard predictedLogged.isFinite else {
                throw .nonFinitePrediction(index: index, field: "predictedLogged", value: predictedLogged)
            }
            guard predictedTarget.isFinite else {
                throw .nonFinitePrediction(index: index, field: "predictedTarget", value: predictedTarget)
            }
        }
    }
}

extension [LoggedDecision] {
    /// Checks that the log is non-empty and every decision is valid, reporting the first problem.
    /// - Complexity: O(n).
    func validateLog(usesRewardModel: Bool) throws(OffPolicyError) {
        guard !isEmpty else { throw .emptyLog }
        for (index, decision) in enumerated() {
            try decision.validate(index: index, usesRewardModel: usesRewardModel)
        }
    }
}
