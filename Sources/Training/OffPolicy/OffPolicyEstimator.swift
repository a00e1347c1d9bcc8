/// An off-policy estimator of a target policy's expected reward from a contextual-bandit log.
///
/// With w = π(a|x)/μ(a|x) the importance weight of a logged decision, r its reward, q̂ the
/// reward model's prediction for the logged action and q̂π = Σₐ π(a|x) q̂(x, a):
///
/// | estimator | value |
/// |-----------|-------|
/// | `ips`     | mean(w·r) |
/// | `snips`   | Σ w·r / Σ w (0 when every weight is 0) |
/// | `dm`      | mean(q̂π) |
/// | `dr`      | mean(q̂π + w·(r − q̂)) |
/// | `switchDR(threshold: τ)` | mean of the DR term where w ≤ τ and the DM term where w > τ |
///
/// IPS and DR are unbiased when the logging propensities are correct and the logging
/// policy gives positive probability to every action the target can take; DR stays
/// unbiased with a wrong reward model, and DM is unbiased only with a right one.
/// SNIPS has O(1/n) bias and is bounded by the rewards' range.
/// Switch-DR (Wang, Agarwal and Dudík, 2017) trades some of DM's bias for lower
/// variance on the decisions whose weights exceed τ.
package enum OffPolicyEstimator: Sendable, Hashable {
    /// Inverse propensity scoring.
    case ips
    /// Self-normalized inverse propensity scoring.
    case snips
    /// The direct method: the reward model's value of the target.
    case dm
    /// Doubly robust: DM plus an importance-weighted correction of the model's residuals.
    case dr
    /// Switch doubly robust: DR on decisions with weight ≤ `threshold`, DM on the rest.
    ///
    /// `threshold` = `.infinity` gives DR and 0 gives DM.
    case switchDR(threshold: Double = OffPolicyEstimator.defaultSwitchThreshold)

    /// The default switch-DR threshold τ = 20.
    ///
    /// A fixed threshold rather than a weight quantile: with τ = 20, switch-DR equals DR
    /// whenever the logging policy gives every action the target uses at least 5% of
    /// the target's probability (for example ε-greedy logging with ε/K ≥ 0.05), and
    /// falls back to the model only for the rare, extreme weights that dominate DR's
    /// variance. A quantile threshold would always hand some decisions to the model,
    /// adding model bias even to well-behaved logs.
    package static let defaultSwitchThreshold = 20.0

    /// IPS, SNIPS, DM, DR and switch-DR with the given threshold, in report order.
    package static func all(switchThreshold: Double = defaultSwitchThreshold) -> [OffPolicyEstimator] {
        [.ips, .snips, .dm, .dr, .switchDR(threshold: switchThreshold)]
    }

    /// The short name used in reports: `IPS`, `SNIPS`, `DM`, `DR` or `switch-DR`.
    package var name: String {
        switch self {
        case .ips: "IPS"
        case .snips: "SNIPS"
        case .dm: "DM"
        case .dr: "DR"
        case .switchDR: "switch-DR"
        }
    }

    /// Whether the estimator reads `predictedLogged` and `predictedTarget`.
    var usesRewardModel: Bool {
        switch self {
        case .ips, .snips: false
        case .dm, .dr, .switchDR: true
        }
    }

    /// The point estimate on `decisions`, without a bootstrap.
    /// - Throws: `OffPolicyError` for an empty log, the first invalid decision (predictions
    ///   are checked only if `usesRewardModel`), or an invalid switch threshold.
    /// - Complexity: O(n).
    package func value(of decisions: [LoggedDecision]) throws(OffPolicyError) -> Double {
        try validate(decisions)
        return ratioTerms(decisions).value
    }

    /// The point estimate, bootstrap standard error and 95% percentile interval, and effective sample size.
    ///
    /// The bootstrap resamples decisions with replacement; its draws depend only on the
    /// seed, the replicate and the position, so the same seed gives the same resamples to
    /// every estimator (and the same numbers as `OffPolicyReport`).
    /// - Throws: `OffPolicyError` as for `value(of:)`, or for fewer than 2 replicates.
    /// - Complexity: O(B·n) time for B replicates, O(n) extra memory.
    package func estimate(
        _ decisions: [LoggedDecision], bootstrap: BootstrapConfiguration = BootstrapConfiguration()
    ) throws(OffPolicyError) -> Estimate {
        try validate(decisions)
        try bootstrap.validate()
        let terms = ratioTerms(decisions)
        let replicates = Bootstrap.replicates(of: [terms], count: decisions.count, configuration: bootstrap)
        return Estimate(name: name, terms: terms, replicates: replicates[0], effectiveSampleSize: effectiveSampleSize(of: decisions))
    }

    /// Kish's effective sample size of the weights this estimator puts on the decisions.
    ///
    /// IPS, SNIPS and DR weight decision i by its importance weight wᵢ; DM weights every
    /// decision by 1 (so its ESS is n); switch-DR uses wᵢ where it applies the DR term and
    /// 1 where it applies the DM term. Does not validate `decisions`.
    /// - Complexity: O(n).
    func effectiveSampleSize(of decisions: [LoggedDecision]) -> Double {
        switch self {
        case .ips, .snips, .dr:
            Training.effectiveSampleSize(weights: decisions.lazy.map(\.importanceWeight))
        case .dm:
            Double(decisions.count)
        case .switchDR(let threshold):
            Training.effectiveSampleSize(
                weights: decisions.lazy.map { decision in
                    let weight = decision.importanceWeight
                    return weight <= threshold ? weight : 1
                }
            )
        }
    }
}

extension OffPolicyEstimator {
    /// Checks the log for this estimator and the estimator's own parameter.
    func validate(_ decisions: [LoggedDecision]) throws(OffPolicyError) {
        if case .switchDR(let threshold) = self, !(threshold >= 0) {
            throw .invalidSwitchThreshold(threshold)
        }
        try decisions.validateLog(usesRewardModel: usesRewardModel)
    }

    /// The per-decision terms whose ratio of sums is this estimator's value, on any resample.
    func ratioTerms(_ decisions: [LoggedDecision]) -> RatioTerms {
        switch self {
        case .ips:
            RatioTerms(numerators: decisions.map { $0.importanceWeight * $0.reward }, denominators: nil)
        case .snips:
            RatioTerms(
                numerators: decisions.map { $0.importanceWeight * $0.reward },
                denominators: decisions.map(\.importanceWeight)
            )
        case .dm:
            RatioTerms(numerators: decisions.map(\.predictedTarget), denominators: nil)
        case .dr:
            RatioTerms(numerators: decisions.map(\.doublyRobustTerm), denominators: nil)
        case .switchDR(let threshold):
            RatioTerms(
                numerators: decisions.map { $0.importanceWeight <= threshold ? $0.doublyRobustTerm : $0.predictedTarget },
                denominators: nil
            )
        }
    }
}

extension LoggedDecision {
    /// q̂π + w·(r − q̂): one decision's DR term.
    var doublyRobustTerm: Double {
        predictedTarget + importanceWeight * (reward - predictedLogged)
    }
}

/// Per-decision terms of an estimator that is a ratio of sums: Σ numerators / Σ denominators.
///
/// A nil `denominators` means every decision counts 1 (a plain mean). Evaluated on a
/// resample by weighting each term with the number of times its decision was drawn.
struct RatioTerms: Sendable {
    let numerators: [Double]
    let denominators: [Double]?

    /// The value on the full log.
    var value: Double {
        RatioTerms.ratio(
            numerators.reduce(0, +),
            denominators.map { $0.reduce(0, +) } ?? Double(numerators.count)
        )
    }

    /// The value on a resample where decision i was drawn `counts[i]` times.
    /// - Precondition: `counts.count == numerators.count`, and the counts sum to a positive number.
    func value(counts: [Int32]) -> Double {
        var numerator = 0.0
        var denominator = 0.0
        numerators.withUnsafeBufferPointer { terms in
            counts.withUnsafeBufferPointer { counts in
                for i in 0..<terms.count {
                    numerator += Double(counts[i]) * terms[i]
                }
            }
        }
        if let denominators {
            denominators.withUnsafeBufferPointer { terms in
                counts.withUnsafeBufferPointer { counts in
                    for i in 0..<terms.count {
                        denominator += Double(counts[i]) * terms[i]
                    }
                }
            }
        } else {
            denominator = Double(numerators.count)
        }
        return RatioTerms.ratio(numerator, denominator)
    }

    /// numerator / denominator, with 0 / 0 (SNIPS when every weight is zero) defined as 0.
    static func ratio(_ numerator: Double, _ denominator: Double) -> Double {
        denominator == 0 ? 0 : numerator / denominator
    }
}
