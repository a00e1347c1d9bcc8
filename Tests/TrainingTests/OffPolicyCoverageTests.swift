import Testing
@testable import Training

@Suite("Bootstrap intervals (100 logs of 1000 decisions, B = 200)")
struct OffPolicyCoverageTests {
    @Test("95% percentile intervals of IPS and DR cover the true value in at least 85% of logs")
    func coverage() throws {
        let bandit = SyntheticBandit()
        let truth = bandit.trueValue
        let misspecified = try bandit.fitModel(features: bandit.actionOnlyFeatures)
        let repetitions = 100
        var ipsCovered = 0, drCorrectCovered = 0, drMisspecifiedCovered = 0
        for repetition in 0..<repetitions {
            let log = bandit.interactions(count: 1000, seed: 50_000 + UInt64(repetition))
            let bootstrap = BootstrapConfiguration(replicates: 200, seed: UInt64(repetition))
            let correct = bandit.decisions(log, model: bandit.meanReward)
            let wrong = bandit.decisions(log) { misspecified.predict(bandit.actionOnlyFeatures(context: $0, action: $1)) }
            let report = try OffPolicyReport(decisions: wrong, bootstrap: bootstrap)
            let drCorrect = try OffPolicyEstimator.dr.estimate(correct, bootstrap: bootstrap)
            ipsCovered += report.ips.covers(truth) ? 1 : 0
            drMisspecifiedCovered += report.dr.covers(truth) ? 1 : 0
            drCorrectCovered += drCorrect.covers(truth) ? 1 : 0
        }
        let minimum = 85 * repetitions / 100
        #expect(ipsCovered >= minimum, "IPS covered V in \(ipsCovered) of \(repetitions)")
        #expect(drCorrectCovered >= minimum, "DR (correct model) covered V in \(drCorrectCovered) of \(repetitions)")
        #expect(drMisspecifiedCovered >= minimum, "DR (misspecified model) covered V in \(drMisspecifiedCovered) of \(repetitions)")
    }

    @Test("the bootstrap standard error of IPS matches the analytic standard error of a mean within 10%")
    func standardErrorMatchesAnalytic() throws {
        let bandit = SyntheticBandit()
        let decisions = bandit.decisions(bandit.interactions(count: 2000, seed: 7), model: bandit.meanReward)
        let estimate = try OffPolicyEstimator.ips.estimate(decisions, bootstrap: BootstrapConfiguration(replicates: 1000, seed: 3))
        // The bootstrap SE of a mean estimates sd/√n with divisor n; with B = 1000 its
        // relative Monte Carlo error is about 1/√(2B) ≈ 2%.
        let terms = decisions.map { $0.importanceWeight * $0.reward }
        let mean = terms.reduce(0, +) / Double(terms.count)
        let variance = terms.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(terms.count)
        let analytic = (variance / Double(terms.count)).squareRoot()
        #expect(abs(estimate.standardError / analytic - 1) < 0.1, "bootstrap \(estimate.standardError), analytic \(analytic)")
        #expect(estimate.lower95 < estimate.value && estimate.value < estimate.upper95)
        // A normal-theory interval is ±1.96 SE; the percentile interval is close to it here.
        #expect(abs((estimate.upper95 - estimate.lower95) / (2 * 1.96 * analytic) - 1) < 0.15)
    }
}
