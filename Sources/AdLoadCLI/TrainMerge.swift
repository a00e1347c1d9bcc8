import AdLoadCore
import ArgumentParser
import Foundation
import Policies
import Training

/// `adload train merge`: a policy from the statistics of log shards.
struct TrainMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the statistics of log shards (`train bandit --logs SHARD --emit-stats OUT`) into one policy.",
        discussion: """
        Learning a bandit from logs is a sum over the decisions, so statistics learned shard by \
        shard (by any batch engine that runs one binary per shard) add up to those of the whole \
        log. The shards must have been learned with the same algorithm, hyper-parameters, λ, \
        reward weights, features, weight cap and environment; they are added in the order given \
        (the learning curve follows that order). The policy equals one pass over all the shards \
        up to rounding.
        """)

    @Argument(help: "Statistics files, in log order.")
    var statistics: [String]

    @Option(help: "Environment configuration the shards were learned with (its schema and plan family).")
    var env = "env/default.json"

    @Option(help: "Where to write the policy file.")
    var out: String

    @Option(help: "Where to write the learning curve (default: the policy path with .csv).")
    var curve: String?

    @Flag(help: "Print one JSON object instead of a line.")
    var json = false

    func validate() throws {
        guard !statistics.isEmpty else { throw ValidationError("name at least one statistics file") }
        try checkWritable(out, option: "--out")
        if let curve { try checkWritable(curve, option: "--curve") }
    }

    func run() throws {
        prepareLinearAlgebra()
        var files: [(file: StatisticsFile, users: Int)] = []
        for path in statistics {
            do { files.append(try StatisticsFile.load(path: path)) } catch { throw CLIError(error.description) }
        }
        let settings = files[0].file.settings
        for (index, loaded) in files.enumerated().dropFirst() where loaded.file.settings != settings {
            throw CLIError(
                "\(statistics[index]): learned with other settings than \(statistics[0]) (algorithm, hyper-parameters, λ, reward, features, weight cap or environment differ): shards must be learned alike")
        }
        let config = try loadEnvironment(env)
        guard config.fingerprint == settings.environmentFingerprint else {
            throw CLIError("\(env): not the environment the shards were learned with (\(settings.environmentFile), fingerprint \(settings.environmentFingerprint))")
        }
        let history: [HistoryFeature]
        do { history = try HistoryFeature.parseList(settings.history.joined(separator: ",")) } catch { throw CLIError("\(statistics[0]): settings.history: \(error)") }
        let schema = config.featureSchema.with(history: history)
        guard schema.contextFingerprint == settings.contextFingerprint else {
            throw CLIError("\(statistics[0]): its context layout \(settings.contextFingerprint) is not \(env)'s with those features (\(schema.contextFingerprint))")
        }
        var total = LoggedStatistics(dimension: schema.contextCount * schema.descriptorCount)
        for (index, loaded) in files.enumerated() {
            guard loaded.file.statistics.dimension == total.dimension else {
                throw CLIError("\(statistics[index]): dimension \(loaded.file.statistics.dimension), expected \(total.dimension)")
            }
            total.append(loaded.file.statistics)
        }
        let algorithm: BanditAlgorithm
        do { algorithm = try BanditAlgorithm(name: settings.algorithm, hyperparameters: settings.hyperparameters) } catch {
            throw CLIError("\(statistics[0]): settings: \(error)")
        }
        var bandit = try LinearBandit(
            contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: algorithm, lambda: settings.lambda)
        bandit.enablePricing()
        do { bandit = try total.applied(to: bandit) } catch { throw CLIError("the merged model: \(error)") }
        let provenance = PolicyProvenance(
            environment: config.name, environmentFile: settings.environmentFile, environmentFingerprint: config.fingerprint, seed: 0,
            sessions: total.count, users: files.reduce(0) { $0 + $1.users }, days: 0, trainedAt: PolicyProvenance.now(), source: .logs)
        let policy = LinearBanditPolicy(bandit: bandit, schema: schema, planFamily: config.planCatalog().family, reward: settings.reward, provenance: provenance)
        do { try policy.write(to: out) } catch { throw CLIError(error.description) }
        let curvePath = curve ?? (out.hasSuffix(".json") ? String(out.dropLast(5)) + ".csv" : out + ".csv")
        do { try Data((total.curveLines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: curvePath)) } catch {
            throw CLIError("\(curvePath): cannot write the learning curve (\(error.localizedDescription))")
        }
        if json {
            print("{\"policy\": \(JSONValue.quoted(out)), \"curve\": \(JSONValue.quoted(curvePath)), \"shards\": \(files.count), \"decisions\": \(total.count)}")
        } else {
            print("merged \(files.count) shard\(files.count == 1 ? "" : "s") (\(total.count) decisions): wrote \(out) and \(curvePath)")
        }
    }
}

/// `--logs` values with globs expanded (in sorted order), each checked to exist.
func expandLogPaths(_ patterns: [String]) throws -> [String] {
    var paths: [String] = []
    for pattern in patterns {
        guard pattern.contains(where: { "*?[".contains($0) }) else {
            guard FileManager.default.isReadableFile(atPath: pattern) else { throw CLIError("\(pattern): cannot read the decision log") }
            paths.append(pattern)
            continue
        }
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(pattern, 0, nil, &matches) == 0, matches.gl_pathc > 0 else { throw CLIError("--logs \(pattern): no file matches") }
        for index in 0..<Int(matches.gl_pathc) {
            if let path = matches.gl_pathv[index] { paths.append(String(cString: path)) }
        }
    }
    return paths
}

/// `12.3 MB`.
func byteCount(_ bytes: Int) -> String {
    bytes >= 1 << 30 ? String(format: "%.1f GB", Double(bytes) / 1e9) : String(format: "%.1f MB", Double(bytes) / 1e6)
}

extension DecisionLogError {
    /// Whether the log was written with another context layout than the one asked for.
    var isLayoutMismatch: Bool {
        if case let .badRecord(_, _, problem) = self { return problem.contains("context features") || problem.contains("context_schema") }
        return false
    }
}
