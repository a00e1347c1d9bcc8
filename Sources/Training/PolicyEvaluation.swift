import AdLoadCore
import Dispatch
import Policies
import Simulation
import Synchronization

/// Off-policy evaluation of any policy on a decision log: the inputs of the estimators, and
/// (for logs written by the simulator) the target's true value on the logged contexts.
package struct PolicyEvaluation: Sendable {
    /// Per logged decision: the target's probabilities over the logged candidates.
    let targetProbabilities: [[Double]]
    /// The estimator inputs, one per logged decision.
    package let decisions: [LoggedDecision]
    /// The direct-method reward model (ridge over φ = c ⊗ q of the logged plans).
    let rewardModel: RidgeRewardModel

    /// Prepares the estimators' inputs for evaluating `target` on `records`.
    /// - Parameters:
    ///   - decisionSeed: seed of the target's own randomization (Thompson sampling's propensities).
    ///   - regularization: ridge λ of the direct-method reward model.
    package init(
        target: any DecisionPolicy, records: [LoggedRecord], decisionSeed: UInt64, regularization: Double = 1
    ) throws {
        var features: [[Double]] = []
        var rewards: [Double] = []
        var candidateSets: [[CandidatePlan]] = []
        features.reserveCapacity(records.count)
        let schema = target.schema
        let layout = ContextLayout(schema)
        for (index, record) in records.enumerated() {
            try record.checkLayout(layout, index: index)
            guard record.features.count == schema.contextCount else {
                throw LoggedTrainingError(index: index, problem: "has \(record.features.count) context features, the policy has \(schema.contextCount)")
            }
            let candidates = record.candidatePlans()
            candidateSets.append(candidates)
            features.append(FeatureSchema.kronecker(context: record.features, descriptors: candidates[record.chosen].descriptors))
            rewards.append(record.reward)
        }
        let model = try RidgeRewardModel(features: features, rewards: rewards, regularization: regularization)
        let workspace = target.makeWorkspace(maxCandidates: max(1, candidateSets.map(\.count).max() ?? 1))
        var probabilities: [Double] = []
        var allProbabilities: [[Double]] = []
        var decisions: [LoggedDecision] = []
        for (index, record) in records.enumerated() {
            let candidates = candidateSets[index]
            workspace.load(features: record.features, prices: record.pacingPrices)
            _ = target.probabilities(
                candidates, random: Self.random(for: record, seed: decisionSeed), workspace: workspace, into: &probabilities)
            var predictedTarget = 0.0
            var predictedLogged = 0.0
            for (k, candidate) in candidates.enumerated() {
                let prediction = model.predict(FeatureSchema.kronecker(context: record.features, descriptors: candidate.descriptors))
                predictedTarget += probabilities[k] * prediction
                if k == record.chosen { predictedLogged = prediction }
            }
            allProbabilities.append(Array(probabilities.prefix(candidates.count)))
            decisions.append(LoggedDecision(
                reward: record.reward, loggingPropensity: record.probability, targetProbability: probabilities[record.chosen],
                predictedLogged: predictedLogged, predictedTarget: predictedTarget))
        }
        targetProbabilities = allProbabilities
        self.decisions = decisions
        rewardModel = model
    }

    /// The target's random stream for a logged decision: keyed by user and session when the
    /// log has them, else by the decision id.
    static func random(for record: LoggedRecord, seed: UInt64) -> CounterRandom {
        if let sim = record.sim { return SimulatedPolicy.decisionRandom(seed: seed, user: sim.user, session: sim.sessionIndex) }
        let hash = FNV1a64.hash(record.decisionID)
        return SimulatedPolicy.decisionRandom(seed: seed, user: Int(truncatingIfNeeded: hash >> 1), session: 0)
    }

    /// The target's true value on the logged contexts: for every logged decision, replays
    /// the simulator from its snapshot under each plan the target might choose (with the
    /// logged session's own luck) and averages Σ_k π(k|x)·reward_k over decisions.
    /// - Throws: when a record has no simulator snapshot or its reward weights are unknown.
    package func trueValue(model: EnvironmentModel, records: [LoggedRecord], threads: Int) throws -> Double {
        for (index, record) in records.enumerated() where record.sim == nil {
            throw LoggedTrainingError(index: index, problem: "has no simulator snapshot ('sim'): only logs written by `adload simulate --log` have a true value")
        }
        let weights = try records.map { try RewardWeights(dictionary: $0.rewardWeights) }
        let values = Mutex<[Double]>(Array(repeating: 0, count: records.count))
        let failure = Mutex<(any Error)?>(nil)
        let chunkSize = 64
        let chunks = (records.count + chunkSize - 1) / chunkSize
        let next = Atomic<Int>(0)
        let probabilities = targetProbabilities
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, chunks))) { _ in
            while true {
                let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard chunk < chunks else { return }
                var local: [(Int, Double)] = []
                do {
                    for index in (chunk * chunkSize)..<min(records.count, (chunk + 1) * chunkSize) {
                        guard let snapshot = records[index].sim else { continue }
                        let start = try model.restore(snapshot)
                        let candidates = records[index].candidatePlans()
                        var value = 0.0
                        for (k, probability) in probabilities[index].enumerated() where probability > 0 {
                            var trajectory = start
                            var decider = PlanDecider(plan: candidates[k].plan)
                            let outcome = try model.step(&trajectory, decider: &decider, policyName: "counterfactual")
                            value += probability * weights[index].reward(outcome, plan: candidates[k].descriptors)
                        }
                        local.append((index, value))
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
                values.withLock { all in for (index, value) in local { all[index] = value } }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return values.withLock { $0.reduce(0, +) } / Double(max(1, records.count))
    }
}
