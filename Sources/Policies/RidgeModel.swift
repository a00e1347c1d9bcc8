import LinearAlgebra

/// A Bayesian ridge regression over d features, updated one observation at a time in O(d²).
///
/// The model keeps A = λI + Σ w·φφᵀ, b = Σ w·r·φ and, kept current after every update,
/// A⁻¹ (Sherman–Morrison), the posterior mean θ = A⁻¹b and the lower Cholesky factor L of A
/// (LINPACK `dchud` rank-one update), so that scoring (which reads A⁻¹ and θ) and posterior
/// sampling (which reads L) never factor a matrix on the decision path. Every
/// `refreshInterval` updates, A⁻¹, L and θ are recomputed from A and b with LAPACK, which
/// bounds the rounding drift of the rank-one updates.
///
/// Updates allocate nothing: the work vectors live inside the model. A model value that
/// shares its storage with a copy (a snapshot handed to another thread) copies it once, on
/// the first update after the copy.
public struct RidgeModel: Sendable {
    /// The feature dimension d.
    package let dimension: Int

    /// The prior precision λ: A starts as λI. Kept as metadata once A has been restored.
    package let lambda: Double

    /// How many updates pass between recomputations of A⁻¹, L and θ from A and b.
    public let refreshInterval: Int

    /// The number of updates with positive weight applied since A was λI.
    public internal(set) var updateCount: Int

    /// A = λI + Σ w·φφᵀ, the posterior precision (up to the noise variance); exactly symmetric.
    public internal(set) var a: Matrix

    /// A⁻¹, full storage, symmetric up to the last bit between refreshes (see
    /// `applyStagedUpdate`); maintained by Sherman–Morrison between refreshes.
    package internal(set) var inverse: Matrix

    /// b = Σ w·r·φ.
    public internal(set) var b: Vector

    /// The posterior mean θ = A⁻¹b.
    package internal(set) var theta: Vector

    /// Lᵀ stored row-major (an upper-triangular matrix). Both the rank-one factor update
    /// and the back substitution L⁻ᵀz then walk contiguous rows.
    var upperFactor: Matrix

    /// φ for the update in progress.
    var features: Vector

    /// A⁻¹φ for the update in progress.
    var gain: Vector

    /// A scaled copy of φ or of A⁻¹φ; the Cholesky update consumes it.
    var spare: Vector

    /// LAPACK workspace for `refresh()`, so that a failed factorization leaves the model intact.
    var refreshWork: Matrix

    /// Updates since the last refresh.
    var updatesSinceRefresh: Int

    /// The default number of updates between refreshes: the refresh costs O(d³), about
    /// d/3 updates' worth, so this keeps it under a few percent of the update cost for d ≤ 64.
    public static let defaultRefreshInterval = 512

    /// A model with no observations: A = λI, b = 0, θ = 0.
    /// - Parameters:
    ///   - dimension: The feature dimension d (at least 1).
    ///   - lambda: The prior precision λ > 0 (the ridge penalty).
    ///   - refreshInterval: Updates between LAPACK recomputations (at least 1).
    /// - Complexity: O(d²); allocates the model's storage.
    public init(dimension: Int, lambda: Double = 1, refreshInterval: Int = RidgeModel.defaultRefreshInterval) {
        precondition(dimension >= 1, "RidgeModel: dimension must be at least 1, got \(dimension)")
        precondition(lambda > 0 && lambda.isFinite, "RidgeModel: lambda must be positive and finite, got \(lambda)")
        precondition(refreshInterval >= 1, "RidgeModel: refreshInterval must be at least 1, got \(refreshInterval)")
        self.dimension = dimension
        self.lambda = lambda
        self.refreshInterval = refreshInterval
        updateCount = 0
        updatesSinceRefresh = 0
        var a = Matrix.zeros(rows: dimension, columns: dimension)
        var inverse = a
        var upper = a
        for i in 0..<dimension {
            a[i, i] = lambda
            inverse[i, i] = 1 / lambda
            upper[i, i] = lambda.squareRoot()
        }
        self.a = a
        self.inverse = inverse
        upperFactor = upper
        refreshWork = Matrix.zeros(rows: dimension, columns: dimension)
        b = Vector.zeros(dimension)
        theta = Vector.zeros(dimension)
        features = Vector.zeros(dimension)
        gain = Vector.zeros(dimension)
        spare = Vector.zeros(dimension)
    }

    /// The lower Cholesky factor L of A (A = L·Lᵀ), as a new matrix.
    /// - Complexity: O(d²); allocates (the model stores Lᵀ).
    var choleskyFactor: Matrix { upperFactor.transposed() }

    /// Adds one observation: A += w·φφᵀ, b += w·r·φ, and brings A⁻¹, L and θ up to date.
    ///
    /// A weight of zero changes nothing and is not counted. Every `refreshInterval`
    /// counted updates, A⁻¹, L and θ are recomputed from A and b (O(d³)).
    /// - Parameters:
    ///   - features: φ, with `dimension` finite elements.
    ///   - reward: The observed reward r (finite).
    ///   - weight: The importance weight w ≥ 0 (1 for on-policy learning).
    /// - Complexity: O(d²) amortized, no allocation once the model's storage is unique.
    public mutating func update(features phi: [Double], reward: Double, weight: Double = 1) {
        precondition(phi.count == dimension, "RidgeModel.update: φ has \(phi.count) elements, expected \(dimension)")
        features.withUnsafeMutableBufferPointer { destination in
            for i in 0..<dimension {
                destination[i] = phi[i]
            }
        }
        applyStagedUpdate(reward: reward, weight: weight)
    }

    /// Writes φ = c ⊗ q (element i·|q| + j is c[i]·q[j]) into the staged feature vector.
    mutating func stageKronecker(context: UnsafeBufferPointer<Double>, descriptors: UnsafeBufferPointer<Double>) {
        precondition(
            context.count * descriptors.count == dimension,
            "RidgeModel: |c| = \(context.count) times |q| = \(descriptors.count) is not the dimension \(dimension)"
        )
        let nq = descriptors.count
        features.withUnsafeMutableBufferPointer { phi in
            for i in 0..<context.count {
                let ci = context[i]
                for j in 0..<nq {
                    phi[i * nq + j] = ci * descriptors[j]
                }
            }
        }
    }

    /// Applies the update for the staged φ (`features`).
    mutating func applyStagedUpdate(reward: Double, weight: Double) {
        precondition(reward.isFinite, "RidgeModel.update: reward must be finite, got \(reward)")
        precondition(weight.isFinite && weight >= 0, "RidgeModel.update: weight must be finite and non-negative, got \(weight)")
        precondition(features.allSatisfy(\.isFinite), "RidgeModel.update: φ has a non-finite element")
        guard weight > 0 else { return }

        // g = A⁻¹φ, s = φᵀA⁻¹φ. With A' = A + wφφᵀ, Sherman–Morrison gives
        // A'⁻¹ = A⁻¹ − (w / (1 + w·s))·g·gᵀ and A'⁻¹φ = g / (1 + w·s), and A'θ' = b + w·r·φ
        // gives θ' = θ + w·(r − φᵀθ)·A'⁻¹φ.
        Kernels.gemv(inverse, features, into: &gain)
        let s = Kernels.dot(features, gain)
        let residual = reward - Kernels.dot(features, theta)
        let denominator = 1 + weight * s
        Kernels.axpy(alpha: weight * residual / denominator, gain, into: &theta)
        Kernels.axpy(alpha: weight * reward, features, into: &b)

        // Rank-one terms as u·uᵀ with one vector u. On CPUs whose OpenBLAS kernels use FMA
        // (Haswell and later) `ger` rounds some elements of a row once (fused) and the rest
        // twice, so the two triangles can differ in the last bit, and a policy file with such
        // an A is refused on loading: A's lower triangle, which LAPACK reads, is copied onto
        // its upper one (1.2 µs at d = 64, measured). A⁻¹ is only multiplied with, so it is
        // left symmetric up to that last bit.
        copy(gain, scaledBy: (weight / denominator).squareRoot(), into: &spare)
        Kernels.ger(alpha: -1, spare, spare, into: &inverse)
        copy(features, scaledBy: weight.squareRoot(), into: &spare)
        Kernels.ger(alpha: 1, spare, spare, into: &a)
        a.symmetrize(from: .lower)
        choleskyRankOneUpdate()

        updateCount += 1
        updatesSinceRefresh += 1
        if updatesSinceRefresh >= refreshInterval {
            do {
                try refresh()
            } catch {
                // A is positive definite by construction (λ > 0, w ≥ 0); LAPACK can only
                // disagree at condition numbers near 1/ε. The incrementally updated values
                // remain the best available, and the next interval tries again.
                updatesSinceRefresh = 0
            }
        }
    }

    /// Overwrites `destination` with `scale`·`source`.
    private func copy(_ source: Vector, scaledBy scale: Double, into destination: inout Vector) {
        source.withUnsafeBufferPointer { x in
            destination.withUnsafeMutableBufferPointer { y in
                for i in 0..<x.count {
                    y[i] = scale * x[i]
                }
            }
        }
    }

    /// L·Lᵀ + x·xᵀ = L'·L'ᵀ for x in `spare` (consumed): LINPACK `dchud` with Givens rotations.
    ///
    /// Column k of L is row k of the stored Lᵀ, so every inner loop is contiguous.
    private mutating func choleskyRankOneUpdate() {
        let n = dimension
        upperFactor.withUnsafeMutableBufferPointer { u in
            spare.withUnsafeMutableBufferPointer { x in
                for k in 0..<n {
                    let diagonal = u[k * n + k]
                    let xk = x[k]
                    if xk == 0 { continue }
                    let r = (diagonal * diagonal + xk * xk).squareRoot()
                    let c = r / diagonal
                    let s = xk / diagonal
                    let inverseC = 1 / c
                    u[k * n + k] = r
                    let row = k * n
                    for i in (k + 1)..<n {
                        let updated = (u[row + i] + s * x[i]) * inverseC
                        u[row + i] = updated
                        x[i] = c * x[i] - s * updated
                    }
                }
            }
        }
    }
}
