/// One estimator's estimate of a target policy's value, with its bootstrap uncertainty.
package struct Estimate: Sendable, Hashable {
    /// The estimator's short name: `IPS`, `SNIPS`, `DM`, `DR` or `switch-DR`.
    package let name: String

    /// The point estimate on the full log.
    package let value: Double

    /// The standard deviation of the bootstrap replicates.
    package let standardError: Double

    /// The 2.5th percentile of the bootstrap replicates.
    package let lower95: Double

    /// The 97.5th percentile of the bootstrap replicates.
    package let upper95: Double

    /// Kish's effective sample size (Σw)²/Σw² of the weights the estimator puts on the
    /// decisions (see `OffPolicyEstimator.effectiveSampleSize(of:)`).
    package let effectiveSampleSize: Double

    /// The number of logged decisions.
    package let n: Int

    /// Creates an estimate from its parts.
    package init(
        name: String, value: Double, standardError: Double, lower95: Double, upper95: Double,
        effectiveSampleSize: Double, n: Int
    ) {
        self.name = name
        self.value = value
        self.standardError = standardError
        self.lower95 = lower95
        self.upper95 = upper95
        self.effectiveSampleSize = effectiveSampleSize
        self.n = n
    }

    /// Whether `truth` lies in the closed interval [`lower95`, `upper95`].
    package func covers(_ truth: Double) -> Bool {
        lower95 <= truth && truth <= upper95
    }
}
