/// The ratio of two policies' mean objective per user on the same users and luck (common
/// random numbers), with a 95% interval from the per-user paired differences.
///
/// With per-user values x (reference) and y (candidate), R = ȳ / x̄. By the delta method,
/// R − r ≈ (ȳ − r x̄) / x̄, the mean of d_u = y_u − R x_u over x̄, so
/// se(R) = sd(d) / (√n · x̄). Pairing is what makes the interval narrow: the users and luck
/// both policies share cancel in d, which an unpaired interval (two standard errors added
/// in quadrature) counts twice.
package struct PairedRatio: Sendable, Equatable {
    /// ȳ / x̄.
    package let ratio: Double
    /// Standard error of ``ratio`` (delta method over paired differences).
    package let standardError: Double
    /// Users paired.
    package let count: Int

    /// The normal quantile of a two-sided 95% interval.
    static let z95 = 1.959_963_984_540_054

    /// Compares `candidate` with `reference`, user by user.
    /// - Returns: `nil` when the counts differ, there are fewer than two users, or the
    ///   reference mean is zero (no ratio).
    package init?(reference: [Double], candidate: [Double]) {
        let n = reference.count
        guard n >= 2, candidate.count == n else { return nil }
        let meanX = reference.reduce(0, +) / Double(n)
        let meanY = candidate.reduce(0, +) / Double(n)
        guard meanX != 0, meanX.isFinite, meanY.isFinite else { return nil }
        let ratio = meanY / meanX
        var sumSquares = 0.0
        for index in 0..<n {
            // Mean of d is zero by construction of R.
            let difference = candidate[index] - ratio * reference[index]
            sumSquares += difference * difference
        }
        let sd = (sumSquares / Double(n - 1)).squareRoot()
        self.ratio = ratio
        self.standardError = sd / (Double(n).squareRoot() * abs(meanX))
        self.count = n
    }

    /// The 95% interval, [low, high].
    package var interval95: (low: Double, high: Double) {
        (ratio - Self.z95 * standardError, ratio + Self.z95 * standardError)
    }
}
