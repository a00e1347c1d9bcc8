import AdLoadCore
import Foundation

/// A shard's statistics as written by `adload train bandit --logs SHARD --emit-stats OUT` and
/// read by `adload train merge`: the sums, and what they were learned for (the learner's
/// settings), so shards learned differently are refused rather than added.
package struct StatisticsFile: Sendable {
    /// What must agree between shards: algorithm, hyper-parameters, λ, reward weights,
    /// context layout, importance-weight cap, environment.
    package struct Settings: Sendable, Equatable {
        package var algorithm: String
        package var hyperparameters: [String: Double]
        package var lambda: Double
        package var reward: [String: Double]
        /// The behavioural-history features, by name.
        package var history: [String]
        package var contextFingerprint: String
        package var maxWeight: Double
        package var environment: String
        package var environmentFile: String
        package var environmentFingerprint: String

        package init(
            algorithm: String, hyperparameters: [String: Double], lambda: Double, reward: [String: Double], history: [String],
            contextFingerprint: String, maxWeight: Double, environment: String, environmentFile: String, environmentFingerprint: String
        ) {
            self.algorithm = algorithm
            self.hyperparameters = hyperparameters
            self.lambda = lambda
            self.reward = reward
            self.history = history
            self.contextFingerprint = contextFingerprint
            self.maxWeight = maxWeight
            self.environment = environment
            self.environmentFile = environmentFile
            self.environmentFingerprint = environmentFingerprint
        }

        var json: JSONValue {
            .object([
                "algorithm": .string(algorithm), "hyperparameters": .object(hyperparameters.mapValues(JSONValue.number)),
                "lambda": .number(lambda), "reward": .object(reward.mapValues(JSONValue.number)),
                "history": .array(history.map(JSONValue.string)), "context_fingerprint": .string(contextFingerprint),
                "max_weight": .number(maxWeight), "env": .string(environment), "env_file": .string(environmentFile),
                "env_fingerprint": .string(environmentFingerprint),
            ])
        }
    }

    package static let format = "adload-logged-statistics"
    package var settings: Settings
    package var statistics: LoggedStatistics
    /// The logs the statistics were learned from.
    package var logs: [String]

    package init(settings: Settings, statistics: LoggedStatistics, logs: [String]) {
        self.settings = settings
        self.statistics = statistics
        self.logs = logs
    }

    /// The file's text: one JSON object; numbers in Swift's shortest round-trip form, so a
    /// file read back gives the same sums bit for bit.
    package var text: String {
        let s = statistics
        let fields: [String: JSONValue] = [
            "format": .string(Self.format), "version": .number(1), "settings": settings.json, "logs": .array(logs.map(JSONValue.string)),
            "dimension": .number(Double(s.dimension)), "decisions": .number(Double(s.count)), "users": .number(Double(s.users.count)),
            "a": .array(s.a.map(JSONValue.number)), "b": .array(s.b.map { .array($0.map(JSONValue.number)) }),
            "totals": .array(s.totals.map(JSONValue.number)),
            "curve": .array(s.curve.map { .array([.number(Double($0.decisions)), .number($0.meanReward), .number($0.meanWeight)]) }),
            "pending": .array([.number(s.pendingReward), .number(s.pendingWeight), .number(Double(s.pendingCount))]),
        ]
        return JSONValue.object(fields).canonicalText + "\n"
    }

    /// Reads a statistics file.
    /// - Throws: `ConfigError` naming the file and the key that is missing or wrong.
    package static func load(path: String) throws(ConfigError) -> (file: StatisticsFile, users: Int) {
        let data = try ConfigReader.contents(of: path)
        let reader = try ConfigReader(
            data: data, file: path, keys: ["format", "version", "settings", "logs", "dimension", "decisions", "users", "a", "b", "totals", "curve", "pending"])
        guard try reader.string("format") == format else {
            throw ConfigError(file: path, key: "format", value: nil, problem: "is not \(format): not a statistics file of `adload train bandit --emit-stats`")
        }
        let settingsReader = try reader.object(
            "settings",
            keys: ["algorithm", "hyperparameters", "lambda", "reward", "history", "context_fingerprint", "max_weight", "env", "env_file", "env_fingerprint"])
        let settings = Settings(
            algorithm: try settingsReader.string("algorithm"), hyperparameters: try settingsReader.numberMap("hyperparameters"),
            lambda: try settingsReader.number("lambda", in: 1e-12...1e12), reward: try settingsReader.numberMap("reward"),
            history: try settingsReader.names("history"), contextFingerprint: try settingsReader.string("context_fingerprint"),
            maxWeight: try settingsReader.number("max_weight", in: 1...Double.greatestFiniteMagnitude), environment: try settingsReader.string("env"),
            environmentFile: try settingsReader.string("env_file"), environmentFingerprint: try settingsReader.string("env_fingerprint"))
        let dimension = try reader.integer("dimension", in: 1...100_000)
        var statistics = LoggedStatistics(dimension: dimension)
        statistics.count = try reader.integer("decisions", in: 0...Int.max)
        statistics.a = try reader.numbers("a", count: dimension * dimension, in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        let b = try Self.rows(reader, "b", file: path)
        guard b.count == LoggedStatistics.targets, b.allSatisfy({ $0.count == dimension }) else {
            throw ConfigError(file: path, key: "b", value: nil, problem: "must hold \(LoggedStatistics.targets) arrays of \(dimension) numbers")
        }
        statistics.b = b
        statistics.totals = try reader.numbers("totals", count: 4, in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        statistics.curve = try Self.rows(reader, "curve", file: path).enumerated().map { (index, row) throws(ConfigError) in
            guard row.count == 3, row[0] >= 0, row[0] == row[0].rounded() else {
                throw ConfigError(file: path, key: "curve", value: nil, problem: "point \(index + 1) is not [decisions, mean reward, mean weight]")
            }
            return LoggedStatistics.CurvePoint(decisions: Int(row[0]), meanReward: row[1], meanWeight: row[2])
        }
        let pending = try reader.numbers("pending", count: 3, in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        (statistics.pendingReward, statistics.pendingWeight, statistics.pendingCount) = (pending[0], pending[1], Int(pending[2]))
        guard pending[2] >= 0 && pending[2] < 1000 && pending[2] == pending[2].rounded() else {
            throw ConfigError(file: path, key: "pending", value: nil, problem: "must be [reward sum, weight sum, decisions under 1000]")
        }
        return (StatisticsFile(settings: settings, statistics: statistics, logs: try reader.names("logs")), try reader.integer("users", in: 0...Int.max))
    }

    /// An array of arrays of numbers.
    static func rows(_ reader: ConfigReader, _ name: String, file: String) throws(ConfigError) -> [[Double]] {
        guard case let .array(rows) = try reader.raw(name) else { throw ConfigError(file: file, key: name, value: nil, problem: "must be an array of arrays of numbers") }
        var result: [[Double]] = []
        for row in rows {
            guard case let .array(values) = row else { throw ConfigError(file: file, key: name, value: nil, problem: "must be an array of arrays of numbers") }
            var numbers: [Double] = []
            for value in values {
                guard case let .number(number) = value else { throw ConfigError(file: file, key: name, value: nil, problem: "must be an array of arrays of numbers") }
                numbers.append(number)
            }
            result.append(numbers)
        }
        return result
    }
}
