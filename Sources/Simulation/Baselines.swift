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
    /// Latent-aware dynamic programming per user and session (``DynamicOracle``).
    case dynamicOracle
    /// A fixed cadence whose gap follows the pacing prices (``PricedCadencePolicy``).
    case pricedCadence(every: Int)

    /// The accepted spellings, for help and error messages.
    package static let usage = "none, fixed:every=K, priced:every=K, myopic, segment, best-plan, oracle:static, oracle:plan, oracle:dynamic"

    /// Parses `none`, `fixed:every=K`, `myopic`, `segment`, `best-plan`, `oracle:static`, `oracle:plan` or `oracle:dynamic`.
    package init(parsing text: String) throws(BaselineSpecError) {
        switch text {
        case "none": self = .none
        case "myopic": self = .myopic
        case "segment": self = .segment
        case "best-plan": self = .bestPlan
        case "oracle:plan": self = .planOracle
        case "oracle:dynamic": self = .dynamicOracle
        case "oracle:static", "oracle": self = .staticOracle
        default:
            let priced = text.hasPrefix("priced:every=")
            let prefix = priced ? "priced:every=" : "fixed:every="
            guard text.hasPrefix(prefix) else { throw BaselineSpecError(text: text, problem: "unknown policy") }
            let number = text.dropFirst(prefix.count)
            guard let k = Int(number), k >= 0, k <= AdPlan.maxPosition else {
                throw BaselineSpecError(text: text, problem: "K must be an integer in 0...\(AdPlan.maxPosition)")
            }
            self = priced ? .pricedCadence(every: k) : .fixed(every: k)
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
        case .dynamicOracle: "oracle:dynamic"
        case let .pricedCadence(k): "priced:every=\(k)"
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
        case .dynamicOracle: return DynamicOracle(model: runner.model, evaluation: evaluation)
        case let .pricedCadence(k): return PricedCadencePolicy(every: k, seed: evaluation.luckSeed)
        }
    }

    /// The catalog plan best for everyone in each region (regions have their own rules, so
    /// their own valid plans): per region, the spec valid there with the highest total
    /// objective of the region's users on a fresh training population and luck.
    package func bestPlanPolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> PlanPolicy {
        let catalog = runner.model.config.planCatalog()
        let all = catalog.allSpecs
        let training = freshTrainingSetup(evaluation)
        let perUser = try objectives(of: planCandidates(all, catalog: catalog), over: [training], name: "best-plan", progress: progress)
        let totals = sums(perUser, groups: runner.model.config.regions.count) {
            runner.model.user($0, populationSeed: training.populationSeed).region
        }
        let table = totals.enumerated().map { region, row in
            let valid = Set(catalog.specs(region: region))
            return all[Self.best(row, among: all.indices.filter { valid.contains(all[$0]) })]
        }
        return PlanPolicy(name: "best-plan", assignment: .byRegion(table), catalog: catalog)
    }

    /// Best catalog plan per user: the same users as `evaluation` (latent traits known), each
    /// spec valid in the user's region tried on training luck, so the evaluation luck stays
    /// held out.
    func planOraclePolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> PlanPolicy {
        let catalog = runner.model.config.planCatalog()
        let regionSpecs = runner.model.config.regions.indices.map { Set(catalog.specs(region: $0)) }
        let all = catalog.allSpecs
        let totals = try objectives(
            of: planCandidates(all, catalog: catalog), over: oracleSetups(evaluation), name: "oracle:plan", progress: progress)
        let table = totals.enumerated().map { user, row in
            let region = runner.model.user(user, populationSeed: evaluation.populationSeed).region
            return all[Self.best(row, among: row.indices.filter { regionSpecs[region].contains(all[$0]) })]
        }
        return PlanPolicy(name: "oracle:plan", assignment: .byUser(table), catalog: catalog)
    }

    /// Best fixed K per observable segment, chosen on a fresh training population.
    func segmentPolicy(
        evaluation: SimulationSetup, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationError) -> CadencePolicy {
        let training = freshTrainingSetup(evaluation)
        let perUser = try objectives(of: cadenceCandidates(), over: [training], name: "segment", progress: progress)
        let totals = sums(perUser, groups: runner.model.config.segmentCount) {
            runner.model.user($0, populationSeed: training.populationSeed).segment
        }
        let table: [Int?] = totals.map { row in
            row.allSatisfy { $0 == 0 } ? nil : grid[Self.best(row, among: row.indices)]
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
        let totals = try objectives(of: cadenceCandidates(), over: oracleSetups(evaluation), name: "oracle:static", progress: progress)
        let table: [Int?] = totals.map { row in grid[Self.best(row, among: row.indices)] }
        return CadencePolicy(name: "oracle:static", assignment: .byUser(table))
    }

    // MARK: Training by search

    /// A fresh population and luck, derived from the evaluation's seed (the non-personalized baselines).
    func freshTrainingSetup(_ evaluation: SimulationSetup) -> SimulationSetup {
        SimulationSetup(users: evaluation.users, days: evaluation.days, seed: Self.trainingSeed(for: evaluation.luckSeed))
    }

    /// The evaluation's own users under ``oracleReplications`` lucks derived from its seed
    /// (the latent-aware oracles: same users, held-out luck).
    func oracleSetups(_ evaluation: SimulationSetup) -> [SimulationSetup] {
        var luckSeed = Self.trainingSeed(for: evaluation.luckSeed)
        var setups: [SimulationSetup] = []
        for _ in 0..<oracleReplications {
            setups.append(SimulationSetup(
                users: evaluation.users, days: evaluation.days, populationSeed: evaluation.populationSeed, luckSeed: luckSeed))
            luckSeed = CounterRandom.mix(luckSeed)
        }
        return setups
    }

    /// The cadences of the grid, each with its name.
    func cadenceCandidates() -> [(label: String, policy: CadencePolicy)] {
        grid.map { ("fixed:every=\($0)", CadencePolicy.fixed(every: $0)) }
    }

    /// Each spec applied to every session.
    func planCandidates(_ specs: [PlanSpec], catalog: PlanCatalog) -> [(label: String, policy: PlanPolicy)] {
        specs.map { ("\($0)", PlanPolicy(name: "\($0)", assignment: .uniform($0), catalog: catalog)) }
    }

    /// Each user's objective under each candidate, summed over `setups` (the same users in
    /// each): `[user][candidate]`.
    func objectives<P: SessionPolicy>(
        of candidates: [(label: String, policy: P)], over setups: [SimulationSetup], name: String,
        progress: (@Sendable (String) -> Void)?
    ) throws(SimulationError) -> [[Double]] {
        var totals = Array(repeating: Array(repeating: 0.0, count: candidates.count), count: setups.first?.users ?? 0)
        for (replication, setup) in setups.enumerated() {
            let stage = setups.count > 1 ? "replication \(replication + 1)/\(setups.count)," : "training"
            for (column, candidate) in candidates.enumerated() {
                progress?("\(name): \(stage) \(candidate.label) (\(column + 1)/\(candidates.count))")
                for (user, outcome) in try runner.outcomes(candidate.policy, setup: setup).enumerated() {
                    totals[user][column] += outcome.objective
                }
            }
        }
        return totals
    }

    /// Per-user rows summed into `groups` rows by `group(user)`, in user order.
    func sums(_ perUser: [[Double]], groups: Int, group: (Int) -> Int) -> [[Double]] {
        var totals = Array(repeating: Array(repeating: 0.0, count: perUser.first?.count ?? 0), count: groups)
        for (user, row) in perUser.enumerated() {
            let target = group(user)
            for column in row.indices { totals[target][column] += row[column] }
        }
        return totals
    }

    /// The column of `row` with the largest value among `columns` (the first on a tie; 0 if none).
    static func best(_ row: [Double], among columns: some Sequence<Int>) -> Int {
        columns.max { row[$0] < row[$1] } ?? 0
    }
}
