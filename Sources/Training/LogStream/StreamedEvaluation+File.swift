import AdLoadCore
import Foundation

extension StreamedEvaluation {
    /// What must agree between the shards of one evaluation: the target, its randomization,
    /// the bootstrap, switch-DR's threshold and the reward model.
    package struct ShardSettings: Sendable, Equatable {
        package var policyVersion: String
        package var seed: UInt64
        package var replicates: Int
        package var switchThreshold: Double
        /// FNV-1a 64 of the reward model's coefficients (their bits).
        package var model: String

        package init(policyVersion: String, seed: UInt64, replicates: Int, switchThreshold: Double, theta: [Double]) {
            self.policyVersion = policyVersion
            self.seed = seed
            self.replicates = replicates
            self.switchThreshold = switchThreshold
            let bytes = theta.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
            model = "fnv1a64:" + String(FNV1a64.hash(bytes), radix: 16)
        }

        init(policyVersion: String, seed: UInt64, replicates: Int, switchThreshold: Double, model: String) {
            self.policyVersion = policyVersion
            self.seed = seed
            self.replicates = replicates
            self.switchThreshold = switchThreshold
            self.model = model
        }
    }

    static let modelFormat = "adload-reward-model-statistics"
    static let sumsFormat = "adload-evaluation-statistics"

    /// A shard's reward-model statistics as one JSON object (numbers read back bit for bit).
    package static func modelText(_ statistics: LoggedStatistics, contextFingerprint: String) -> String {
        JSONValue.object([
            "format": .string(modelFormat), "context_fingerprint": .string(contextFingerprint), "dimension": .number(Double(statistics.dimension)),
            "decisions": .number(Double(statistics.count)), "a": .array(statistics.a.map(JSONValue.number)),
            "b": .array(statistics.b[0].map(JSONValue.number)),
        ]).canonicalText + "\n"
    }

    /// Reads reward-model statistics written by ``modelText(_:contextFingerprint:)``.
    package static func loadModel(path: String) throws(ConfigError) -> (statistics: LoggedStatistics, contextFingerprint: String) {
        let reader = try ConfigReader(
            data: try ConfigReader.contents(of: path), file: path, keys: ["format", "context_fingerprint", "dimension", "decisions", "a", "b"])
        guard try reader.string("format") == modelFormat else {
            throw ConfigError(file: path, key: "format", value: nil, problem: "is not \(modelFormat): not a file of `adload evaluate --emit-model-stats`")
        }
        let dimension = try reader.integer("dimension", in: 1...100_000)
        var statistics = LoggedStatistics(dimension: dimension)
        let finite = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        statistics.a = try reader.numbers("a", count: dimension * dimension, in: finite)
        statistics.b[0] = try reader.numbers("b", count: dimension, in: finite)
        statistics.count = try reader.integer("decisions", in: 0...Int.max)
        return (statistics, try reader.string("context_fingerprint"))
    }

    /// A shard's estimator sums as one JSON object.
    package static func sumsText(_ sums: Sums, settings: ShardSettings, shard: UInt64) -> String {
        func numbers(_ values: [Double]) -> JSONValue { .array(values.map(JSONValue.number)) }
        return JSONValue.object([
            "format": .string(sumsFormat), "policy_version": .string(settings.policyVersion), "seed": .string(String(settings.seed)),
            "replicates": .number(Double(settings.replicates)), "switch_threshold": .number(settings.switchThreshold), "model": .string(settings.model),
            "shard": .string(String(shard)), "numerator": numbers(sums.numerator), "denominator": numbers(sums.denominator),
            "weight": numbers(sums.weight), "weight_squared": numbers(sums.weightSquared), "replicate_sums": numbers(sums.replicates),
            "decisions": .number(Double(sums.count)), "logged_reward_sum": .number(sums.loggedRewardSum),
        ]).canonicalText + "\n"
    }

    /// Reads estimator sums written by ``sumsText(_:settings:shard:)``.
    package static func loadSums(path: String) throws(ConfigError) -> (sums: Sums, settings: ShardSettings, shard: String) {
        let reader = try ConfigReader(
            data: try ConfigReader.contents(of: path), file: path,
            keys: ["format", "policy_version", "seed", "replicates", "switch_threshold", "model", "shard", "numerator", "denominator", "weight",
                   "weight_squared", "replicate_sums", "decisions", "logged_reward_sum"])
        guard try reader.string("format") == sumsFormat else {
            throw ConfigError(file: path, key: "format", value: nil, problem: "is not \(sumsFormat): not a file of `adload evaluate --emit-stats`")
        }
        guard let seed = UInt64(try reader.string("seed")) else { throw ConfigError(file: path, key: "seed", value: nil, problem: "is not a seed") }
        let replicates = try reader.integer("replicates", in: 2...100_000)
        let finite = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        var sums = Sums(replicates: replicates)
        sums.numerator = try reader.numbers("numerator", count: 5, in: finite)
        sums.denominator = try reader.numbers("denominator", count: 5, in: finite)
        sums.weight = try reader.numbers("weight", count: 5, in: finite)
        sums.weightSquared = try reader.numbers("weight_squared", count: 5, in: finite)
        sums.replicates = try reader.numbers("replicate_sums", count: replicates * 10, in: finite)
        sums.count = try reader.integer("decisions", in: 0...Int.max)
        sums.loggedRewardSum = try reader.number("logged_reward_sum", in: finite)
        let settings = ShardSettings(
            policyVersion: try reader.string("policy_version"), seed: seed, replicates: replicates,
            switchThreshold: try reader.number("switch_threshold", in: 0...Double.greatestFiniteMagnitude), model: try reader.string("model"))
        return (sums, settings, try reader.string("shard"))
    }
}
