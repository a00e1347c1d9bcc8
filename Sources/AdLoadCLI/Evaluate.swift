import AdLoadCore
import ArgumentParser
import Foundation
import Policies
import Simulation
import Training

/// `evaluate --format`: our decision logs, or rows that already carry the target's probabilities.
enum EvaluationLogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case adload, generic
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate a policy's value from logged decisions (IPS, SNIPS, DM, DR, switch-DR).",
        discussion: """
        The value is the mean per-decision reward the target would earn on the logged \
        contexts. Each estimate comes with a bootstrap 95% interval and the effective sample \
        size of its importance weights. Without --env the logs are read as a stream, twice (the \
        reward model, then the estimators, with a Poisson bootstrap), in memory that does not \
        grow with them, on --threads workers. With --env, logs written by `adload simulate --log` \
        also give the target's true value: every logged session is replayed in the environment \
        model under each plan the target might choose, with the session's own luck; that holds \
        the log in memory and resamples decisions with a multinomial bootstrap.
        """)

    @Option(help: "The target policy file (not with --format generic, whose rows carry the target's probabilities).")
    var policy: String?

    @Option(help: ArgumentHelp(
        "The logs' format: adload (decision logs) or generic (reward, propensity and target probability per row; docs/interop.md).",
        valueName: "format"))
    var format: EvaluationLogFormat = .adload

    @Option(help: ArgumentHelp(
        "The decision log (JSON Lines, from `adload simulate --log` or the service); repeat it, or quote a glob, for several.",
        valueName: "log"))
    var logs: [String] = []

    @Option(help: "Environment-model configuration: also compute the target's true value by simulation.")
    var env: String?

    @Option(help: "Bootstrap replicates.")
    var bootstrap = BootstrapConfiguration.defaultReplicates

    @Option(help: "Switch-DR threshold τ on the importance weight.")
    var switchThreshold = OffPolicyEstimator.defaultSwitchThreshold

    @Option(help: "Seed of the target's own randomization and of the bootstrap.")
    var seed: UInt64 = 7

    @Flag(help: "Evaluate the target greedily (no exploration).")
    var exploit = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Run a policy on an environment other than the one it was trained on (refused otherwise).")
    var allowEnvMismatch = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Sharding, round 1: write the logs' reward-model statistics here and stop.", valueName: "file"))
    var emitModelStats: String?

    @Option(help: ArgumentHelp("Sharding, round 2: the reward model from these statistics (every shard's round-1 file) instead of the logs.", valueName: "file"))
    var modelStats: [String] = []

    @Option(help: ArgumentHelp("Sharding, round 2: write the estimators' sums here instead of a report (with --model-stats).", valueName: "file"))
    var emitStats: String?

    @Option(help: "Sharding: this shard's number (keys its bootstrap draws; every shard needs its own).")
    var shard: UInt64 = 0

    @Option(help: ArgumentHelp("Sharding, last step: the report from these round-2 sums instead of logs.", valueName: "file"))
    var merge: [String] = []

    func validate() throws {
        guard shard < 1 << 24 else { throw ValidationError("--shard must be below 16777216, got \(shard)") }
        if !merge.isEmpty {
            guard format == .adload, policy != nil else { throw ValidationError("--merge needs --policy (the target the shards evaluated), and our log format") }
            guard logs.isEmpty, env == nil, emitModelStats == nil, emitStats == nil, modelStats.isEmpty else {
                throw ValidationError("--merge takes the round-2 sums only: no --logs, --env, --model-stats or --emit options")
            }
            return
        }
        guard !logs.isEmpty else { throw ValidationError("--logs is required (or --merge)") }
        if format == .generic {
            guard policy == nil, env == nil, !exploit, emitModelStats == nil, emitStats == nil, modelStats.isEmpty else {
                throw ValidationError("--format generic reads the target's probabilities from the rows: no --policy, --env, --exploit or sharding options")
            }
        } else if policy == nil {
            throw ValidationError("--policy is required (the target policy file), unless --format generic")
        }
        if emitModelStats != nil || emitStats != nil || !modelStats.isEmpty {
            guard env == nil else { throw ValidationError("sharded evaluation streams the logs: --env does not apply") }
            guard emitModelStats == nil || (emitStats == nil && modelStats.isEmpty) else {
                throw ValidationError("--emit-model-stats is round 1; --model-stats and --emit-stats are round 2")
            }
            guard emitStats == nil || !modelStats.isEmpty else { throw ValidationError("--emit-stats needs --model-stats (every shard's round-1 file)") }
        }
        guard env == nil || logs.count == 1 else { throw ValidationError("--env evaluates one log (it replays its sessions), got \(logs.count)") }
        guard bootstrap >= 2 && bootstrap <= 100_000 else { throw ValidationError("--bootstrap must be in 2...100000, got \(bootstrap)") }
        guard switchThreshold >= 0 else { throw ValidationError("--switch-threshold must be ≥ 0, got \(switchThreshold)") }
        guard threads >= 1 && threads <= 1024 else { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
    }

    func run() throws {
        prepareLinearAlgebra()
        if format == .generic {
            try runGeneric()
            return
        }
        guard let policy else { throw ValidationError("--policy is required (the target policy file), unless --format generic") }
        let config = try env.map(loadEnvironment)
        var target: any DecisionPolicy
        do { target = try PolicyFile.load(path: policy, expectedSchema: config?.featureSchema) } catch { throw CLIError(error.description) }
        if let config, let env {
            try Preflight.checkEnvironment(target, file: policy, config: config, configPath: env, allowed: allowEnvMismatch)
        }
        let progress = Progress(enabled: !quiet)
        if !merge.isEmpty {
            try printMerged(target: target)
            return
        }
        let paths = try expandLogPaths(logs)
        let source = paths.joined(separator: ", ")
        if exploit { target = target.conservative() }
        let report: OffPolicyReport
        let loggedValue: Double
        let decisions: Int
        var truth: Double?
        if let config, let log = paths.first {
            let records: [LoggedRecord]
            do {
                try DecisionLogReader.checkLayout(path: log, schema: target.schema)
                records = try DecisionLogReader.read(path: log) { progress.note("\(log): \($0) decisions read") }
            } catch {
                throw CLIError(error.description)
            }
            progress.finish("\(log): \(records.count) decisions read")
            let evaluation: PolicyEvaluation
            do {
                evaluation = try PolicyEvaluation(target: target, records: records, decisionSeed: seed)
                report = try OffPolicyReport(
                    decisions: evaluation.decisions, switchThreshold: switchThreshold,
                    bootstrap: BootstrapConfiguration(replicates: bootstrap, seed: seed))
                truth = try evaluation.trueValue(model: EnvironmentModel(config: config), records: records, threads: threads)
            } catch {
                throw CLIError("\(log): \(error)")
            }
            loggedValue = records.reduce(0) { $0 + $1.reward } / Double(records.count)
            decisions = records.count
        } else {
            let clock = ContinuousClock()
            let started = clock.now
            let configuration = BootstrapConfiguration(replicates: bootstrap, seed: seed)
            let totalBytes = paths.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? nil ?? 0) }
            // Two passes over the logs unless the reward model comes from --model-stats.
            let passes = modelStats.isEmpty && emitModelStats == nil ? 2 : 1
            var pass = 1
            let showProgress: (Int, Int) -> Void = { decisions, bytes in
                let seconds = (clock.now - started).seconds
                let done = Double((pass - 1) * totalBytes + bytes) / Double(max(1, passes * totalBytes))
                progress.note(String(
                    format: "pass %d of %d: %d decisions (%.0f/s), %.0f%% of %@ read, ETA %.0f s", pass, passes, decisions,
                    Double(decisions) / max(seconds / Double(pass), 1e-9), 100 * Double(bytes) / Double(max(1, totalBytes)), byteCount(totalBytes),
                    done > 0 ? seconds * (1 - done) / done : 0))
            }
            do {
                let model: LoggedStatistics
                if modelStats.isEmpty {
                    model = try StreamedEvaluation.modelStatistics(paths: paths, schema: target.schema, threads: threads, progress: showProgress)
                    pass = 2
                    if let emitModelStats {
                        try writeText(StreamedEvaluation.modelText(model, contextFingerprint: target.schema.contextFingerprint), to: emitModelStats)
                        progress.finish("\(model.count) decisions read")
                        print(json ? "{\"model_statistics\": \(JSONValue.quoted(emitModelStats)), \"decisions\": \(model.count)}" : "wrote \(emitModelStats)")
                        return
                    }
                } else {
                    model = try loadModelStatistics(schema: target.schema)
                }
                let theta = try StreamedEvaluation.theta(model)
                let sums = try StreamedEvaluation.sums(
                    target: target, paths: paths, theta: theta, switchThreshold: switchThreshold, bootstrap: configuration, decisionSeed: seed,
                    threads: threads, shard: shard, progress: showProgress)
                if let emitStats {
                    let settings = StreamedEvaluation.ShardSettings(
                        policyVersion: policyVersion(policy), seed: seed, replicates: bootstrap, switchThreshold: switchThreshold, theta: theta)
                    try writeText(StreamedEvaluation.sumsText(sums, settings: settings, shard: shard), to: emitStats)
                    progress.finish("\(sums.count) decisions evaluated")
                    print(json ? "{\"statistics\": \(JSONValue.quoted(emitStats)), \"decisions\": \(sums.count)}" : "wrote \(emitStats)")
                    return
                }
                (report, loggedValue) = try StreamedEvaluation.report(sums, switchThreshold: switchThreshold, bootstrap: configuration)
            } catch let error as DecisionLogError {
                throw CLIError(error.description + (error.isLayoutMismatch ? "; the log was written with other features than the policy's" : ""))
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("\(source): \(error)")
            }
            decisions = report.n
            let seconds = (clock.now - started).seconds
            progress.finish(String(format: "evaluated %d decisions in %.1f s (%.0f decisions/s, two passes)", decisions, seconds, Double(decisions) / max(1e-9, seconds)))
        }
        try printReport(report, loggedValue: loggedValue, decisions: decisions, source: source, truth: truth)
    }

    /// `--format generic`: the estimators on rows that carry the target's probabilities,
    /// with the multinomial bootstrap of the in-memory evaluation (`--env`'s); DM, DR and
    /// switch-DR only when the rows carry predictions.
    func runGeneric() throws {
        let paths = try expandLogPaths(logs)
        let log: GenericLog
        do { log = try GenericLog.read(paths: paths) } catch { throw CLIError(error.description) }
        let report: OffPolicyReport
        do {
            report = try OffPolicyReport(
                decisions: log.decisions, switchThreshold: switchThreshold, bootstrap: BootstrapConfiguration(replicates: bootstrap, seed: seed))
        } catch {
            throw CLIError("\(paths.joined(separator: ", ")): \(error)")
        }
        try printReport(
            report, loggedValue: log.loggedValue, decisions: log.decisions.count, source: paths.joined(separator: ", "), truth: nil,
            only: log.estimatorNames)
    }

    /// Prints the estimates as a table, or as one JSON object (only those in `only`, when given).
    func printReport(_ report: OffPolicyReport, loggedValue: Double, decisions: Int, source: String, truth: Double?, only: Set<String>? = nil) throws {
        let policy = self.policy ?? "the rows' target probabilities"
        if json {
            var fields = ["\"policy\": \(JSONValue.quoted(policy))", "\"logs\": \(JSONValue.quoted(source))", "\"decisions\": \(decisions)",
                          "\"logged_value\": \(loggedValue)", "\"estimates\": \(report.json(only: only))"]
            if let truth { fields.append("\"true_value\": \(truth)") }
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("target \(policy)\(exploit ? " (greedy)" : ""), \(decisions) logged decisions from \(source)")
            print(String(format: "logging policy's mean reward: %.6f", loggedValue))
            print(report.table(only: only))
            if only.map({ $0.count < report.estimates.count }) == true {
                print("DM, DR and switch-DR need reward-model predictions in the rows (docs/interop.md)")
            }
            if let truth {
                print(String(format: "true value by simulation: %.6f", truth))
                for estimate in report.estimates {
                    print(String(format: "  %@ error: %+.2f%%%@", estimate.name, (estimate.value / truth - 1) * 100,
                                 estimate.covers(truth) ? " (interval covers the truth)" : ""))
                }
            }
        }
    }

    /// The reward model's statistics from every shard's round-1 file, added up.
    func loadModelStatistics(schema: FeatureSchema) throws -> LoggedStatistics {
        var total: LoggedStatistics?
        for path in modelStats {
            let loaded: (statistics: LoggedStatistics, contextFingerprint: String)
            do { loaded = try StreamedEvaluation.loadModel(path: path) } catch { throw CLIError(error.description) }
            guard loaded.contextFingerprint == schema.contextFingerprint, loaded.statistics.dimension == schema.contextCount * schema.descriptorCount else {
                throw CLIError("\(path): reward-model statistics of other features (\(loaded.contextFingerprint)) than \(policy ?? "the policy")'s (\(schema.contextFingerprint))")
            }
            if total == nil { total = LoggedStatistics(dimension: loaded.statistics.dimension) }
            total?.append(loaded.statistics)
        }
        guard let total, total.count > 0 else { throw CLIError("--model-stats: the statistics hold no decisions") }
        return total
    }

    /// `--merge`: the report from every shard's round-2 sums.
    func printMerged(target: any DecisionPolicy) throws {
        guard let policy else { throw ValidationError("--merge needs --policy") }
        var total: StreamedEvaluation.Sums?
        var first: StreamedEvaluation.ShardSettings?
        var shards: [String: String] = [:]
        for path in merge {
            let loaded: (sums: StreamedEvaluation.Sums, settings: StreamedEvaluation.ShardSettings, shard: String)
            do { loaded = try StreamedEvaluation.loadSums(path: path) } catch { throw CLIError(error.description) }
            guard loaded.settings.policyVersion == policyVersion(policy) else {
                throw CLIError("\(path): sums of policy \(loaded.settings.policyVersion), not of --policy \(policy) (\(policyVersion(policy)))")
            }
            if let first, first != loaded.settings {
                throw CLIError("\(path): evaluated with other settings than \(merge[0]) (seed, bootstrap, switch threshold or reward model differ): shards must be evaluated alike")
            }
            if let other = shards[loaded.shard] { throw CLIError("\(path): shard \(loaded.shard) again (also \(other)): give every shard its own --shard") }
            shards[loaded.shard] = path
            first = loaded.settings
            if total == nil { total = StreamedEvaluation.Sums(replicates: loaded.settings.replicates) }
            total?.add(loaded.sums)
        }
        guard let total, let settings = first else { throw CLIError("--merge: no files") }
        let configuration = BootstrapConfiguration(replicates: settings.replicates, seed: settings.seed)
        let (report, loggedValue) = try StreamedEvaluation.report(total, switchThreshold: settings.switchThreshold, bootstrap: configuration)
        try printReport(report, loggedValue: loggedValue, decisions: total.count, source: merge.joined(separator: ", "), truth: nil)
    }

    func writeText(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw CLIError("\(path): cannot write (\(error.localizedDescription))")
        }
    }
}
