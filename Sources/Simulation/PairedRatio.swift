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

/// The difference between two policies, candidate − reference, of a per-user mean or of a
/// ratio of sums, on the same users and luck (common random numbers), with a 95% interval
/// from the per-user paired differences.
///
/// For a mean, d_u = y_u − x_u and se = sd(d)/√n. For a ratio of sums r = Σa/Σs (organic
/// items per session: items over sessions), the delta method gives each user's influence
/// (a_u − r·s_u)/s̄, and d_u is the candidate's influence minus the reference's.
package struct PairedDifference: Sendable, Equatable {
    /// The candidate's value minus the reference's.
    package let difference: Double
    package let standardError: Double
    /// The reference's value (mean or ratio), for scale.
    package let reference: Double

    /// The difference of per-user means.
    /// - Returns: `nil` when the counts differ or there are fewer than two users.
    package init?(reference x: [Double], candidate y: [Double]) {
        let n = x.count
        guard n >= 2, y.count == n else { return nil }
        let differences = zip(y, x).map { $0 - $1 }
        let mean = differences.reduce(0, +) / Double(n)
        let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        difference = mean
        standardError = (variance / Double(n)).squareRoot()
        reference = x.reduce(0, +) / Double(n)
    }

    /// The difference of two ratios of sums, Σa/Σs, user by user.
    /// - Returns: `nil` when the counts differ, there are fewer than two users, or a denominator sums to zero.
    package init?(reference x: (numerators: [Double], denominators: [Double]), candidate y: (numerators: [Double], denominators: [Double])) {
        let n = x.numerators.count
        guard n >= 2, x.denominators.count == n, y.numerators.count == n, y.denominators.count == n else { return nil }
        func influence(_ side: (numerators: [Double], denominators: [Double])) -> (ratio: Double, values: [Double])? {
            let numerator = side.numerators.reduce(0, +), denominator = side.denominators.reduce(0, +)
            guard denominator > 0 else { return nil }
            let ratio = numerator / denominator
            let meanDenominator = denominator / Double(n)
            return (ratio, zip(side.numerators, side.denominators).map { ($0 - ratio * $1) / meanDenominator })
        }
        guard let reference = influence(x), let candidate = influence(y) else { return nil }
        let differences = zip(candidate.values, reference.values).map { $0 - $1 }
        let mean = differences.reduce(0, +) / Double(n)
        let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        difference = candidate.ratio - reference.ratio
        standardError = (variance / Double(n)).squareRoot()
        self.reference = reference.ratio
    }

    /// The 95% interval, [low, high].
    package var interval95: (low: Double, high: Double) {
        (difference - PairedRatio.z95 * standardError, difference + PairedRatio.z95 * standardError)
    }
}
