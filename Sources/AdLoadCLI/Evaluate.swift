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
        size of its importance weights. With --env, logs written by `adload simulate --log` \
        also give the target's true value: every logged session is replayed in the environment \
        model under each plan the target might choose, with the session's own luck.
        """)

    @Option(help: "The target policy file.")
    var policy: String

    @Option(help: "The decision log (JSON Lines, from `adload simulate --log` or the service).")
    var logs: String

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

    @Option(help: "Worker threads for --env (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Run a policy on an environment other than the one it was trained on (refused otherwise).")
    var allowEnvMismatch = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
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
        let records: [LoggedRecord]
        do {
            try DecisionLogReader.checkLayout(path: logs, schema: target.schema)
            records = try DecisionLogReader.read(path: logs) { progress.note("\(logs): \($0) decisions read") }
        } catch {
            throw CLIError(error.description)
        }
        progress.finish("\(logs): \(records.count) decisions read")
        if exploit { target = target.conservative() }
        let evaluation: PolicyEvaluation
        do {
            evaluation = try PolicyEvaluation(target: target, records: records, decisionSeed: seed)
        } catch {
            throw CLIError("\(logs): \(error)")
        }
        let report: OffPolicyReport
        do {
            report = try OffPolicyReport(
                decisions: evaluation.decisions, switchThreshold: switchThreshold,
                bootstrap: BootstrapConfiguration(replicates: bootstrap, seed: seed))
        } catch {
            throw CLIError("\(logs): \(error)")
        }
        var truth: Double?
        if let config {
            do {
                truth = try evaluation.trueValue(model: EnvironmentModel(config: config), records: records, threads: threads)
            } catch {
                throw CLIError("\(logs): \(error)")
            }
        }
        let loggedValue = records.reduce(0) { $0 + $1.reward } / Double(records.count)
        if json {
            var fields = ["\"policy\": \"\(policy)\"", "\"logs\": \"\(logs)\"", "\"decisions\": \(records.count)",
                          "\"logged_value\": \(loggedValue)", "\"estimates\": \(report.json)"]
            if let truth { fields.append("\"true_value\": \(truth)") }
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print("target \(policy)\(exploit ? " (greedy)" : ""), \(records.count) logged decisions from \(logs)")
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
