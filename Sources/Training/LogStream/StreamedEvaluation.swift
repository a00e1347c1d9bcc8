import AdLoadCore
import Foundation
import LinearAlgebra
import Policies
import Simulation

/// Off-policy evaluation of a target policy on decision logs read as a stream, in two passes
/// with memory bounded by the estimators' state, not by the logs:
///
/// 1. the direct method's ridge reward model, from its sufficient statistics (unweighted
///    Σφφᵀ and Σrφ over the logged plans, λ = 1 as ``PolicyEvaluation``);
/// 2. per decision, the target's probabilities over the logged candidates and the model's
///    predictions, folded into every estimator's sums, and into B bootstrap replicates with
///    Poisson(1) weights drawn per decision and replicate from a counter-based stream keyed by
///    the decision's place in the log (the Poisson bootstrap: no decision is kept).
///
/// Blocks of lines are evaluated on several threads and combined in log order; the draws
/// depend on the decision's place, not on the thread, so results do not depend on the thread count.
package enum StreamedEvaluation {
    /// Per estimator (IPS, SNIPS, DM, DR, switch-DR): sums of numerators and denominators,
    /// weights for the effective sample size, and the same sums per bootstrap replicate.
    package struct Sums: Sendable {
        package var numerator = [Double](repeating: 0, count: 5)
        package var denominator = [Double](repeating: 0, count: 5)
        /// Σw and Σw² of the weights each estimator puts on decisions (Kish's ESS).
        package var weight = [Double](repeating: 0, count: 5)
        package var weightSquared = [Double](repeating: 0, count: 5)
        /// Replicate-major: [replicate * 10 + estimator * 2 + (0 numerator, 1 denominator)].
        package var replicates: [Double]
        package var count = 0
        package var loggedRewardSum = 0.0

        package init(replicates: Int) {
            self.replicates = Array(repeating: 0, count: replicates * 10)
        }

        /// Adds another shard's sums (same bootstrap size).
        package mutating func add(_ other: Sums) {
            for index in 0..<5 {
                numerator[index] += other.numerator[index]
                denominator[index] += other.denominator[index]
                weight[index] += other.weight[index]
                weightSquared[index] += other.weightSquared[index]
            }
            for index in replicates.indices { replicates[index] += other.replicates[index] }
            count += other.count
            loggedRewardSum += other.loggedRewardSum
        }
    }

    /// The reward model's sufficient statistics: unweighted Σφφᵀ and Σrφ over the logged plans.
    /// - Parameter progress: Called after each round of blocks with the decisions and bytes read so far.
    package static func modelStatistics(
        paths: [String], schema: FeatureSchema, threads: Int, progress: ((_ decisions: Int, _ bytes: Int) -> Void)? = nil
    ) throws(DecisionLogError) -> LoggedStatistics {
        let statistics = try LoggedTraining.statistics(paths: paths, schema: schema, maxWeight: nil, threads: threads, progress: progress)
        guard statistics.count > 0 else { throw .empty(path: paths.joined(separator: ", ")) }
        return statistics
    }

    /// θ of the ridge regression (λ = 1) with these statistics.
    package static func theta(_ statistics: LoggedStatistics) throws(DecisionLogError) -> [Double] {
        let d = statistics.dimension
        var a = statistics.a
        for i in 0..<d { a[i * d + i] += 1 }
        do {
            let model = try RidgeModel(lambda: 1, a: Matrix(rows: d, columns: d, elements: a), b: Vector(statistics.b[0]), updateCount: statistics.count)
            return Array(model.theta)
        } catch {
            throw .unreadable(path: "the reward model", problem: "the direct method's ridge regression does not fit: \(error)")
        }
    }

    /// Evaluates `target` on the logs at `paths` with every estimator: the reward model
    /// from the logs, then the estimators' sums, then the report.
    /// - Parameters:
    ///   - decisionSeed: Seeds the target's own randomization, as ``PolicyEvaluation``.
    package static func report(
        target: any DecisionPolicy, paths: [String], switchThreshold: Double, bootstrap: BootstrapConfiguration, decisionSeed: UInt64,
        threads: Int
    ) throws -> (report: OffPolicyReport, loggedValue: Double) {
        try bootstrap.validate()
        guard switchThreshold >= 0 else { throw OffPolicyError.invalidSwitchThreshold(switchThreshold) }
        let theta = try theta(try modelStatistics(paths: paths, schema: target.schema, threads: threads))
        let total = try sums(
            target: target, paths: paths, theta: theta, switchThreshold: switchThreshold, bootstrap: bootstrap, decisionSeed: decisionSeed,
            threads: threads, shard: 0)
        return try report(total, switchThreshold: switchThreshold, bootstrap: bootstrap)
    }

    /// The estimators' sums over the logs at `paths` with reward model `theta`. The bootstrap
    /// draws are keyed by `shard`, the block and the decision's place, so shards evaluated
    /// apart (each with its own number) draw independently and their sums add up.
    package static func sums(
        target: any DecisionPolicy, paths: [String], theta: [Double], switchThreshold: Double, bootstrap: BootstrapConfiguration,
        decisionSeed: UInt64, threads: Int, shard: UInt64, progress: ((_ decisions: Int, _ bytes: Int) -> Void)? = nil
    ) throws -> Sums {
        try bootstrap.validate()
        guard switchThreshold >= 0 else { throw OffPolicyError.invalidSwitchThreshold(switchThreshold) }
        guard theta.count == target.schema.contextCount * target.schema.descriptorCount else {
            throw DecisionLogError.unreadable(path: "the reward model", problem: "has \(theta.count) coefficients, the policy's features need \(target.schema.contextCount * target.schema.descriptorCount)")
        }
        var total = Sums(replicates: bootstrap.replicates)
        let shardBase = shard << 40
        try DecisionLogBatches.forEachBlock(
            paths: paths, threads: threads,
            makeWorker: {
                BlockEvaluator(target: target, theta: theta, switchThreshold: switchThreshold, bootstrap: bootstrap, decisionSeed: decisionSeed)
            },
            work: { (evaluator: inout BlockEvaluator, batch, block) throws(DecisionLogError) in
                let evaluated = try evaluator.evaluate(batch, block: shardBase + block)
                return (evaluated.sums, evaluated.lines)
            },
            combine: { total.add($0) }, afterRound: { progress?(total.count, $0) })
        return total
    }

    /// The report from the estimators' sums (one shard's, or several added up).
    package static func report(_ total: Sums, switchThreshold: Double, bootstrap: BootstrapConfiguration) throws -> (report: OffPolicyReport, loggedValue: Double) {
        guard total.count > 0 else { throw OffPolicyError.emptyLog }
        let names = OffPolicyEstimator.all(switchThreshold: switchThreshold).map(\.name)
        var estimates: [Estimate] = []
        for estimator in 0..<5 {
            let value = total.numerator[estimator] / total.denominator[estimator]
            let replicateValues = (0..<bootstrap.replicates).map { replicate -> Double in
                let denominator = total.replicates[replicate * 10 + estimator * 2 + 1]
                return denominator > 0 ? total.replicates[replicate * 10 + estimator * 2] / denominator : value
            }
            let sorted = replicateValues.sorted()
            let ess = total.weightSquared[estimator] > 0 ? total.weight[estimator] * total.weight[estimator] / total.weightSquared[estimator] : 0
            estimates.append(Estimate(
                name: names[estimator], value: value, standardError: Bootstrap.standardDeviation(replicateValues),
                lower95: Bootstrap.quantile(sorted: sorted, 0.025), upper95: Bootstrap.quantile(sorted: sorted, 0.975),
                effectiveSampleSize: ess, n: total.count))
        }
        let report = OffPolicyReport(estimates: estimates, switchThreshold: switchThreshold, bootstrap: bootstrap)
        return (report, total.loggedRewardSum / Double(total.count))
    }

    /// Evaluates the decisions of one block.
    struct BlockEvaluator {
        let target: any DecisionPolicy
        let workspace: PolicyWorkspace
        let theta: [Double]
        let switchThreshold: Double
        let bootstrap: BootstrapConfiguration
        let decisionSeed: UInt64
        let layoutHash: UInt64
        let standardHash: UInt64
        let layout: ContextLayout
        let poissonRoot: CounterRandom
        var parser = DecisionLineParser()
        var record = ParsedDecision()
        var candidates: [CandidatePlan] = []
        var probabilities: [Double] = []

        init(target: any DecisionPolicy, theta: [Double], switchThreshold: Double, bootstrap: BootstrapConfiguration, decisionSeed: UInt64) {
            self.target = target
            workspace = target.makeWorkspace(maxCandidates: 512)
            self.theta = theta
            self.switchThreshold = switchThreshold
            self.bootstrap = bootstrap
            self.decisionSeed = decisionSeed
            layout = ContextLayout(target.schema)
            layoutHash = FNV1a64.hash(layout.fingerprint)
            standardHash = FNV1a64.hash(layout.standardFingerprint)
            poissonRoot = CounterRandom(seed: bootstrap.seed, domain: 0x706F_6973_736F_6E)
        }

        /// θ·(c ⊗ q) for the current record's context and plan descriptors `q`.
        func predict(_ descriptors: PlanDescriptors) -> Double {
            var sum = 0.0
            var offset = 0
            for c in record.features {
                for j in 0..<PlanDescriptors.count {
                    sum += theta[offset] * c * descriptors[j]
                    offset += 1
                }
            }
            return sum
        }

        mutating func evaluate(_ batch: LogBatch, block: UInt64) throws(DecisionLogError) -> (sums: Sums, lines: Int) {
            var sums = Sums(replicates: bootstrap.replicates)
            let blockRandom = poissonRoot.child(block)
            var position: UInt64 = 0
            let lines = try batch.forEachLine { (line, number) throws(DecisionLogError) in
                do throws(LineProblem) { try parser.parse(line, into: &record) } catch {
                    throw .badRecord(path: batch.path, line: number, problem: error.message)
                }
                guard record.features.count == target.schema.contextCount else {
                    throw .badRecord(path: batch.path, line: number, problem: "has \(record.features.count) context features, the policy has \(target.schema.contextCount)")
                }
                guard (record.contextSchemaHash ?? standardHash) == layoutHash else {
                    throw .badRecord(
                        path: batch.path, line: number,
                        problem: "its context_schema is not the layout \(layout.fingerprint) of the policy's features: the log was written with other history features")
                }
                candidates.removeAll(keepingCapacity: true)
                for spec in record.candidates {
                    candidates.append(CandidatePlan(spec: spec, plan: spec.plan(feedLength: record.feedLength, limit: record.adLimit)))
                }
                workspace.load(features: record.features, prices: record.prices)
                let random: CounterRandom
                if let user = record.simUser, let session = record.simSession {
                    random = SimulatedPolicy.decisionRandom(seed: decisionSeed, user: user, session: session)
                } else {
                    random = SimulatedPolicy.decisionRandom(seed: decisionSeed, user: Int(truncatingIfNeeded: record.decisionIDHash >> 1), session: 0)
                }
                _ = target.probabilities(candidates, random: random, workspace: workspace, into: &probabilities)
                var predictedTarget = 0.0
                var predictedLogged = 0.0
                for (k, candidate) in candidates.enumerated() {
                    let prediction = predict(candidate.descriptors)
                    predictedTarget += probabilities[k] * prediction
                    if k == record.chosen { predictedLogged = prediction }
                }
                let weight = probabilities[record.chosen] / record.probability
                let reward = record.reward
                let doublyRobust = predictedTarget + weight * (reward - predictedLogged)
                let switched = weight <= switchThreshold ? doublyRobust : predictedTarget
                let numerators = (weight * reward, weight * reward, predictedTarget, doublyRobust, switched)
                let denominators = (1.0, weight, 1.0, 1.0, 1.0)
                let essWeights = (weight, weight, 1.0, weight, weight <= switchThreshold ? weight : 1)
                func fold(_ index: Int, _ numerator: Double, _ denominator: Double, _ essWeight: Double) {
                    sums.numerator[index] += numerator
                    sums.denominator[index] += denominator
                    sums.weight[index] += essWeight
                    sums.weightSquared[index] += essWeight * essWeight
                }
                fold(0, numerators.0, denominators.0, essWeights.0)
                fold(1, numerators.1, denominators.1, essWeights.1)
                fold(2, numerators.2, denominators.2, essWeights.2)
                fold(3, numerators.3, denominators.3, essWeights.3)
                fold(4, numerators.4, denominators.4, essWeights.4)
                let decisionRandom = blockRandom.child(position)
                position += 1
                sums.replicates.withUnsafeMutableBufferPointer { values in
                    for replicate in 0..<bootstrap.replicates {
                        let draw = Self.poisson(decisionRandom.uniform(UInt64(replicate)))
                        guard draw > 0 else { continue }
                        let k = Double(draw)
                        let base = replicate * 10
                        values[base] += k * numerators.0
                        values[base + 1] += k * denominators.0
                        values[base + 2] += k * numerators.1
                        values[base + 3] += k * denominators.1
                        values[base + 4] += k * numerators.2
                        values[base + 5] += k * denominators.2
                        values[base + 6] += k * numerators.3
                        values[base + 7] += k * denominators.3
                        values[base + 8] += k * numerators.4
                        values[base + 9] += k * denominators.4
                    }
                }
                sums.count += 1
                sums.loggedRewardSum += reward
            }
            return (sums, lines)
        }

        /// Cumulative Poisson(1) probabilities P(X ≤ k), k = 0…11.
        static let poissonCumulative: [Double] = {
            var cumulative: [Double] = []
            var term = exp(-1.0)
            var sum = 0.0
            for k in 0..<12 {
                sum += term
                cumulative.append(sum)
                term /= Double(k + 1)
            }
            return cumulative
        }()

        /// A Poisson(1) draw from a uniform in [0, 1) by inversion.
        static func poisson(_ uniform: Double) -> Int {
            var k = 0
            while k < poissonCumulative.count && uniform >= poissonCumulative[k] { k += 1 }
            return k
        }
    }
}
