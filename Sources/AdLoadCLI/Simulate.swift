import AdLoadCore
import ArgumentParser
import Foundation
import Policies
import Simulation
import Synchronization
import Training

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run policies on the environment model and compare them on the same users and luck.",
        discussion: """
        Policies: \(BaselineSpec.usage), or a policy file (a path ending in .json, written by \
        `adload train bandit`). fixed:every=K shows an ad after every K organic items (the first \
        after the session's first K); fixed:every=0 fills every allowed slot, the same as myopic. \
        best-plan and oracle:plan choose from the learners' own plan catalog; oracle:dynamic plans each \
        session from the true latent state (ENVMODEL.md, Oracle 2). Give --policy \
        several times to compare them side by side on the same users and luck (paired ratios \
        with 95% intervals, to the best fixed cadence when the run has a sweep of them, to the \
        first otherwise), or --compare for every baseline and a sweep of fixed cadences. \
        Trained policies act frozen (they do not learn during the run).
        """
    )

    @OptionGroup(title: "Environment and population")
    var simulation: SimulationOptions

    @Option(name: .customLong("policy"), help: "A policy to run (repeatable).")
    var policies: [String] = []

    @Flag(help: "Run none, myopic, fixed:every=K over the grid, segment, best-plan, oracle:static, oracle:plan and oracle:dynamic.")
    var compare = false

    @Option(help: "Seed of the evaluation users and luck (training uses a seed derived from it).")
    var seed: UInt64 = 7

    @Option(help: "Comma-separated cadences K for --compare and for training segment and oracle:static.")
    var grid = BaselineTrainer.defaultGrid.map(String.init).joined(separator: ",")

    @Option(help: "Training replications per user for oracle:static and oracle:plan.")
    var oracleReplications = 3

    @Option(help: "Override the environment's objective.engagement_weight (objective value per organic item watched).")
    var engagementWeight: Double?

    @Flag(help: "Run trained policies greedily (no exploration): the argmax of their mean reward.")
    var exploit = false

    @Option(help: "Write every decision of the (single) trained policy as JSON Lines to this file (format: docs/bandits.md).")
    var log: String?

    @Option(help: "Reward weights for --log, as name=value pairs (default: the policy file's).")
    var reward: String?

    @Option(help: "A targets file (docs/pacing.md): run the first --policy with the pacing controller in the loop, hourly prices per region, and report revenue, impressions and prices per region and day; further --policy values run unpaced on the same users and luck and are compared with it (revenue, survival, organic items per session, paired intervals).")
    var targets: String?

    @Option(help: "With --targets: write an SVG of attainment and prices over the days to this file.")
    var pacingPlot: String?

    @Flag(help: "Run a policy on an environment other than the one it was trained on (refused otherwise).")
    var allowEnvMismatch = false

    @Flag(help: "Print one JSON object on stdout instead of a table.")
    var json = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        guard oracleReplications >= 1 && oracleReplications <= 100 else {
            throw ValidationError("--oracle-replications must be in 1...100, got \(oracleReplications)")
        }
        guard !policies.isEmpty || compare else {
            throw ValidationError("give at least one --policy (\(BaselineSpec.usage)) or --compare")
        }
        _ = try parsedGrid()
        if let weight = engagementWeight, !(weight >= 0 && weight <= 1000) {
            throw ValidationError("--engagement-weight must be in 0...1000, got \(weight)")
        }
        for policy in policies where !Self.isPolicyFile(policy) {
            do { _ = try BaselineSpec(parsing: policy) } catch { throw ValidationError("\(error)") }
        }
        if log != nil {
            guard policies.filter(Self.isPolicyFile).count == 1, policies.count == 1, !compare else {
                throw ValidationError("--log needs exactly one --policy, a trained policy file, and no --compare")
            }
        }
        if let reward {
            do { _ = try RewardWeights(parsing: reward) } catch { throw ValidationError("--reward: \(error)") }
        }
        if let log { try checkWritable(log, option: "--log") }
        if targets != nil {
            guard !policies.isEmpty, !compare, log == nil else {
                throw ValidationError("--targets paces the first --policy and compares the others with it (no --compare, no --log)")
            }
        }
        if let pacingPlot {
            guard targets != nil else { throw ValidationError("--pacing-plot needs --targets") }
            try checkWritable(pacingPlot, option: "--pacing-plot")
        }
    }

    func parsedGrid() throws -> [Int] {
        let values = grid.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) >= 0 && ($0 ?? -1) <= AdPlan.maxPosition }) else {
            throw ValidationError("--grid must be comma-separated integers in 0...\(AdPlan.maxPosition), got '\(grid)'")
        }
        return values.compactMap { $0 }
    }

    func run() throws {
        prepareLinearAlgebra()
        var config: EnvironmentConfig
        config = try loadEnvironment(simulation.env)
        if let weight = engagementWeight { config.objective.engagementWeight = weight }
        let grid = try parsedGrid()
        var specs = try policies.map { text throws -> PolicyArgument in
            Self.isPolicyFile(text) ? .file(text) : .baseline(try BaselineSpec(parsing: text))
        }
        if compare {
            specs += ([.none, .myopic] + grid.map { .fixed(every: $0) } + [.segment, .bestPlan, .staticOracle, .planOracle, .dynamicOracle])
                .map(PolicyArgument.baseline)
        }
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: simulation.threads)
        let trainer = BaselineTrainer(runner: runner, grid: grid, oracleReplications: oracleReplications)
        let setup = SimulationSetup(users: simulation.users, days: simulation.days, seed: seed)
        let progress = Progress(enabled: !quiet)
        if let targets, let spec = specs.first {
            try runPaced(
                spec, alternatives: Array(specs.dropFirst()), targetsPath: targets, config: config, runner: runner, trainer: trainer,
                setup: setup, progress: progress)
            return
        }

        var reports: [SimulationReport] = []
        for (index, spec) in specs.enumerated() {
            let label = "[\(index + 1)/\(specs.count)] \(spec)"
            let report: SimulationReport
            switch spec {
            case let .baseline(baseline):
                let policy = try trainer.policy(baseline, evaluation: setup) { progress.note("\(label): \($0)") }
                var run = try runner.run(policy, setup: setup) { done in progress.note("\(label): \(done)/\(setup.users) users") }
                if let oracle = policy as? DynamicOracle { run.computedValuePerUser = oracle.computedValuePerUser() }
                report = run
            case let .file(path):
                report = try runTrained(path, config: config, setup: setup, progress: progress, label: label)
            }
            progress.finish(String(
                format: "%@: %d sessions in %.2f s (%.0f sessions/s)", label, report.sessions, report.elapsedSeconds,
                report.sessionsPerSecond))
            reports.append(report)
        }
        let comparison = Comparison(reports: reports)
        if json {
            print(reports.count == 1 ? reports[0].json : comparison.json(environment: config.name, file: simulation.env))
        } else {
            print("environment \(config.name) (\(simulation.env)), engagement weight \(config.objective.engagementWeight), "
                + "\(simulation.users) users × \(simulation.days) days, seed \(seed), \(simulation.threads) threads")
            print(comparison.table())
            print(comparison.legend())
        }
    }
}

extension Simulate {
    static func isPolicyFile(_ text: String) -> Bool { text.hasSuffix(".json") || text.contains("/") }

    /// `--targets`: one policy with the pacing controller in the loop, and the alternatives
    /// (blunt ways to the same revenue) unpaced on the same users and luck.
    func runPaced(
        _ spec: PolicyArgument, alternatives: [PolicyArgument], targetsPath: String, config: EnvironmentConfig,
        runner: SimulationRunner, trainer: BaselineTrainer, setup: SimulationSetup, progress: Progress
    ) throws {
        let targets: RevenueTargets
        do {
            targets = try RevenueTargets.load(path: targetsPath)
            try targets.validate(regions: config.regions.map(\.name), file: targetsPath)
        } catch {
            throw CLIError(error.description)
        }
        let paced = PacedSimulation(model: EnvironmentModel(config: config), targets: targets, threads: simulation.threads)
        let label = "\(spec) paced by \(targetsPath)"
        let dayProgress: @Sendable (Int) -> Void = { day in progress.note("\(label): day \(day)/\(setup.days)") }
        let result: (report: SimulationReport, days: [PacedDay])
        switch spec {
        case let .baseline(baseline):
            let policy = try trainer.policy(baseline, evaluation: setup) { progress.note("\(label): \($0)") }
            result = try paced.run(policy, setup: setup, progress: dayProgress)
        case let .file(path):
            result = try paced.run(try simulatedPolicy(path, config: config, setup: setup), setup: setup, progress: dayProgress)
        }
        progress.finish(String(format: "%@: %d sessions in %.2f s", label, result.report.sessions, result.report.elapsedSeconds))
        var others: [SimulationReport] = []
        for (index, alternative) in alternatives.enumerated() {
            let label = "[\(index + 1)/\(alternatives.count)] \(alternative), unpaced"
            let report: SimulationReport
            switch alternative {
            case let .baseline(baseline):
                let policy = try trainer.policy(baseline, evaluation: setup) { progress.note("\(label): \($0)") }
                report = try runner.run(policy, setup: setup) { done in progress.note("\(label): \(done)/\(setup.users) users") }
            case let .file(path):
                report = try runTrained(path, config: config, setup: setup, progress: progress, label: label)
            }
            progress.finish(String(format: "%@: %d sessions in %.2f s", label, report.sessions, report.elapsedSeconds))
            others.append(report)
        }
        let comparisons = others.map { PacingComparison(paced: result.report, alternative: $0) }
        if let pacingPlot {
            let svg = PacingOutput.svg(result.days, title: result.report.policy)
            do { try Data(svg.utf8).write(to: URL(fileURLWithPath: pacingPlot), options: .atomic) } catch {
                throw CLIError("\(pacingPlot): cannot write the plot (\(error.localizedDescription))")
            }
        }
        if json {
            let fields = result.report.jsonFields + [("targets", JSONValue.quoted(targetsPath)), ("pacing", PacingOutput.json(result.days))]
                + (comparisons.isEmpty ? [] : [("alternatives", "[" + comparisons.map(\.json).joined(separator: ", ") + "]")])
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            print("environment \(config.name) (\(simulation.env)), \(simulation.users) users × \(simulation.days) days, seed \(seed), targets \(targetsPath)")
            print(Comparison(reports: [result.report] + others).table())
            print(PacingOutput.table(result.days))
            if !comparisons.isEmpty { print(PacingComparison.table(comparisons)) }
        }
    }

    /// A trained policy file as the simulator runs it (greedy with --exploit), with a warning
    /// when `setup` is the policy's own training seed.
    func simulatedPolicy(_ path: String, config: EnvironmentConfig, setup: SimulationSetup) throws -> SimulatedPolicy {
        var file: any DecisionPolicy
        do { file = try PolicyFile.load(path: path, expectedSchema: config.featureSchema) } catch { throw CLIError(error.description) }
        try Preflight.checkEnvironment(file, file: path, config: config, configPath: simulation.env, allowed: allowEnvMismatch)
        if file.provenance.source == .simulation && file.provenance.seed == setup.luckSeed {
            FileHandle.standardError.write(Data("warning: \(path) was trained on seed \(setup.luckSeed); evaluate on another --seed\n".utf8))
        }
        if exploit { file = file.conservative() }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + (exploit ? " (greedy)" : "")
        return SimulatedPolicy(
            name: name, version: policyVersion(path), policy: file,
            catalog: PlanCatalog(family: file.planFamily, rules: config.regions.map(\.rules)), decisionSeed: setup.luckSeed)
    }

    /// Evaluates a trained policy file, frozen, on `setup` (logging every decision with --log).
    func runTrained(_ path: String, config: EnvironmentConfig, setup: SimulationSetup, progress: Progress, label: String) throws -> SimulationReport {
        let policy = try simulatedPolicy(path, config: config, setup: setup)
        let reward = policy.policy.reward
        let name = policy.name
        guard let log else {
            return try SimulationRunner(model: EnvironmentModel(config: config), threads: simulation.threads).run(policy, setup: setup) { done in
                progress.note("\(label): \(done)/\(setup.users) users")
            }
        }
        let weights: RewardWeights
        do {
            weights = try self.reward.map { try RewardWeights(parsing: $0) } ?? RewardWeights(dictionary: reward)
        } catch {
            throw CLIError("\(path): reward weights: \(error)")
        }
        let writer: DecisionLogWriter
        do { writer = try DecisionLogWriter(path: log) } catch { throw CLIError(error.description) }
        let result = try BanditRunner(model: EnvironmentModel(config: config), threads: simulation.threads).run(
            policy, setup: setup, reward: weights, learn: false, log: writer
        ) { step in progress.note("\(label): day \(step.day)/\(step.days), \(step.sessions) decisions logged") }
        do { try writer.close() } catch { throw CLIError(error.description) }
        progress.finish("\(label): wrote \(writer.count) decisions to \(log)")
        return SimulationReport(policy: name, setup: setup, outcomes: result.outcomes, elapsedSeconds: result.elapsedSeconds)
    }
}

/// The version of a policy file: its checksum field (the file has been verified on load).
func policyVersion(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path),
          case let .object(fields)? = try? JSONValue.parse(data, file: path),
          case let .string(checksum)? = fields["checksum"] else { return "unknown" }
    return checksum
}

/// A policy named on the command line: a baseline, or a trained policy file.
enum PolicyArgument: CustomStringConvertible {
    case baseline(BaselineSpec)
    case file(String)

    var description: String {
        switch self {
        case let .baseline(spec): spec.description
        case let .file(path): path
        }
    }
}

/// A user-facing failure: printed as one line, exit status 1, no stack trace.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Progress lines on stderr: rewritten in place on a terminal; when stderr is a pipe or a
/// file, one line every ``pipeInterval`` at most, so logs show progress without flooding.
final class Progress: Sendable {
    let enabled: Bool
    let terminal: Bool
    /// Least time between two progress lines when stderr is not a terminal.
    static let pipeInterval: Duration = .seconds(5)
    let lastLine = Mutex<ContinuousClock.Instant?>(nil)

    init(enabled: Bool) {
        self.enabled = enabled
        terminal = isatty(STDERR_FILENO) != 0
    }

    func note(_ line: String) {
        guard enabled else { return }
        if terminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            return
        }
        let now = ContinuousClock.now
        let due = lastLine.withLock { last in
            guard last.map({ now - $0 >= Self.pipeInterval }) ?? true else { return false }
            last = now
            return true
        }
        if due { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    func finish(_ line: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
    }
}
