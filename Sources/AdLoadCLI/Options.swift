import ArgumentParser
import Foundation
import Logging
import Policies

/// The environment model and the simulated population: `simulate` and `train` share them.
/// Negative numbers are read as numbers (so `--users -5` is refused by range, not as a
/// missing value).
struct SimulationOptions: ParsableArguments {
    @Option(help: "Environment-model configuration (JSON).")
    var env = "env/default.json"

    @Option(parsing: .unconditional, help: "Simulated users.")
    var users = 800

    @Option(parsing: .unconditional, help: "Simulated days per user.")
    var days = 120

    @Option(parsing: .unconditional, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        try checkRange("--users", users, 1...10_000_000)
        try checkRange("--days", days, 1...3650)
        try checkRange("--threads", threads, 1...1024)
    }
}

/// Where the live state is: a Redis URL, or the embedded redis-server of a data folder.
struct RedisOptions: ParsableArguments {
    @Option(help: "Use this Redis (redis://host:port/db) instead of the embedded one of --data-dir.")
    var redis: String?

    @Option(help: ArgumentHelp(
        "Use this Redis Cluster instead: seed node URLs, comma-separated (redis://127.0.0.1:7001,redis://127.0.0.1:7002).",
        discussion: "The slot map is learned from the seeds; user and password come from each URL (database 0 only)."))
    var redisCluster: String?

    @Option(help: "Data folder of the embedded redis-server (its data and its address file, redis.url).")
    var dataDir = ".adload"

    /// Whether a Redis was named (`--redis` or `--redis-cluster`), so none is embedded.
    var namesRedis: Bool { redis != nil || redisCluster != nil }
}

/// How much a long-running command logs.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: \(LogLevel.allValueStrings.joined(separator: ", ")).")
    var logLevel: LogLevel = .info
}

/// A log level on the command line: the names swift-log uses.
enum LogLevel: String, ExpressibleByArgument, CaseIterable, Sendable {
    case trace, debug, info, notice, warning, error, critical

    /// The swift-log level.
    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

/// How Redis I/O runs in `serve`.
enum RedisIO: String, ExpressibleByArgument, CaseIterable, Sendable {
    case eventLoops = "event-loops"
    case threads
}

/// A bandit algorithm's name on the command line.
enum AlgorithmName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case linucb, thompson, egreedy, softmax

    /// The algorithm with its default hyper-parameters.
    var defaults: BanditAlgorithm {
        guard let algorithm = BanditAlgorithm.defaults(named: rawValue) else {
            preconditionFailure("every AlgorithmName is a BanditAlgorithm name: \(rawValue)")
        }
        return algorithm
    }

    /// The algorithm's name in progress lines.
    var displayName: String {
        switch self {
        case .linucb: "LinUCB"
        case .thompson: "Thompson sampling"
        case .egreedy: "ε-greedy"
        case .softmax: "softmax"
        }
    }
}

/// Throws the one-line range error every numeric option gives.
func checkRange(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
        throw ValidationError("\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
    }
}

/// Refuses, before any long work, an output path whose folder does not exist or cannot be written.
func checkWritable(_ path: String, option: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ValidationError("\(option) \(path): the folder \(folder) does not exist; create it first")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw ValidationError("\(option) \(path): the folder \(folder) is not writable")
    }
}
