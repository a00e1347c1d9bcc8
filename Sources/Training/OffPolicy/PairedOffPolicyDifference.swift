import AdLoadCore

/// Doubly robust estimates of two target policies on the same log, and of their
/// difference, with 95% percentile intervals from the same bootstrap resamples.
///
/// Both policies are evaluated on the same decisions with the same reward model, so the
/// difference's per-decision terms are DR_candidate,i − DR_reference,i: what the two share
/// (the reward, the model's residual where both weights agree) cancels decision by
/// decision, and the difference's interval is narrower than the two intervals combined.
/// A policy compared with itself has every term 0, so a difference of exactly 0.
package struct PairedOffPolicyDifference: Sendable {
    /// DR of the reference policy.
    package let reference: Estimate
    /// DR of the candidate policy.
    package let candidate: Estimate
    /// DR of the candidate minus DR of the reference, from the per-decision differences.
    package let difference: Estimate

    /// Evaluates both policies' DR on the same log.
    /// - Parameters:
    ///   - reference: The reference policy's estimator inputs (``PolicyEvaluation/decisions``).
    ///   - candidate: The candidate's, for the same logged decisions in the same order.
    ///   - bootstrap: Replicate count and seed of the intervals (one set of resamples for all three).
    /// - Throws: `OffPolicyError` for an empty log, an invalid decision or too few replicates.
    /// - Precondition: both hold the same number of decisions.
    package init(
        reference: [LoggedDecision], candidate: [LoggedDecision], bootstrap: BootstrapConfiguration
    ) throws(OffPolicyError) {
        precondition(reference.count == candidate.count, "PairedOffPolicyDifference: \(reference.count) and \(candidate.count) decisions")
        try bootstrap.validate()
        try reference.validateLog(usesRewardModel: true)
        try candidate.validateLog(usesRewardModel: true)
        let referenceTerms = OffPolicyEstimator.dr.ratioTerms(reference)
        let candidateTerms = OffPolicyEstimator.dr.ratioTerms(candidate)
        let differenceTerms = RatioTerms(
            numerators: zip(candidateTerms.numerators, referenceTerms.numerators).map { $0 - $1 }, denominators: nil)
        let replicates = Bootstrap.replicates(
            of: [referenceTerms, candidateTerms, differenceTerms], count: reference.count, configuration: bootstrap)
        self.reference = Estimate(
            name: "DR", terms: referenceTerms, replicates: replicates[0],
            effectiveSampleSize: OffPolicyEstimator.dr.effectiveSampleSize(of: reference))
        self.candidate = Estimate(
            name: "DR", terms: candidateTerms, replicates: replicates[1],
            effectiveSampleSize: OffPolicyEstimator.dr.effectiveSampleSize(of: candidate))
        difference = Estimate(
            name: "DR difference", terms: differenceTerms, replicates: replicates[2], effectiveSampleSize: Double(reference.count))
    }
}

extension Estimate {
    /// The 95% percentile interval, [low, high].
    package var interval95: (low: Double, high: Double) { (lower95, upper95) }
}

extension PolicyEvaluation {
    /// The random stream a target policy decides a logged decision with in off-policy
    /// evaluation (keyed by user and session when the log has them, else by the decision
    /// id): deciding with it gives the choice whose probability the estimators use.
    package static func decisionStream(for record: LoggedRecord, seed: UInt64) -> CounterRandom {
        random(for: record, seed: seed)
    }
}

extension LoggedRecord {
    /// The plans the logged decision chose among, rebuilt as off-policy evaluation rebuilds them.
    package var offeredPlans: [CandidatePlan] { candidatePlans() }
}
