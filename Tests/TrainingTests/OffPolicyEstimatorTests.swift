import Testing
@testable import Training

/// Four decisions whose estimates are worked out by hand in the tests below.
///
/// | i | r   | μ    | π   | w    | q̂   | q̂π  | w·r   | DR term           |
/// |---|-----|------|-----|------|-----|-----|-------|-------------------|
/// | 0 | 1   | 0.5  | 1   | 2    | 0.6 | 0.7 | 2     | 0.7 + 2·0.4 = 1.5 |
/// | 1 | 0   | 0.25 | 0.5 | 2    | 0.2 | 0.4 | 0     | 0.4 − 2·0.2 = 0   |
/// | 2 | 1   | 1    | 0   | 0    | 0.9 | 0.3 | 0     | 0.3               |
/// | 3 | 0.9 | 0.8  | 0.2 | 0.25 | 0.5 | 0.5 | 0.225 | 0.5 + 0.25·0.4 = 0.6 |
let handLog = [
    LoggedDecision(reward: 1, loggingPropensity: 0.5, targetProbability: 1, predictedLogged: 0.6, predictedTarget: 0.7),
    LoggedDecision(reward: 0, loggingPropensity: 0.25, targetProbability: 0.5, predictedLogged: 0.2, predictedTarget: 0.4),
    LoggedDecision(reward: 1, loggingPropensity: 1, targetProbability: 0, predictedLogged: 0.9, predictedTarget: 0.3),
    LoggedDecision(reward: 0.9, loggingPropensity: 0.8, targetProbability: 0.2, predictedLogged: 0.5, predictedTarget: 0.5),
]

@Suite("Off-policy estimators: known answers")
struct OffPolicyEstimatorTests {
    @Test("IPS, SNIPS, DM and DR on a four-decision log match hand computation")
    func handComputedValues() throws {
        #expect(isClose(try OffPolicyEstimator.ips.value(of: handLog), 2.225 / 4))
        #expect(isClose(try OffPolicyEstimator.snips.value(of: handLog), 2.225 / 4.25))
        #expect(isClose(try OffPolicyEstimator.dm.value(of: handLog), 1.9 / 4))
        #expect(isClose(try OffPolicyEstimator.dr.value(of: handLog), 2.4 / 4))
    }

    @Test("switch-DR uses the DR term up to and including τ and the DM term above it")
    func switchThreshold() throws {
        // τ = 1: decisions 0 and 1 (w = 2) switch to q̂π = 0.7 and 0.4; 2 and 3 keep 0.3 and 0.6.
        #expect(isClose(try OffPolicyEstimator.switchDR(threshold: 1).value(of: handLog), 2.0 / 4))
        // τ = 2: w ≤ τ everywhere, so it is DR.
        #expect(isClose(try OffPolicyEstimator.switchDR(threshold: 2).value(of: handLog), 2.4 / 4))
        #expect(OffPolicyEstimator.switchDR() == .switchDR(threshold: 20))
    }

    @Test("switch-DR equals DR when τ is infinite and DM when τ is 0, intervals included")
    func switchLimits() throws {
        let bandit = SyntheticBandit()
        let misspecified = try bandit.fitModel(features: bandit.actionOnlyFeatures, pilotSize: 2000)
        let decisions = bandit.decisions(bandit.interactions(count: 500, seed: 11)) {
            misspecified.predict(bandit.actionOnlyFeatures(context: $0, action: $1))
        }
        let bootstrap = BootstrapConfiguration(replicates: 100, seed: 5)
        let dr = try OffPolicyEstimator.dr.estimate(decisions, bootstrap: bootstrap)
        let dm = try OffPolicyEstimator.dm.estimate(decisions, bootstrap: bootstrap)
        let never = try OffPolicyEstimator.switchDR(threshold: .infinity).estimate(decisions, bootstrap: bootstrap)
        let always = try OffPolicyEstimator.switchDR(threshold: 0).estimate(decisions, bootstrap: bootstrap)
        #expect(dr.value != dm.value)
        #expect([never.value, never.lower95, never.upper95, never.standardError] == [dr.value, dr.lower95, dr.upper95, dr.standardError])
        #expect(never.effectiveSampleSize == dr.effectiveSampleSize)
        #expect([always.value, always.lower95, always.upper95, always.standardError] == [dm.value, dm.lower95, dm.upper95, dm.standardError])
    }

    @Test("SNIPS is 0, like IPS, when the target never takes a logged action")
    func snipsWithoutOverlap() throws {
        let log = handLog.map { decision in
            var decision = decision
            decision.targetProbability = 0
            return decision
        }
        #expect(try OffPolicyEstimator.snips.value(of: log) == 0)
        #expect(try OffPolicyEstimator.ips.value(of: log) == 0)
    }

    @Test("IPS and SNIPS ignore NaN predictions; the model-based estimators reject them")
    func predictionsReadOnlyByModelEstimators() throws {
        let log = handLog.map { decision in
            var decision = decision
            decision.predictedLogged = .nan
            return decision
        }
        #expect(isClose(try OffPolicyEstimator.ips.value(of: log), 2.225 / 4))
        #expect(isClose(try OffPolicyEstimator.snips.value(of: log), 2.225 / 4.25))
        let error = #expect(throws: OffPolicyError.self) { try OffPolicyEstimator.dr.value(of: log) }
        guard case .nonFinitePrediction(let index, let field, let value) = error else {
            Issue.record("expected nonFinitePrediction, got \(String(describing: error))")
            return
        }
        #expect(index == 0 && field == "predictedLogged" && value.isNaN)
    }
}

@Suite("Effective sample size of importance weights")
struct EffectiveSampleSizeTests {
    @Test("equals n for uniform weights of any scale")
    func uniformWeights() {
        #expect(effectiveSampleSize(weights: [Double](repeating: 1, count: 10)) == 10)
        #expect(isClose(effectiveSampleSize(weights: [Double](repeating: 0.3, count: 7)), 7))
        #expect(isClose(effectiveSampleSize(weights: [Double](repeating: 4, count: 1000)), 1000))
    }

    @Test("is smaller for skewed weights: (1, 1, 1, 5) gives 8²/28 = 16/7")
    func skewedWeights() {
        #expect(isClose(effectiveSampleSize(weights: [1, 1, 1, 5]), 16.0 / 7))
        #expect(isClose(effectiveSampleSize(weights: [0.5, 0.5, 0.5, 2.5]), 16.0 / 7))
        #expect(isClose(effectiveSampleSize(weights: [0, 0, 0, 3]), 1))
        #expect(effectiveSampleSize(weights: [0, 0]) == 0)
        #expect(effectiveSampleSize(weights: []) == 0)
    }

    @Test("per estimator: importance weights for IPS, SNIPS and DR, n for DM, mixed for switch-DR")
    func perEstimator() {
        // Weights (2, 2, 0, 0.25): 4.25² / 8.0625.
        let weighted = 4.25 * 4.25 / 8.0625
        #expect(isClose(OffPolicyEstimator.ips.effectiveSampleSize(of: handLog), weighted))
        #expect(isClose(OffPolicyEstimator.snips.effectiveSampleSize(of: handLog), weighted))
        #expect(isClose(OffPolicyEstimator.dr.effectiveSampleSize(of: handLog), weighted))
        #expect(OffPolicyEstimator.dm.effectiveSampleSize(of: handLog) == 4)
        // τ = 1: decisions 0 and 1 use the DM term (weight 1): (1, 1, 0, 0.25) gives 2.25² / 2.0625.
        #expect(isClose(OffPolicyEstimator.switchDR(threshold: 1).effectiveSampleSize(of: handLog), 2.25 * 2.25 / 2.0625))
    }
}

@Suite("Bootstrap: known answers and determinism")
struct BootstrapTests {
    @Test("one decision: every resample is the log, so the interval is the point and the SE is 0")
    func singleDecision() throws {
        let estimate = try OffPolicyEstimator.dr.estimate([handLog[0]], bootstrap: BootstrapConfiguration(replicates: 50))
        #expect(estimate.value == 1.5)
        #expect(estimate.lower95 == 1.5 && estimate.upper95 == 1.5 && estimate.standardError == 0)
        #expect(estimate.n == 1)
    }

    @Test("two decisions with terms 0 and 1: resample means 0, ½, 1 with probability ¼, ½, ¼")
    func twoDecisions() throws {
        let log = [
            LoggedDecision(reward: 0, loggingPropensity: 1, targetProbability: 1),
            LoggedDecision(reward: 1, loggingPropensity: 1, targetProbability: 1),
        ]
        let estimate = try OffPolicyEstimator.ips.estimate(log, bootstrap: BootstrapConfiguration(replicates: 4000, seed: 9))
        #expect(estimate.value == 0.5)
        #expect(estimate.lower95 == 0 && estimate.upper95 == 1)
        // The resample mean has variance ⅛, so its SD is √⅛ ≈ 0.354 (Monte Carlo error ≈ 0.004).
        #expect(abs(estimate.standardError - (0.125).squareRoot()) < 0.02, "\(estimate.standardError)")
    }

    @Test("the same seed gives the same estimate; another seed gives another interval")
    func determinism() throws {
        let bandit = SyntheticBandit()
        let decisions = bandit.decisions(bandit.interactions(count: 300, seed: 21), model: bandit.meanReward)
        let first = try OffPolicyEstimator.ips.estimate(decisions, bootstrap: BootstrapConfiguration(replicates: 100, seed: 1))
        let again = try OffPolicyEstimator.ips.estimate(decisions, bootstrap: BootstrapConfiguration(replicates: 100, seed: 1))
        let other = try OffPolicyEstimator.ips.estimate(decisions, bootstrap: BootstrapConfiguration(replicates: 100, seed: 2))
        #expect(first == again)
        #expect(first.value == other.value)
        #expect(first.lower95 != other.lower95 || first.upper95 != other.upper95)
    }
}
