import AdLoadCore
import ArgumentParser
import Dispatch
import Foundation
import Policies
import Simulation
import Synchronization
import Training

/// How the inspection commands run: the seed, threads, environment check and progress.
struct InspectionRunOptions: ParsableArguments {
    @Option(help: "Seed of the users, their luck and the policies' own randomization (and of the bootstrap of --logs intervals).")
    var seed: UInt64 = InspectionDefaults.seed

    @Option(parsing: .unconditional, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Run a policy on an environment other than the one it was trained on (refused otherwise).")
    var allowEnvMismatch = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        try checkRange("--threads", threads, 1...1024)
    }
}

/// The simulation `policy uplift` and `policy report` run on (docs/inspection.md): an
/// environment, a population and its luck, small enough by default for an interactive user.
struct InspectionSimulationOptions: ParsableArguments {
    @Option(help: "Environment preset: a configuration file, or the name of one in env/ (default is env/default.json).")
    var env: String

    @Option(parsing: .unconditional, help: "Simulated users.")
    var users = InspectionDefaults.users

    @Option(parsing: .unconditional, help: "Simulated days per user.")
    var days = InspectionDefaults.days

    @OptionGroup
    var execution: InspectionRunOptions

    func validate() throws {
        try checkPopulation(users: users, days: days)
    }

    /// The population and luck.
    var setup: SimulationSetup { SimulationSetup(users: users, days: days, seed: execution.seed) }

    /// The environment and the policy file `file` on it, ready to run.
    func prepare(_ file: String) throws -> InspectionSetup {
        let envPath = environmentPath(env)
        let config = try loadEnvironment(envPath)
        let policy = try inspectedPolicy(file, config: config, envPath: envPath, seed: execution.seed, allowEnvMismatch: execution.allowEnvMismatch)
        return InspectionSetup(
            envPath: envPath, config: config, policy: policy, setup: setup,
            runner: InspectionRunner(model: EnvironmentModel(config: config), threads: execution.threads), progress: Progress(enabled: !execution.quiet))
    }
}

/// An environment, a policy file simulated on it, and how to run it: what `uplift` and `report` start from.
struct InspectionSetup {
    let envPath: String
    let config: EnvironmentConfig
    let policy: SimulatedPolicy
    let setup: SimulationSetup
    let runner: InspectionRunner
    let progress: Progress

    /// The policy as is, with progress.
    func runAsIs() throws -> InspectionRun {
        let run = try runner.run(policy, setup: setup) { progress.note("\(policy.name) as is: \($0)/\(setup.users) users") }
        progress.finish(String(format: "%@ as is: %d sessions in %.1f s", policy.name, run.report.sessions, run.report.elapsedSeconds))
        return run
    }

    /// One more ad per session on the same users and luck, compared with `asIs`.
    func uplift(asIs: InspectionRun) throws -> UpliftAnalysis {
        try UpliftAnalysis(asIs: asIs, policy: policy, runner: runner, config: config, progress: progress)
    }
}

/// Defaults of the simulating inspection commands: a few seconds per policy run.
enum InspectionDefaults {
    static let users = 3000
    static let days = 30
    static let seed: UInt64 = 7
    /// The day retention is measured at (survival to it), or the horizon when shorter.
    static let retentionDay = 30
    /// The most users `policy report` trains best-plan on (its training population is
    /// derived from the seed, as in `simulate`).
    static let bestPlanTrainingUsers = 1000
}

/// The range errors of the simulated population's options.
func checkPopulation(users: Int, days: Int) throws {
    try checkRange("--users", users, 2...10_000_000)
    try checkRange("--days", days, 1...3650)
}

/// `--env`: a path, or the name of a preset in env/ (`default` is env/default.json).
func environmentPath(_ preset: String) -> String {
    preset.contains("/") || preset.hasSuffix(".json") ? preset : "env/\(preset).json"
}

/// A policy file as the inspection commands simulate it: checked against the environment
/// (refused on another one unless allowed), deciding with the run's seed.
func inspectedPolicy(_ path: String, config: EnvironmentConfig, envPath: String, seed: UInt64, allowEnvMismatch: Bool) throws -> SimulatedPolicy {
    let file: any DecisionPolicy
    do { file = try PolicyFile.load(path: path, expectedSchema: config.featureSchema) } catch { throw CLIError(error.description) }
    try Preflight.checkEnvironment(file, file: path, config: config, configPath: envPath, allowed: allowEnvMismatch)
    return SimulatedPolicy(
        name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, version: policyVersion(path), policy: file,
        catalog: PlanCatalog(family: file.planFamily, rules: config.regions.map(\.rules)), decisionSeed: seed)
}

/// The same policy deciding greedily (its most likely plan), with the same catalog and seed.
func greedyVersion(of policy: SimulatedPolicy) -> SimulatedPolicy {
    SimulatedPolicy(
        name: policy.name + " (greedy)", version: policy.version, policy: policy.policy.conservative(), catalog: policy.catalog,
        decisionSeed: policy.decisionSeed)
}

/// The observable segments of an environment (region × device × tenure), in
/// ``UserProfile/segment`` order, named `region/device/tenure`.
func segmentNames(_ config: EnvironmentConfig) -> [String] {
    config.regions.flatMap { region in
        config.devices.flatMap { device in config.tenures.map { "\(region.name)/\(device.name)/\($0.name)" } }
    }
}

/// Buckets of what the service knows about a user at a session's start, for breakdowns.
enum HistoryBuckets {
    /// The breakdowns' names (JSON keys) and bucket labels.
    static let kinds: [(name: String, labels: [String])] = [
        ("sessions_so_far", ["0", "1-4", "5-19", "20+"]),
        ("ads_today", ["0", "1-4", "5-14", "15+"]),
        ("recent_negatives", ["0", "(0,1)", "[1,3)", "3+"]),
    ]

    /// The bucket of each kind: sessions before this one, ads already seen today, and the
    /// 7-day decayed count of negative reactions (hides, reports, fast skips).
    static func buckets(totalSessions: Int, adsToday: Int, recentNegatives: Double) -> InlineArray<3, UInt8> {
        let sessions: UInt8 = totalSessions == 0 ? 0 : totalSessions < 5 ? 1 : totalSessions < 20 ? 2 : 3
        let ads: UInt8 = adsToday == 0 ? 0 : adsToday < 5 ? 1 : adsToday < 15 ? 2 : 3
        let negatives: UInt8 = recentNegatives <= 0 ? 0 : recentNegatives < 1 ? 1 : recentNegatives < 3 ? 2 : 3
        return [sessions, ads, negatives]
    }
}

/// A session's decider whose per-session plan the inspection runner can read.
protocol InspectableDecider: AdDecider {
    /// The plan of the session.
    var plannedAds: AdPlan { get }
    /// Whether the policy wanted to add an ad to its plan and the placement rules left no room.
    var extraAdRefused: Bool { get }
}

extension PlanDecider: InspectableDecider {
    var plannedAds: AdPlan { plan }
    var extraAdRefused: Bool { false }
}

/// One simulated session, as the inspection commands summarize it.
struct InspectedSession: Sendable {
    /// Ads the user saw (the session may end before the plan's later ads).
    var adsShown: Int
    /// The plan's first ad position (0 for a plan without ads).
    var firstAd: Int
    /// ``HistoryBuckets/buckets(totalSessions:adsToday:recentNegatives:)`` at the session's start.
    var buckets: InlineArray<3, UInt8>
    /// Whether the compared policy would choose another plan here (`policy diff`).
    var differs: Bool
    /// Whether the two policies' most likely plans differ here (`policy diff`).
    var greedyDiffers: Bool
    /// Whether the policy's extra ad found no room (`policy uplift`).
    var extraAdRefused: Bool
}

/// One simulated user, as the inspection commands summarize it.
struct InspectedUser: Sendable {
    /// ``UserProfile/segment``.
    var segment = 0
    var sessions: [InspectedSession] = []
    /// The start of the session after which the user churned, in days (`nil`: never churned).
    var churnTime: Double?

    /// Whether the user was still there at day `day` (the last session at or after it, or no churn).
    func retained(to day: Double) -> Bool { churnTime.map { $0 >= day } ?? true }
}

/// A policy run with its per-user and per-session summaries.
struct InspectionRun: Sendable {
    let report: SimulationReport
    let users: [InspectedUser]

    /// Sessions in user order.
    var sessions: [InspectedSession] { users.flatMap(\.sessions) }

    /// Share of users retained at each day 1...days.
    func survivalCurve(days: Int) -> [Double] {
        (1...max(1, days)).map { day in Double(users.count(where: { $0.retained(to: Double(day)) })) / Double(max(1, users.count)) }
    }
}

/// What `policy diff` asks at each of a run's sessions: what another policy would choose
/// (with the same decision random stream), and whether both policies' greedy plans differ.
struct DecisionShadow: Sendable {
    let other: SimulatedPolicy
    let greedySelf: SimulatedPolicy
    let greedyOther: SimulatedPolicy
}

/// Runs a policy in the environment model like ``SimulationRunner`` (same users, same luck,
/// same outcomes), keeping a summary of every session.
struct InspectionRunner: Sendable {
    let model: EnvironmentModel
    let threads: Int

    /// Simulates every user of `setup` under `policy`.
    /// - Parameters:
    ///   - shadow: asked at every session (`policy diff`).
    ///   - progress: called from worker threads with the number of users finished so far.
    func run<P: SessionPolicy>(
        _ policy: P, setup: SimulationSetup, shadow: DecisionShadow? = nil, progress: (@Sendable (Int) -> Void)? = nil
    ) throws -> InspectionRun where P.Worker.Decider: InspectableDecider {
        let clock = ContinuousClock()
        let start = clock.now
        let chunkSize = 16
        let chunkCount = (setup.users + chunkSize - 1) / chunkSize
        let nextChunk = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let results = Mutex<[(UserOutcome, InspectedUser)]>(Array(repeating: (UserOutcome(), InspectedUser()), count: setup.users))
        let failure = Mutex<SimulationError?>(nil)
        let model = self.model
        DispatchQueue.concurrentPerform(iterations: min(threads, max(1, chunkCount))) { _ in
            var worker = policy.makeWorker()
            var shadows = shadow.map { ($0.other.makeWorker(), $0.greedySelf.makeWorker(), $0.greedyOther.makeWorker()) }
            while true {
                let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                if chunk >= chunkCount || failure.withLock({ $0 != nil }) { return }
                let range = (chunk * chunkSize)..<min(setup.users, (chunk + 1) * chunkSize)
                var local: [(UserOutcome, InspectedUser)] = []
                do throws(SimulationError) {
                    for index in range {
                        let user = model.user(index, populationSeed: setup.populationSeed)
                        var trajectory = model.startTrajectory(user, luckSeed: setup.luckSeed, days: setup.days)
                        var inspected = InspectedUser(segment: user.segment)
                        while trajectory.isActive {
                            let context = model.context(of: trajectory)
                            var decider = worker.beginSession(context)
                            let plan = decider.plannedAds
                            var differs = false, greedyDiffers = false
                            if var workers = shadows {
                                differs = workers.0.beginSession(context).plan != plan
                                greedyDiffers = workers.1.beginSession(context).plan != workers.2.beginSession(context).plan
                                shadows = workers
                            }
                            let history = context.history
                            let outcome = try model.step(&trajectory, decider: &decider, policyName: policy.name)
                            inspected.sessions.append(InspectedSession(
                                adsShown: outcome.ads, firstAd: plan.positions.first ?? 0,
                                buckets: HistoryBuckets.buckets(
                                    totalSessions: history.totalSessions, adsToday: context.adsToday, recentNegatives: history.week.negatives),
                                differs: differs, greedyDiffers: greedyDiffers, extraAdRefused: decider.extraAdRefused))
                            if outcome.churned { inspected.churnTime = outcome.time }
                        }
                        local.append((trajectory.outcome, inspected))
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
                results.withLock { all in
                    for (offset, result) in local.enumerated() { all[range.lowerBound + offset] = result }
                }
                progress?(finished.add(range.count, ordering: .relaxed).newValue)
            }
        }
        if let error = failure.withLock({ $0 }) { throw CLIError(error.description) }
        let all = results.withLock { $0 }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return InspectionRun(
            report: SimulationReport(policy: policy.name, setup: setup, outcomes: all.map(\.0), elapsedSeconds: seconds),
            users: all.map(\.1))
    }
}

/// A paired difference as JSON: `{"reference": …, "candidate": …, "difference": …, "ci95": [low, high]}`.
func pairedJSON(_ difference: PairedDifference?) -> String {
    guard let difference else { return "null" }
    let number = JSONNumber.json
    let (low, high) = difference.interval95
    return "{\"reference\": \(number(difference.reference)), \"candidate\": \(number(difference.reference + difference.difference)), "
        + "\"difference\": \(number(difference.difference)), \"ci95\": [\(number(low)), \(number(high))]}"
}

/// `+0.0123 [+0.0101, +0.0145]`, or `-`.
func pairedCell(_ difference: PairedDifference?, format: String = "%+.4f") -> String {
    guard let difference else { return "-" }
    let (low, high) = difference.interval95
    return String(format: "\(format) [\(format), \(format)]", difference.difference, low, high)
}

/// The normal quantile of a two-sided 95% interval (as ``PairedDifference/interval95`` uses).
let normalQuantile95 = 1.959_963_984_540_054

/// Share of `part` in `whole` (0 for an empty whole).
func fraction(_ part: Int, of whole: Int) -> Double { whole == 0 ? 0 : Double(part) / Double(whole) }

/// A decision log read for a target policy's schema, with the estimators' inputs of `policy`,
/// or a one-line error naming the log.
func offPolicyEvaluation(
    _ policy: any DecisionPolicy, logs: String, seed: UInt64, progress: Progress
) throws -> (records: [LoggedRecord], evaluation: PolicyEvaluation) {
    let records: [LoggedRecord]
    do {
        try DecisionLogReader.checkLayout(path: logs, schema: policy.schema)
        records = try DecisionLogReader.read(path: logs) { progress.note("\(logs): \($0) decisions read") }
    } catch {
        throw CLIError(error.description)
    }
    progress.finish("\(logs): \(records.count) decisions read")
    do { return (records, try PolicyEvaluation(target: policy, records: records, decisionSeed: seed)) } catch { throw CLIError("\(logs): \(error)") }
}

/// Refuses a `--logs` path that is not a readable file.
func checkReadable(_ path: String, option: String) throws {
    guard FileManager.default.isReadableFile(atPath: path) else {
        throw ValidationError("\(option) \(path): no such readable file")
    }
}

/// Columns padded to their widest cell, the first left-aligned, the others right-aligned.
func alignedTable(headers: [String], rows: [[String]]) -> String {
    let all = [headers] + rows
    let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[column] - cell.count) + cell
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
