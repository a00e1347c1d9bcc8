import LinearAlgebra

/// One weighted observation (φ, r, w) of a ridge model, for fitting a model in one batch.
struct RidgeObservation: Sendable, Equatable {
    /// The feature vector φ.
    var features: [Double]
    /// The observed reward r.
    var reward: Double
    /// The importance weight w ≥ 0.
    var weight: Double

    /// Creates an observation; `weight` defaults to 1 (on-policy data).
    init(features: [Double], reward: Double, weight: Double = 1) {
        self.features = features
        self.reward = reward
        self.weight = weight
    }
}

extension RidgeModel {
    /// Restores a model from its sufficient statistics A and b (a policy file, a merged model),
    /// computing A⁻¹, L and θ with LAPACK.
    ///
    /// Only the lower triangle of `a` is read (as LAPACK does); the stored A is its symmetric
    /// completion.
    /// - Parameters:
    ///   - lambda: The prior precision the statistics were started from (metadata).
    ///   - a: A, d × d.
    ///   - b: b, length d.
    ///   - updateCount: How many updates produced the statistics.
    ///   - refreshInterval: Updates between LAPACK recomputations from now on.
    /// - Throws: `LinearAlgebraError.notPositiveDefinite` if A is not (numerically) positive definite.
    /// - Complexity: O(d³).
    public init(
        lambda: Double, a: Matrix, b: Vector, updateCount: Int,
        refreshInterval: Int = RidgeModel.defaultRefreshInterval
    ) throws(LinearAlgebraError) {
        precondition(a.isSquare && a.rows == b.count, "RidgeModel: A is \(a.rows)×\(a.columns) but b has \(b.count) elements")
        precondition(updateCount >= 0, "RidgeModel: updateCount must be non-negative, got \(updateCount)")
        self.init(dimension: b.count, lambda: lambda, refreshInterval: refreshInterval)
        self.a.assign(a)
        self.a.symmetrize(from: .lower)
        self.b.assign(b)
        self.updateCount = updateCount
        try refresh()
    }

    /// Fits a model to a batch of observations from scratch: A = λI + Σ w·φφᵀ and b = Σ w·r·φ
    /// summed directly, then A⁻¹, L and θ by LAPACK.
    ///
    /// The result is what `update` reaches after applying the same observations one at a
    /// time, up to rounding; it is the reference the incremental path is tested against.
    /// - Throws: `LinearAlgebraError.notPositiveDefinite` if A is not numerically positive definite.
    /// - Complexity: O(n·d² + d³) for n observations.
    static func refit(
        dimension: Int, lambda: Double, observations: [RidgeObservation],
        refreshInterval: Int = RidgeModel.defaultRefreshInterval
    ) throws(LinearAlgebraError) -> RidgeModel {
        var a = Matrix.zeros(rows: dimension, columns: dimension)
        var b = Vector.zeros(dimension)
        for i in 0..<dimension {
            a[i, i] = lambda
        }
        var counted = 0
        for observation in observations {
            let phi = observation.features
            precondition(phi.count == dimension, "RidgeModel.refit: φ has \(phi.count) elements, expected \(dimension)")
            guard observation.weight > 0 else { continue }
            counted += 1
            a.withUnsafeMutableBufferPointer { matrix in
                for i in 0..<dimension {
                    let scaled = observation.weight * phi[i]
                    for j in 0...i {
                        matrix[i * dimension + j] += scaled * phi[j]
                    }
                }
            }
            for i in 0..<dimension {
                b[i] += observation.weight * observation.reward * phi[i]
            }
        }
        return try RidgeModel(lambda: lambda, a: a, b: b, updateCount: counted, refreshInterval: refreshInterval)
    }

    /// Recomputes A⁻¹, L and θ from A and b with LAPACK (`dpotrf`, `dpotrs`, `dpotri`).
    ///
    /// `update` calls this every `refreshInterval` updates; call it directly to start from
    /// exact values (after loading, before a long evaluation). If A is not numerically
    /// positive definite the model is left unchanged.
    /// - Throws: `LinearAlgebraError.notPositiveDefinite` if the factorization fails.
    /// - Complexity: O(d³); allocates nothing.
    public mutating func refresh() throws(LinearAlgebraError) {
        refreshWork.assign(a)
        try Cholesky.factorInPlace(&refreshWork)
        let n = dimension
        refreshWork.withUnsafeBufferPointer { lower in
            upperFactor.withUnsafeMutableBufferPointer { upper in
                for i in 0..<n {
                    for j in 0..<n {
                        upper[j * n + i] = lower[i * n + j]
                    }
                }
            }
        }
        theta.assign(b)
        try Cholesky.solveInPlace(factor: refreshWork, &theta)
        try Cholesky.invertInPlace(&refreshWork)
        swap(&inverse, &refreshWork)
        updatesSinceRefresh = 0
    }
}
