import LinearAlgebra

/// A ridge model of several reward components at once: one A for all of them and one b
/// (and θ_k = A⁻¹b_k) per component, so that the model of any weighted sum of the
/// components, Σ c_k·r_k, is Σ c_k·θ_k, exactly what a ``RidgeModel`` trained on that sum
/// would hold.
///
/// This is what a priced bandit needs (docs/pacing.md): the pacing prices weigh revenue,
/// impressions and the rest of the reward, and the prices move while the policy serves.
/// With one θ per component the policy's estimate for new prices is a weighted sum of
/// vectors, with no retraining and no sampling of prices during training.
///
/// The shared A (with its inverse and Cholesky factor, for exploration) lives in
/// ``shared``, which also tracks component 0. Each update costs one ``RidgeModel`` update
/// plus O(d) per further component. Every refresh of the shared model recomputes every
/// θ_k = A⁻¹b_k as well.
package struct ComponentRidgeModel: Sendable {
    /// A, its inverse and factor, and component 0's b and θ.
    package private(set) var shared: RidgeModel
    /// b_k for components 1...; component 0's is `shared.b`.
    private(set) var extraB: [Vector]
    /// θ_k = A⁻¹b_k for components 1....
    private(set) var extraTheta: [Vector]

    /// The number of components (at least 1).
    package var componentCount: Int { 1 + extraB.count }

    /// A model with no observations, of `components` reward components over d features.
    package init(dimension: Int, components: Int, lambda: Double = 1, refreshInterval: Int = RidgeModel.defaultRefreshInterval) {
        precondition(components >= 1, "ComponentRidgeModel: at least one component, got \(components)")
        shared = RidgeModel(dimension: dimension, lambda: lambda, refreshInterval: refreshInterval)
        extraB = Array(repeating: .zeros(dimension), count: components - 1)
        extraTheta = extraB
    }

    /// Adds one observation of every component's reward, `rewards[k]` for component k.
    /// - Complexity: O(d²) amortized for the shared model, O(d) per further component.
    package mutating func update(features phi: [Double], rewards: [Double], weight: Double = 1) {
        precondition(rewards.count == componentCount, "ComponentRidgeModel.update: \(rewards.count) rewards for \(componentCount) components")
        precondition(rewards.allSatisfy(\.isFinite), "ComponentRidgeModel.update: rewards must be finite")
        guard weight > 0 else { return }
        shared.update(features: phi, reward: rewards[0], weight: weight)
        // The shared update leaves g = A⁻¹φ (of A before the update) in `gain`; with
        // s = φᵀg, every θ_k moves by w·(r_k − φᵀθ_k)/(1 + w·s)·g (Sherman–Morrison).
        let gain = shared.gain
        let features = shared.features
        let denominator = 1 + weight * Kernels.dot(features, gain)
        for k in extraB.indices {
            let residual = rewards[k + 1] - Kernels.dot(features, extraTheta[k])
            Kernels.axpy(alpha: weight * residual / denominator, gain, into: &extraTheta[k])
            Kernels.axpy(alpha: weight * rewards[k + 1], features, into: &extraB[k])
        }
        if shared.updatesSinceRefresh == 0 {
            // The shared model refreshed A⁻¹ from A: recompute every θ_k from its b_k.
            for k in extraB.indices { Kernels.gemv(shared.inverse, extraB[k], into: &extraTheta[k]) }
        }
    }

    /// θ for the reward Σ c_k·r_k: Σ c_k·θ_k.
    package func theta(weights: [Double]) -> Vector { Self.combine(shared.theta, extraTheta, weights: weights) }

    /// b for the reward Σ c_k·r_k: Σ c_k·b_k.
    package func b(weights: [Double]) -> Vector { Self.combine(shared.b, extraB, weights: weights) }

    /// weights[0]·first + Σ weights[k + 1]·rest[k].
    private static func combine(_ first: Vector, _ rest: [Vector], weights: [Double]) -> Vector {
        precondition(weights.count == 1 + rest.count, "ComponentRidgeModel: \(weights.count) weights for \(1 + rest.count) components")
        var result = Vector.zeros(first.count)
        Kernels.axpy(alpha: weights[0], first, into: &result)
        for k in rest.indices { Kernels.axpy(alpha: weights[k + 1], rest[k], into: &result) }
        return result
    }
}
