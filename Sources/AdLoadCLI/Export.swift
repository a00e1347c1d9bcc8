import AdLoadCore
import ArgumentParser
import Foundation
import Policies
import Training

/// `adload export`: decision logs in other tools' formats (docs/interop.md).
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write decision logs as Vowpal Wabbit DSJSON, CSV, or generic off-policy rows for a target policy.",
        discussion: """
        vw-dsjson: one cb_explore_adf example per decision (shared context features, one action per valid \
        plan with its descriptors, cost = −reward, the logged probability), for `vw --cb_explore_adf --dsjson`. \
        csv: one row per decision with its outcome and its context features, for pandas. generic: the rows \
        `adload evaluate --format generic` reads, with --policy's probabilities and the reward model's \
        predictions, as `evaluate --env` computes them.
        """)

    @Option(help: ArgumentHelp("The decision log (JSON Lines); repeat it, or quote a glob, for several.", valueName: "log"))
    var logs: [String] = []

    @Option(help: "vw-dsjson, csv or generic.")
    var format: LogExport.Format

    @Option(help: "The target policy (generic only): its probabilities and a reward model fitted on the logs go in the rows.")
    var policy: String?

    @Option(help: "Environment configuration whose feature schema names the context features (vw-dsjson, csv).")
    var env = "env/default.json"

    @Option(help: "Behavioural-history features the logs were written with: standard, all, or a comma-separated list (vw-dsjson, csv).")
    var features = "standard"

    @Option(help: "Seed of the target's own randomization (generic; as evaluate's --seed).")
    var seed: UInt64 = 7

    @Option(help: "Write here instead of standard output.")
    var out: String?

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("--logs is required") }
        if format == .generic, policy == nil { throw ValidationError("--format generic needs --policy (the target whose probabilities the rows carry)") }
        if format != .generic, policy != nil { throw ValidationError("--policy applies to --format generic only") }
        if let out { try checkWritable(out, option: "--out") }
    }

    func run() throws {
        prepareLinearAlgebra()
        let paths = try expandLogPaths(logs)
        let schema: FeatureSchema
        var target: (any DecisionPolicy)?
        if let policy {
            let loaded: any DecisionPolicy
            do { loaded = try PolicyFile.load(path: policy, expectedSchema: nil) } catch { throw CLIError(error.description) }
            target = loaded
            schema = loaded.schema
        } else {
            let history: [HistoryFeature]
            do { history = try HistoryFeature.parseList(features) } catch { throw ValidationError("--features: \(error)") }
            schema = try loadEnvironment(env).featureSchema.with(history: history)
        }
        var lines: [String] = []
        if format == .csv { lines.append(LogExport.csvHeader(contextNames: schema.contextNames)) }
        var records: [LoggedRecord] = []
        for path in paths {
            do {
                try DecisionLogReader.checkLayout(path: path, schema: schema)
                let read = try DecisionLogReader.read(path: path)
                switch format {
                case .vwDSJSON: lines += read.map { LogExport.dsjson($0, contextNames: schema.contextNames) }
                case .csv: lines += read.map(LogExport.csvRow)
                case .generic: records += read
                }
            } catch {
                throw CLIError(error.description + (error.isLayoutMismatch ? "; give the --features (or --policy) the log was written with" : ""))
            }
        }
        if format == .generic {
            // One reward model over every log, as `evaluate` fits it.
            guard let target else { throw ValidationError("--format generic needs --policy") }
            do {
                let evaluation = try PolicyEvaluation(target: target, records: records, decisionSeed: seed)
                lines += LogExport.genericRows(evaluation, records: records)
            } catch {
                throw CLIError("\(paths.joined(separator: ", ")): \(error)")
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        if let out {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw CLIError("\(out): cannot write (\(error.localizedDescription))")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

extension LogExport.Format: ExpressibleByArgument {}
