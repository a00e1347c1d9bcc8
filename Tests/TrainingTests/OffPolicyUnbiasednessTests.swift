import Testing
@testable import Training

/// Point estimates of every estimator over independent synthetic logs, computed once.
///
/// 200 repetitions of 1000 decisions from `SyntheticBandit`, each evaluated with the
/// true reward function (a correct model) and with an action-only ridge model fitted
/// on an independent pilot log (a misspecified model, fixed across repetitions).
struct RepeatedEstimates: Sendable {
    static let repetitions = 200
    static let logSize = 1000

    let truth: Double
    var ips: [Double] = []
    var snips: [Double] = []
    var dmCorrect: [Double] = []
    var dmMisspecified: [Double] = []
    var drCorrect: [Double] = []
    var drMisspecified: [Double] = []
    var switchCorrect: [Double] = []

    init() throws {
        let bandit = SyntheticBandit()
        truth = bandit.trueValue
        let misspecified = try bandit.fitModel(features: bandit.actionOnlyFeatures)
        for repetition in 0..<Self.repetitions {
            let log = bandit.interactions(count: Self.logSize, seed: 2_000 + UInt64(repetition))
            let correct = bandit.decisions(log, model: bandit.meanReward)
            let wrong = bandit.decisions(log) { misspecified.predict(bandit.actionOnlyFeatures(context: $0, action: $1)) }
            ips.append(try OffPolicyEstimator.ips.value(of: correct))
            snips.append(try OffPolicyEstimator.snips.value(of: correct))
            dmCorrect.append(try OffPolicyEstimator.dm.value(of: correct))
            dmMisspecified.append(try OffPolicyEstimator.dm.value(of: wrong))
            drCorrect.append(try OffPolicyEstimator.dr.value(of: correct))
            drMisspecified.append(try OffPolicyEstimator.dr.value(of: wrong))
            switchCorrect.append(try OffPolicyEstimator.switchDR(threshold: 3).value(of: correct))
        }
    }

    static let shared = Result { try RepeatedEstimates() }
}

@Suite("Off-policy estimators are unbiased where theory says so (200 logs of 1000 decisions)")
struct OffPolicyUnbiasednessTests {
    let estimates: RepeatedEstimates

    init() throws {
        estimates = try RepeatedEstimates.shared.get()
    }

    @Test("the synthetic bandit's true value is the hand-computed 0.5379375")
    func trueValue() {
        // Σₓ P(x) Σₐ π(a|x) μ(x, a), term by term in SyntheticBandit's tables.
        #expect(isClose(SyntheticBandit().trueValue, 0.5379375))
    }

    @Test("IPS is unbiased: its mean is within 3 standard errors of V")
    func ipsUnbiased() {
        let summary = RepetitionSummary(estimates.ips)
        #expect(summary.isUnbiased(for: estimates.truth), "mean \(summary.mean), V \(estimates.truth), SE \(summary.standardErrorOfMean)")
    }

    @Test("SNIPS is nearly unbiased: within 3 standard errors plus 5/n of V (its bias is O(1/n))")
    func snipsNearlyUnbiased() {
        let summary = RepetitionSummary(estimates.snips)
        let slack = 5 / Double(RepeatedEstimates.logSize)
        #expect(
            summary.isUnbiased(for: estimates.truth, slack: slack),
            "mean \(summary.mean), V \(estimates.truth), SE \(summary.standardErrorOfMean)"
        )
    }

    @Test("DM with the correct reward model is unbiased")
    func dmCorrectUnbiased() {
        let summary = RepetitionSummary(estimates.dmCorrect)
        #expect(summary.isUnbiased(for: estimates.truth), "mean \(summary.mean), V \(estimates.truth), SE \(summary.standardErrorOfMean)")
    }

    @Test("DM with a misspecified model is biased: more than 0.02 and 10 standard errors off V")
    func dmMisspecifiedBiased() {
        let summary = RepetitionSummary(estimates.dmMisspecified)
        let bias = abs(summary.mean - estimates.truth)
        #expect(bias > 0.02 && bias > 10 * summary.standardErrorOfMean, "mean \(summary.mean), V \(estimates.truth)")
    }

    @Test("DR is unbiased with the correct model and with the misspecified one (double robustness)")
    func drUnbiased() {
        let correct = RepetitionSummary(estimates.drCorrect)
        let misspecified = RepetitionSummary(estimates.drMisspecified)
        #expect(correct.isUnbiased(for: estimates.truth), "mean \(correct.mean), V \(estimates.truth), SE \(correct.standardErrorOfMean)")
        #expect(
            misspecified.isUnbiased(for: estimates.truth),
            "mean \(misspecified.mean), V \(estimates.truth), SE \(misspecified.standardErrorOfMean)"
        )
    }

    @Test("switch-DR with the correct model is unbiased at τ = 3, where it switches to DM on 7.5% of decisions")
    func switchCorrectUnbiased() {
        let summary = RepetitionSummary(estimates.switchCorrect)
        #expect(summary.isUnbiased(for: estimates.truth), "mean \(summary.mean), V \(estimates.truth), SE \(summary.standardErrorOfMean)")
    }

    @Test("DR's variance across logs is below IPS's with the correct model, and with the misspecified one")
    func drVarianceBelowIPS() {
        let ips = RepetitionSummary(estimates.ips).variance
        let drCorrect = RepetitionSummary(estimates.drCorrect).variance
        let drMisspecified = RepetitionSummary(estimates.drMisspecified).variance
        #expect(drCorrect < ips, "DR \(drCorrect), IPS \(ips)")
        #expect(drMisspecified < ips, "DR \(drMisspecified), IPS \(ips)")
    }
}
