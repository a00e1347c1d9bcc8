import AdLoadCore
import ArgumentParser
import Foundation
import Policies
import Simulation
import Training

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

    @Option(help: "The target policy file.")
    var policy: String

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

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("--logs is required") }
        guard env == nil || logs.count == 1 else { throw ValidationError("--env evaluates one log (it replays its sessions), got \(logs.count)") }
        guard bootstrap >= 2 && bootstrap <= 100_000 else { throw ValidationError("--bootstrap must be in 2...100000, got \(bootstrap)") }
        guard switchThreshold >= 0 else { throw ValidationError("--switch-threshold must be ≥ 0, got \(switchThreshold)") }
        guard threads >= 1 && threads <= 1024 else { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
    }

    func run() throws {
        prepareLinearAlgebra()
        let config = try env.map(loadEnvironment)
        var target: any DecisionPolicy
        do { target = try PolicyFile.load(path: policy, expectedSchema: config?.featureSchema) } catch { throw CLIError(error.description) }
        if let config, let env {
            try Preflight.checkEnvironment(target, file: policy, config: config, configPath: env, allowed: allowEnvMismatch)
        }
        let progress = Progress(enabled: !quiet)
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
            do {
                (report, loggedValue) = try StreamedEvaluation.report(
                    target: target, paths: paths, switchThreshold: switchThreshold,
                    bootstrap: BootstrapConfiguration(replicates: bootstrap, seed: seed), decisionSeed: seed, threads: threads
                ) { count, pass in
                    progress.note(pass == 1 ? "pass 1 of 2 (reward model)" : String(format: "pass 2 of 2: %d decisions evaluated (%.0f/s overall)", count, Double(count) / max(1e-9, (clock.now - started).seconds)))
                }
            } catch let error as DecisionLogError {
                throw CLIError(error.description + (error.isLayoutMismatch ? "; the log was written with other features than the policy's" : ""))
            } catch {
                throw CLIError("\(source): \(error)")
            }
            decisions = report.n
            let seconds = (clock.now - started).seconds
            progress.finish(String(format: "evaluated %d decisions in %.1f s (%.0f decisions/s, two passes)", decisions, seconds, Double(decisions) / max(1e-9, seconds)))
        }
        if json {
            var fields = ["\"policy\": \(JSONValue.quoted(policy))", "\"logs\": \(JSONValue.quoted(source))", "\"decisions\": \(decisions)",
                          "\"logged_value\": \(loggedValue)", "\"estimates\": \(report.json)"]
            if let truth { fields.append("\"true_value\": \(truth)") }
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("target \(policy)\(exploit ? " (greedy)" : ""), \(decisions) logged decisions from \(source)")
            print(String(format: "logging policy's mean reward: %.6f", loggedValue))
            print(report.table)
            if let truth {
                print(String(format: "true value by simulation: %.6f", truth))
                for estimate in report.estimates {
                    print(String(format: "  %@ error: %+.2f%%%@", estimate.name, (estimate.value / truth - 1) * 100,
                                 estimate.covers(truth) ? " (interval covers the truth)" : ""))
                }
            }
        }
    }
}
