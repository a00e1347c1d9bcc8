import LinearAlgebra

/// A linear reward model q̂(x, a) = θ·φ(x, a) fitted by (weighted) ridge regression.
///
/// The caller builds the feature vector φ(x, a) for each (context, action) pair, for
/// example a one-hot action crossed with context features, and evaluates the model on
/// the logged action and on every action the target can take to fill a
/// `LoggedDecision`'s `predictedLogged` and `predictedTarget`. There is no separate
/// intercept: include a constant feature for one (it is penalized like the others).
struct RidgeRewardModel: Sendable, Hashable {
    /// The coefficients θ, one per feature.
    let coefficients: [Double]

    /// The number of features d the model expects.
    var featureCount: Int { coefficients.count }

    /// Creates a model with known coefficients.
    init(coefficients: [Double]) {
        self.coefficients = coefficients
    }

    /// Fits θ solving (XᵀWX + λI)·θ = XᵀWy by Cholesky factorization.
    ///
    /// With W = I (no weights) this is ordinary ridge regression; λ = 0 gives least
    /// squares, which needs XᵀWX to be positive definite (at least d samples with
    /// positive weight and linearly independent features). Weighting a sample by an
    /// integer k is the same as repeating it k times.
    /// - Parameters:
    ///   - features: n rows of d features each.
    ///   - rewards: n targets y.
    ///   - weights: n non-negative sample weights, or nil for all ones.
    ///   - regularization: λ ≥ 0, in units of the weighted sum of squares (so its
    ///     effect shrinks as n grows).
    /// - Throws: `RidgeRewardModelError` for empty or ragged input, a non-finite value,
    ///   a negative or non-finite weight, a negative or non-finite λ, or a system that
    ///   is not positive definite.
    /// - Complexity: O(n·d² + d³) time, O(n·d + d²) memory.
    init(
        features: [[Double]], rewards: [Double], weights: [Double]? = nil, regularization: Double = 1
    ) throws(RidgeRewardModelError) {
        let n = features.count
        guard n > 0 else { throw .noSamples }
        let d = features[0].count
        guard d > 0 else { throw .noFeatures }
        guard rewards.count == n else { throw .rewardCountMismatch(expected: n, actual: rewards.count) }
        if let weights, weights.count != n {
            throw .weightCountMismatch(expected: n, actual: weights.count)
        }
        guard regularization >= 0, regularization.isFinite else { throw .invalidRegularization(regularization) }

        var design = [Double]()
        design.reserveCapacity(n * d)
        var targets = [Double]()
        targets.reserveCapacity(n)
        for (index, row) in features.enumerated() {
            guard row.count == d else { throw .featureCountMismatch(sample: index, expected: d, actual: row.count) }
            let weight = weights?[index] ?? 1
            guard weight >= 0, weight.isFinite else { throw .invalidWeight(sample: index, value: weight) }
            guard rewards[index].isFinite else { throw .nonFiniteReward(sample: index, value: rewards[index]) }
            if let feature = row.firstIndex(where: { !$0.isFinite }) {
                throw .nonFiniteFeature(sample: index, feature: feature, value: row[feature])
            }
            let scale = weight.squareRoot()
            design.append(contentsOf: row.lazy.map { $0 * scale })
            targets.append(rewards[index] * scale)
        }

        let x = Matrix(rows: n, columns: d, elements: design)
        var gram = Matrix.zeros(rows: d, columns: d)
        Kernels.gemm(x, transposeA: true, x, into: &gram)
        for i in 0..<d {
            gram[i, i] += regularization
        }
        var moment = Vector.zeros(d)
        Kernels.gemv(x, transposeA: true, Vector(targets), into: &moment)
        do {
            let factorization = try Cholesky(gram)
            coefficients = Array(try factorization.solve(moment))
        } catch {
            throw .notPositiveDefinite(error)
        }
    }

    /// The prediction θ·φ for one feature vector.
    /// - Precondition: `features.count == featureCount`.
    /// - Complexity: O(d).
    func predict(_ features: [Double]) -> Double {
        precondition(
            features.count == coefficients.count,
            "RidgeRewardModel.predict: got \(features.count) features, the model has \(coefficients.count)"
        )
        var sum = 0.0
        for i in 0..<features.count {
            sum += coefficients[i] * features[i]
        }
        return sum
    }
}

/// Why a `RidgeRewardModel` could not be fitted; sample and feature indices are 0-based.
enum RidgeRewardModelError: Error, Hashable, CustomStringConvertible {
    /// There are no samples.
    case noSamples
    /// The first sample has no features.
    case noFeatures
    /// A sample's feature count differs from the first sample's.
    case featureCountMismatch(sample: Int, expected: Int, actual: Int)
    /// The reward count differs from the sample count.
    case rewardCountMismatch(expected: Int, actual: Int)
    /// The weight count differs from the sample count.
    case weightCountMismatch(expected: Int, actual: Int)
    /// A weight is negative, NaN or infinite.
    case invalidWeight(sample: Int, value: Double)
    /// A reward is NaN or infinite.
    case nonFiniteReward(sample: Int, value: Double)
    /// A feature value is NaN or infinite.
    case nonFiniteFeature(sample: Int, feature: Int, value: Double)
    /// λ is negative, NaN or infinite.
    case invalidRegularization(Double)
    /// XᵀWX + λI is not positive definite (λ = 0 with collinear or too few samples).
    case notPositiveDefinite(LinearAlgebraError)

    /// A sentence naming the problem and the value that caused it.
    var description: String {
        switch self {
        case .noSamples:
            "Ridge regression needs at least one sample, got none"
        case .noFeatures:
            "Ridge regression needs at least one feature; sample 0 has none"
        case .featureCountMismatch(let sample, let expected, let actual):
            "Sample \(sample) has \(actual) features, expected \(expected) like sample 0"
        case .rewardCountMismatch(let expected, let actual):
            "Got \(actual) rewards for \(expected) samples"
        case .weightCountMismatch(let expected, let actual):
            "Got \(actual) weights for \(expected) samples"
        case .invalidWeight(let sample, let value):
            "Sample \(sample) has weight \(value); weights must be finite and ≥ 0"
        case .nonFiniteReward(let sample, let value):
            "Sample \(sample) has reward \(value); it must be finite"
        case .nonFiniteFeature(let sample, let feature, let value):
            "Sample \(sample) has feature \(feature) = \(value); features must be finite"
        case .invalidRegularization(let value):
            "Ridge regularization λ = \(value) is invalid; it must be finite and ≥ 0"
        case .notPositiveDefinite(let error):
            "XᵀWX + λI is not positive definite (use λ > 0 or add samples): \(error)"
        }
    }
}
