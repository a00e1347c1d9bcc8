import Testing
@testable import Training

/// `handLog` with decision `index` changed by `change`.
private func log(changing index: Int, _ change: (inout LoggedDecision) -> Void) -> [LoggedDecision] {
    var log = handLog
    change(&log[index])
    return log
}

@Suite("Off-policy errors name the decision and the value")
struct OffPolicyErrorTests {
    @Test("an empty log is rejected by every estimator and the report")
    func emptyLog() {
        for estimator in OffPolicyEstimator.all() {
            #expect(throws: OffPolicyError.emptyLog) { try estimator.value(of: []) }
            #expect(throws: OffPolicyError.emptyLog) { try estimator.estimate([]) }
        }
        #expect(throws: OffPolicyError.emptyLog) { try OffPolicyReport(decisions: []) }
    }

    @Test("a propensity ≤ 0 or > 1 is rejected with its index and value", arguments: [0.0, -0.5, 1.5, .infinity])
    func invalidPropensity(value: Double) {
        let bad = log(changing: 2) { $0.loggingPropensity = value }
        for estimator in OffPolicyEstimator.all() {
            #expect(throws: OffPolicyError.invalidPropensity(index: 2, value: value)) { try estimator.value(of: bad) }
        }
        #expect(throws: OffPolicyError.invalidPropensity(index: 2, value: value)) { try OffPolicyReport(decisions: bad) }
    }

    @Test("a NaN propensity is rejected with its index")
    func nanPropensity() {
        let bad = log(changing: 3) { $0.loggingPropensity = .nan }
        let error = #expect(throws: OffPolicyError.self) { try OffPolicyEstimator.ips.value(of: bad) }
        guard case .invalidPropensity(let index, let value) = error else {
            Issue.record("expected invalidPropensity, got \(String(describing: error))")
            return
        }
        #expect(index == 3 && value.isNaN)
        #expect(error?.description == "Decision 3 has logging propensity nan; it must be in (0, 1]")
    }

    @Test("a target probability outside [0, 1] is rejected with its index and value", arguments: [-0.1, 1.1])
    func invalidTargetProbability(value: Double) {
        let bad = log(changing: 1) { $0.targetProbability = value }
        #expect(throws: OffPolicyError.invalidTargetProbability(index: 1, value: value)) { try OffPolicyEstimator.snips.value(of: bad) }
        let error = #expect(throws: OffPolicyError.self) { try OffPolicyEstimator.dm.value(of: bad) }
        #expect(error?.description == "Decision 1 has target probability \(value); it must be in [0, 1]")
    }

    @Test("a NaN target probability is rejected with its index")
    func nanTargetProbability() {
        let bad = log(changing: 0) { $0.targetProbability = .nan }
        let error = #expect(throws: OffPolicyError.self) { try OffPolicyEstimator.dr.value(of: bad) }
        guard case .invalidTargetProbability(let index, let value) = error else {
            Issue.record("expected invalidTargetProbability, got \(String(describing: error))")
            return
        }
        #expect(index == 0 && value.isNaN)
    }

    @Test("a non-finite reward or prediction is rejected with its index and value")
    func nonFiniteValues() {
        let badReward = log(changing: 2) { $0.reward = -.infinity }
        #expect(throws: OffPolicyError.nonFiniteReward(index: 2, value: -.infinity)) { try OffPolicyEstimator.ips.value(of: badReward) }
        let badPrediction = log(changing: 3) { $0.predictedTarget = .infinity }
        #expect(throws: OffPolicyError.nonFinitePrediction(index: 3, field: "predictedTarget", value: .infinity)) {
            try OffPolicyReport(decisions: badPrediction)
        }
    }

    @Test("the first invalid decision is the one reported")
    func firstProblemWins() {
        var bad = handLog
        bad[1].loggingPropensity = 2
        bad[3].loggingPropensity = 0
        #expect(throws: OffPolicyError.invalidPropensity(index: 1, value: 2)) { try OffPolicyEstimator.ips.value(of: bad) }
        bad[0].predictedLogged = .infinity
        #expect(throws: OffPolicyError.invalidPropensity(index: 1, value: 2)) { try OffPolicyEstimator.ips.value(of: bad) }
        #expect(throws: OffPolicyError.nonFinitePrediction(index: 0, field: "predictedLogged", value: .infinity)) {
            try OffPolicyReport(decisions: bad)
        }
    }

    @Test("a negative or NaN switch threshold and fewer than 2 replicates are rejected")
    func invalidConfiguration() {
        #expect(throws: OffPolicyError.invalidSwitchThreshold(-1)) { try OffPolicyEstimator.switchDR(threshold: -1).value(of: handLog) }
        #expect(throws: OffPolicyError.invalidSwitchThreshold(-1)) { try OffPolicyReport(decisions: handLog, switchThreshold: -1) }
        let error = #expect(throws: OffPolicyError.self) { try OffPolicyEstimator.switchDR(threshold: .nan).value(of: handLog) }
        guard case .invalidSwitchThreshold(let value) = error else {
            Issue.record("expected invalidSwitchThreshold, got \(String(describing: error))")
            return
        }
        #expect(value.isNaN)
        #expect(throws: OffPolicyError.invalidReplicateCount(1)) {
            try OffPolicyEstimator.ips.estimate(handLog, bootstrap: BootstrapConfiguration(replicates: 1))
        }
        #expect(throws: OffPolicyError.invalidReplicateCount(0)) {
            try OffPolicyReport(decisions: handLog, bootstrap: BootstrapConfiguration(replicates: 0))
        }
    }
}
