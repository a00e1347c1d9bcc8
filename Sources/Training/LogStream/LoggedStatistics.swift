import AdLoadCore
import Foundation
import LinearAlgebra
import Policies

/// The sufficient statistics of learning a bandit from logged decisions: importance-weighted
/// ridge regression is A = Σ w·φφᵀ and b = Σ w·r·φ over the decisions (φ = c ⊗ q of the
/// chosen plan, w = min(maxWeight, 1/(K·p))), and the pricing models' b_k and totals are
/// sums too. Sums of shards are the sums of the whole log, so a log too big for one
/// machine is learned shard by shard (`train bandit --emit-stats`) and merged
/// (`train merge`); the merge equals one pass up to rounding.
package struct LoggedStatistics: Sendable, Equatable {
    /// d = |c|·|q|.
    package let dimension: Int
    /// Σ w·φφᵀ, d × d, row-major (symmetric).
    package var a: [Double]
    /// Per target (the reward, then revenue, impressions, negatives, organic items): Σ w·y·φ, d each.
    package var b: [[Double]]
    /// Per priced quantity: Σ w·y.
    package var totals: [Double]
    /// Decisions learned from.
    package var count = 0
    /// One point per 1,000 decisions, in log order: (decisions so far, mean reward, mean weight).
    package var curve: [CurvePoint] = []
    /// Reward and weight sums of the decisions since the last curve point.
    var pendingReward = 0.0, pendingWeight = 0.0, pendingCount = 0
    /// A batch's (reward, weight) per decision, interleaved, until it is appended to the total.
    var perDecision: [Double] = []
    /// Distinct simulated users seen (logs of `adload simulate`), counted up to ``maxTrackedUsers``.
    package var users: Set<Int> = []

    /// Users are counted exactly up to this many; past it, provenance says "at least".
    package static let maxTrackedUsers = 1_000_000
    /// Targets per decision: the reward and the four priced quantities.
    static let targets = 5

    /// One learning-curve point.
    package struct CurvePoint: Sendable, Equatable {
        package var decisions: Int
        package var meanReward: Double
        package var meanWeight: Double
    }

    /// Empty statistics for dimension `dimension`.
    package init(dimension: Int) {
        self.dimension = dimension
        a = Array(repeating: 0, count: dimension * dimension)
        b = Array(repeating: Array(repeating: 0, count: dimension), count: Self.targets)
        totals = [0, 0, 0, 0]
    }

    /// Adds `other`, which follows these statistics in the log. A batch's decisions (kept
    /// one by one) extend the learning curve exactly as one pass would; another shard's
    /// curve follows this one's, whose partial last bucket becomes a point of its own.
    package mutating func append(_ other: LoggedStatistics) {
        precondition(other.dimension == dimension, "LoggedStatistics: merging dimension \(other.dimension) into \(dimension)")
        for index in a.indices { a[index] += other.a[index] }
        for target in 0..<Self.targets {
            for index in 0..<dimension { b[target][index] += other.b[target][index] }
        }
        for k in 0..<4 { totals[k] += other.totals[k] }
        if users.count < Self.maxTrackedUsers { users.formUnion(other.users.prefix(Self.maxTrackedUsers - users.count)) }
        if !other.perDecision.isEmpty {
            for index in stride(from: 0, to: other.perDecision.count, by: 2) {
                note(reward: other.perDecision[index], weight: other.perDecision[index + 1])
            }
            return
        }
        if other.count > 0 { closePoint() }
        curve += other.curve.map { CurvePoint(decisions: $0.decisions + count, meanReward: $0.meanReward, meanWeight: $0.meanWeight) }
        pendingReward += other.pendingReward
        pendingWeight += other.pendingWeight
        pendingCount += other.pendingCount
        count += other.count
    }

    /// Notes one decision's reward and weight for the learning curve.
    mutating func note(reward: Double, weight: Double) {
        pendingReward += reward
        pendingWeight += weight
        pendingCount += 1
        count += 1
        if pendingCount == 1000 { closePoint() }
    }

    mutating func closePoint() {
        guard pendingCount > 0 else { return }
        curve.append(CurvePoint(decisions: count, meanReward: pendingReward / Double(pendingCount), meanWeight: pendingWeight / Double(pendingCount)))
        pendingReward = 0
        pendingWeight = 0
        pendingCount = 0
    }

    /// The learning curve as CSV lines (header first), the last partial bucket included.
    package var curveLines: [String] {
        var closed = self
        closed.closePoint()
        return ["records,mean_reward,mean_weight"] + closed.curve.map { "\($0.decisions),\($0.meanReward),\($0.meanWeight)" }
    }

    /// `bandit` having learned these statistics: A and b added to its own, then A⁻¹, θ and
    /// the pricing models refitted with LAPACK.
    /// - Throws: `LinearAlgebraError` when A is not numerically positive definite.
    package func applied(to bandit: LinearBandit) throws -> LinearBandit {
        precondition(bandit.model.dimension == dimension, "LoggedStatistics: the bandit has dimension \(bandit.model.dimension), the statistics \(dimension)")
        var total = bandit.model.a
        total.withUnsafeMutableBufferPointer { matrix in
            for index in a.indices { matrix[index] += a[index] }
        }
        var rewardB = bandit.model.b
        for index in 0..<dimension { rewardB[index] += b[0][index] }
        let model = try RidgeModel(
            lambda: bandit.model.lambda, a: total, b: rewardB, updateCount: bandit.model.updateCount + count,
            refreshInterval: bandit.model.refreshInterval)
        var pricing: BanditPricing?
        if let existing = bandit.pricing {
            var pricedB = existing.b
            for k in 0..<4 {
                for index in 0..<dimension { pricedB[k][index] += b[k + 1][index] }
            }
            pricing = BanditPricing(b: pricedB, totals: (0..<4).map { existing.totals[$0] + totals[$0] }, inverse: model.inverse)
        }
        return try LinearBandit(
            algorithm: bandit.algorithm, model: model, pricing: pricing, contextCount: bandit.contextCount, descriptorCount: bandit.descriptorCount)
    }
}

/// Learns the sufficient statistics of one batch of log lines: each line parsed, checked
/// against the schema's layout, and its φ, weight and targets gathered into matrices whose
/// products (one `gemm` each) give the batch's A and b.
package struct LoggedBatchLearner {
    let contextCount: Int
    let descriptorCount: Int
    /// The importance-weight cap; `nil`: every decision weighs 1 (a plain regression of the logged rewards).
    let maxWeight: Double?
    /// FNV-1a 64 of the layout's fingerprint, and of the standard one (lines without `context_schema`).
    let layoutHash: UInt64
    let standardHash: UInt64
    let layout: ContextLayout
    var parser = DecisionLineParser()
    var record = ParsedDecision()

    /// A learner for `schema`'s layout.
    package init(schema: FeatureSchema, maxWeight: Double?) {
        layout = ContextLayout(schema)
        contextCount = schema.contextCount
        descriptorCount = schema.descriptorCount
        self.maxWeight = maxWeight
        layoutHash = FNV1a64.hash(layout.fingerprint)
        standardHash = FNV1a64.hash(layout.standardFingerprint)
    }

    /// The statistics of `batch`, and the number of lines it holds.
    /// - Throws: ``DecisionLogError/badRecord(path:line:problem:)`` for the first bad line,
    ///   numbered within the batch.
    package mutating func learn(_ batch: LogBatch) throws(DecisionLogError) -> (statistics: LoggedStatistics, lines: Int) {
        let d = contextCount * descriptorCount
        var statistics = LoggedStatistics(dimension: d)
        var x: [Double] = []
        var y: [Double] = []
        x.reserveCapacity(batch.bytes.count / 1000 * d)
        y.reserveCapacity(batch.bytes.count / 1000 * LoggedStatistics.targets)
        let lines = try batch.forEachLine { (line, number) throws(DecisionLogError) in
            do throws(LineProblem) { try parser.parse(line, into: &record) } catch {
                throw .badRecord(path: batch.path, line: number, problem: error.message)
            }
            guard record.features.count == contextCount else {
                throw .badRecord(path: batch.path, line: number, problem: "has \(record.features.count) context features, the schema has \(contextCount)")
            }
            guard (record.contextSchemaHash ?? standardHash) == layoutHash else {
                throw .badRecord(
                    path: batch.path, line: number,
                    problem: "its context_schema is not the layout \(layout.fingerprint) of \(layout.schema.history.map(\.rawValue).joined(separator: ",")): the log was written with other history features")
            }
            let weight = maxWeight.map { min($0, 1 / (Double(record.candidates.count) * record.probability)) } ?? 1
            let root = weight.squareRoot()
            let descriptors = PlanDescriptors(plan: record.chosenPlan)
            for i in 0..<contextCount {
                let scaled = root * record.features[i]
                for j in 0..<descriptorCount { x.append(scaled * descriptors[j]) }
            }
            y.append(root * record.reward)
            y.append(root * record.revenue)
            y.append(root * Double(record.ads))
            y.append(root * Double(record.negatives))
            y.append(root * Double(record.items))
            statistics.totals[0] += weight * record.revenue
            statistics.totals[1] += weight * Double(record.ads)
            statistics.totals[2] += weight * Double(record.negatives)
            statistics.totals[3] += weight * Double(record.items)
            if let user = record.simUser, statistics.users.count < LoggedStatistics.maxTrackedUsers { statistics.users.insert(user) }
            statistics.perDecision.append(record.reward)
            statistics.perDecision.append(weight)
        }
        let rows = statistics.perDecision.count / 2
        guard rows > 0 else { return (statistics, lines) }
        let features = Matrix(rows: rows, columns: d, elements: x)
        let targets = Matrix(rows: rows, columns: LoggedStatistics.targets, elements: y)
        var gram = Matrix.zeros(rows: d, columns: d)
        Kernels.gemm(features, transposeA: true, features, into: &gram)
        var products = Matrix.zeros(rows: d, columns: LoggedStatistics.targets)
        Kernels.gemm(features, transposeA: true, targets, into: &products)
        gram.withUnsafeBufferPointer { values in
            for index in 0..<(d * d) { statistics.a[index] = values[index] }
        }
        products.withUnsafeBufferPointer { values in
            for index in 0..<d {
                for target in 0..<LoggedStatistics.targets { statistics.b[target][index] = values[index * LoggedStatistics.targets + target] }
            }
        }
        return (statistics, lines)
    }
}

extension LoggedTraining {
    /// Learns the statistics of the logs at `paths` (importance weights capped at `maxWeight`,
    /// or all 1 when it is `nil`), in order, reading them as a stream:
    /// batches of lines are parsed and learned on `threads` workers and combined in log
    /// order, so the result does not depend on `threads`, and memory is bounded by the
    /// batches in flight, not by the logs.
    /// - Parameter progress: Called after each round of batches with the decisions and bytes read so far.
    /// - Throws: ``DecisionLogError`` naming the file and line of the first bad record.
    package static func statistics(
        paths: [String], schema: FeatureSchema, maxWeight: Double?, threads: Int,
        progress: ((_ decisions: Int, _ bytes: Int) -> Void)? = nil
    ) throws(DecisionLogError) -> LoggedStatistics {
        var total = LoggedStatistics(dimension: schema.contextCount * schema.descriptorCount)
        try DecisionLogBatches.forEachBlock(
            paths: paths, threads: threads, makeWorker: { LoggedBatchLearner(schema: schema, maxWeight: maxWeight) },
            work: { (learner: inout LoggedBatchLearner, batch, _) throws(DecisionLogError) in
                let learned = try learner.learn(batch)
                return (learned.statistics, learned.lines)
            },
            combine: { total.append($0) }, afterRound: { progress?(total.count, $0) })
        return total
    }
}
