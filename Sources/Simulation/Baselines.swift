import AdLoadCore

/// A baseline policy named on the command line.
package enum BaselineSpec: Sendable, Equatable, CustomStringConvertible {
    case none
    case fixed(every: Int)
    case myopic
    /// Best fixed K per observable segment, chosen on a training seed.
    case segment
    /// Best fixed K per user, chosen knowing the latent traits on a training seed.
    case staticOracle
    /// The catalog plan (the learners' actions) best for everyone in each region, chosen on a training seed.
    case bestPlan
    /// Best catalog plan per user, chosen knowing the latent traits on training luck.
    case planOracle

    /// The accepted spellings, for help and error messages.
    package static let usage = "none, fixed:every=K, myopic, segment, best-plan, oracle:static, oracle:plan"

    /// Parses `none`, `fixed:every=K`, `myopic`, `segment`, `best-plan`, `oracle:static` or `oracle:plan`.
    package init(parsing text: String) throws(BaselineSpecError) {
        switch text {
        case "none": self = .none
        case "myopic": self = .myopic
        case "segment": self = .segment
        case "best-plan": self = .bestPlan
        case "oracle:plan": self = .planOracle
        case "oracle:static", "oracle": self = .staticOracle
        default:
            let prefix = "fixed:every="
            guard text.hasPrefix(prefix) else { throw BaselineSpecError(text: text, problem: "unknown policy") }
            let number = text.dropFirst(prefix.count)
            guard let k = Int(number), k >= 0, k <= AdPlan.maxPosition else {
                throw BaselineSpecError(text: text, problem: "K must be an integer in 0...\(AdPlan.maxPosition)")
            }
            self = .fixed(every: k)
        }
    }

    package var description: String {
        switch self {
        case .none: "none"
        case let .fixed(k): "fixed:every=\(k)"
        case .myopic: "myopic"
        case .segment: "segment"
        case .staticOracle: "oracle:static"
        case .bestPlan: "best-plan"
        case .planOracle: "oracle:plan"
        }
    }
}

/// A policy name that does not parse.
package struct BaselineSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    package let text: String
    package let problem: String
    package var description: String { "policy '\(text)': \(problem) (expected one of \(BaselineSpec.usage))" }
}

/// Builds baseline policies, training the ones that need it (segment, oracle) on a
/// training seed distinct from the evaluation seed.
package struct BaselineTrainer: Sendable {
    package let runner: SimulationRunner
    /// The cadences K tried by the segment and oracle baselines and by the sweep.
    package let grid: [Int]
    /// Independent training replications per user for the oracle (averaged before argmax).
    package let oracleReplications: Int

    /// The default cadence grid: from every allowed slot's neighbourhood to very sparse.
    package static let defaultGrid = [2, 3, 4, 6, 8, 10, 12, 14, 17, 20, 25, 30, 40, 60]

    package init(runner: SimulationRunner, grid: [Int] = BaselineTrainer.defaultGrid, oracleReplications: Int = 3) {
        self.runner = runner
        self.grid = grid
        self.oracleReplications = max(1, oracleReplications)
    }

    /// The training seed paired with an evaluation seed.
    static func trainingSeed(for seed: UInt64) -> UInt64 {
        CounterRandom.mix(seed ^ 0x7472_6169_6E69_6E67) // "training"
    }

    /// The policy for `spec`, trained if needed for evaluation on `evaluation`.
    package func policy(
        _ spec: BaselineSpec, evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> any SessionPolicy {
        switch spec {
        case .none: return CadencePolicy.none
        case .myopic: return CadencePolicy.myopic
        case let .fixed(k): return CadencePolicy.fixed(every: k)
        case .segment: return try segmentPolicy(evaluation: evaluation, progress: progress)
        case .staticOracle: return try oraclePolicy(evaluation: evaluation, progress: progress)
        case .bestPlan: return try bestPlanPolicy(evaluation: evaluation, progress: progress)
        case .planOracle: return try planOraclePolicy(evaluation: evaluation, progress: progress)
        }
    }

    /// The catalog plan best for everyone in each region (regions have their own rules, so
    /// their own valid plans): per region, the spec valid there with the highest total
    /// objective of the region's users on a fresh training population and luck.
    func bestPlanPolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> PlanPolicy {
        let catalog = runner.model.config.planCatalog()
        let regions = runner.model.config.regions.indices
        let all = Self.allSpecs(catalog, regions: regions.count)
        let training = SimulationSetup(users: evaluation.users, days: evaluation.days, seed: Self.trainingSeed(for: evaluation.luckSeed))
        let regionOfUser = (0..<training.users).map { runner.model.user($0, populationSeed: training.populationSeed).region }
        var totals = Array(repeating: Array(repeating: 0.0, count: all.count), count: regions.count)
        for (column, spec) in all.enumerated() {
            progress?("best-plan: training \(spec) (\(column + 1)/\(all.count))")
            let policy = PlanPolicy(name: "best-plan", assignment: .uniform(spec), catalog: catalog)
            for (user, outcome) in try runner.outcomes(policy, setup: training).enumerated() {
                totals[regionOfUser[user]][column] += outcome.objective
            }
        }
        let table = regions.map { region in
            let valid = Set(catalog.specs(region: region))
            let columns = all.indices.filter { valid.contains(all[$0]) }
            return all[columns.max { totals[region][$0] < totals[region][$1] } ?? 0]
        }
        return PlanPolicy(name: "best-plan", assignment: .byRegion(table), catalog: catalog)
    }

    /// Every spec valid in some region, the empty one first, in catalog order.
    static func allSpecs(_ catalog: PlanCatalog, regions: Int) -> [PlanSpec] {
        var all: [PlanSpec] = []
        for region in 0..<regions {
            for spec in catalog.specs(region: region) where !all.contains(spec) { all.append(spec) }
        }
        return all
    }

    /// Best catalog plan per user: the same users as `evaluation` (latent traits known), each
    /// spec valid in the user's region tried on training luck, so the evaluation luck stays
    /// held out.
    func planOraclePolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> PlanPolicy {
        let catalog = runner.model.config.planCatalog()
        let regionSpecs = runner.model.config.regions.indices.map { Set(catalog.specs(region: $0)) }
        let all = Self.allSpecs(catalog, regions: regionSpecs.count)
        let regionOfUser = (0..<evaluation.users).map { runner.model.user($0, populationSeed: evaluation.populationSeed).region }
        var totals = Array(repeating: Array(repeating: 0.0, count: all.count), count: evaluation.users)
        var luckSeed = Self.trainingSeed(for: evaluation.luckSeed)
        for replication in 0..<oracleReplications {
            let training = SimulationSetup(
                users: evaluation.users, days: evaluation.days, populationSeed: evaluation.populationSeed, luckSeed: luckSeed)
            for (column, spec) in all.enumerated() {
                progress?("oracle:plan: replication \(replication + 1)/\(oracleReplications), \(spec) (\(column + 1)/\(all.count))")
                let policy = PlanPolicy(name: "oracle:plan", assignment: .uniform(spec), catalog: catalog)
                for (user, outcome) in try runner.outcomes(policy, setup: training).enumerated() {
                    totals[user][column] += outcome.objective
                }
            }
            luckSeed = CounterRandom.mix(luckSeed)
        }
        let table = totals.enumerated().map { user, row in
            let valid = row.indices.filter { regionSpecs[regionOfUser[user]].contains(all[$0]) }
            return all[valid.max { row[$0] < row[$1] } ?? 0]
        }
        return PlanPolicy(name: "oracle:plan", assignment: .byUser(table), catalog: catalog)
    }

    /// Best fixed K per observable segment, chosen on a fresh training population.
    func segmentPolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> CadencePolicy {
        let trainingSeed = Self.trainingSeed(for: evaluation.luckSeed)
        let training = SimulationSetup(users: evaluation.users, days: evaluation.days, seed: trainingSeed)
        let segments = runner.model.config.segmentCount
        var totals = Array(repeating: Array(repeating: 0.0, count: grid.count), count: segments)
        for (column, k) in grid.enumerated() {
            progress?("segment: training fixed:every=\(k) (\(column + 1)/\(grid.count))")
            let outcomes = try runner.outcomes(CadencePolicy.fixed(every: k), setup: training)
            for (index, outcome) in outcomes.enumerated() {
                let segment = runner.model.user(index, populationSeed: training.populationSeed).segment
                totals[segment][column] += outcome.objective
            }
        }
        let table: [Int?] = totals.map { row in
            row.allSatisfy { $0 == 0 } ? nil : grid[row.indices.max { row[$0] < row[$1] } ?? 0]
        }
        // A segment never seen in training falls back to the best global cadence.
        let global = grid[grid.indices.max { column, other in
            totals.reduce(0) { $0 + $1[column] } < totals.reduce(0) { $0 + $1[other] }
        } ?? 0]
        return CadencePolicy(name: "segment", assignment: .bySegment(table.map { $0 ?? global }))
    }

    /// Best fixed K per user: the same users as `evaluation` (latent traits known), chosen on
    /// training luck, so the evaluation luck stays held out.
    func oraclePolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> CadencePolicy {
        var totals = Array(repeating: Array(repeating: 0.0, count: grid.count), count: evaluation.users)
        var luckSeed = Self.trainingSeed(for: evaluation.luckSeed)
        for replication in 0..<oracleReplications {
            let training = SimulationSetup(
                users: evaluation.users, days: evaluation.days, populationSeed: evaluation.populationSeed, luckSeed: luckSeed)
            for (column, k) in grid.enumerated() {
                progress?("oracle:static: replication \(replication + 1)/\(oracleReplications), fixed:every=\(k) (\(column + 1)/\(grid.count))")
                let outcomes = try runner.outcomes(CadencePolicy.fixed(every: k), setup: training)
                for (user, outcome) in outcomes.enumerated() { totals[user][column] += outcome.objective }
            }
            luckSeed = CounterRandom.mix(luckSeed)
        }
        let table: [Int?] = totals.map { row in grid[row.indices.max { row[$0] < row[$1] } ?? 0] }
        return CadencePolicy(name: "oracle:static", assignment: .byUser(table))
    }
}
