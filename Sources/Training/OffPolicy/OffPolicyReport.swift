/// IPS, SNIPS, DM, DR and switch-DR estimates of one target policy on one log.
///
/// All five bootstrap intervals come from the same resamples, and each estimate equals
/// what `OffPolicyEstimator.estimate(_:bootstrap:)` returns for the same configuration.
package struct OffPolicyReport: Sendable, Hashable {
    /// Inverse propensity scoring.
    let ips: Estimate
    /// Self-normalized inverse propensity scoring.
    let snips: Estimate
    /// The direct method.
    let dm: Estimate
    /// Doubly robust.
    package let dr: Estimate
    /// Switch doubly robust with threshold `switchThreshold`.
    let switchDR: Estimate

    /// The number of logged decisions.
    package let n: Int

    /// The switch-DR threshold τ.
    package let switchThreshold: Double

    /// The bootstrap's replicate count and seed.
    package let bootstrap: BootstrapConfiguration

    /// Evaluates all five estimators on `decisions`.
    /// - Parameters:
    ///   - decisions: The log; its predictions must be finite, since DM, DR and switch-DR read them.
    ///   - switchThreshold: Switch-DR's τ (default `OffPolicyEstimator.defaultSwitchThreshold`).
    ///   - bootstrap: Replicate count and seed of the intervals.
    /// - Throws: `OffPolicyError` for an empty log, the first invalid decision, a negative
    ///   or NaN threshold, or fewer than 2 replicates.
    /// - Complexity: O(B·n) time for B replicates, O(n) extra memory.
    package init(
        decisions: [LoggedDecision],
        switchThreshold: Double = OffPolicyEstimator.defaultSwitchThreshold,
        bootstrap: BootstrapConfiguration = BootstrapConfiguration()
    ) throws(OffPolicyError) {
        guard switchThreshold >= 0 else { throw .invalidSwitchThreshold(switchThreshold) }
        try bootstrap.validate()
        try decisions.validateLog(usesRewardModel: true)
        let estimators = OffPolicyEstimator.all(switchThreshold: switchThreshold)
        let terms = estimators.map { $0.ratioTerms(decisions) }
        let replicates = Bootstrap.replicates(of: terms, count: decisions.count, configuration: bootstrap)
        let estimates = estimators.indices.map { index in
            Estimate(
                name: estimators[index].name, terms: terms[index], replicates: replicates[index],
                effectiveSampleSize: estimators[index].effectiveSampleSize(of: decisions)
            )
        }
        ips = estimates[0]
        snips = estimates[1]
        dm = estimates[2]
        dr = estimates[3]
        switchDR = estimates[4]
        n = decisions.count
        self.switchThreshold = switchThreshold
        self.bootstrap = bootstrap
    }

    /// The five estimates in report order: IPS, SNIPS, DM, DR, switch-DR.
    /// A report from the five estimates, in the order of `OffPolicyEstimator.all` (a
    /// streamed evaluation computes them itself).
    package init(estimates: [Estimate], switchThreshold: Double, bootstrap: BootstrapConfiguration) {
        precondition(estimates.count == 5, "OffPolicyReport: five estimates, got \(estimates.count)")
        (ips, snips, dm, dr, switchDR) = (estimates[0], estimates[1], estimates[2], estimates[3], estimates[4])
        n = estimates[0].n
        self.switchThreshold = switchThreshold
        self.bootstrap = bootstrap
    }

    package var estimates: [Estimate] { [ips, snips, dm, dr, switchDR] }
}
