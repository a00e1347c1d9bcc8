import AdLoadCore
import DecisionService
import Foundation
import Policies
import Simulation

/// What a fuzz target reads: the bodies of the two service routes, and the three files a
/// user hands the tools.
package enum FuzzTarget: String, CaseIterable, Sendable {
    /// A `POST /v1/decide` body, decided with no user state and from the fallback; the fast
    /// body reader must agree with the strict decoder wherever it accepts.
    case decide
    /// A `POST /v1/feedback` body.
    case feedback
    /// A policy file, loaded with the default schema and, if it loads, decided with.
    case policy
    /// An environment-model configuration.
    case environment
    /// A pacing targets file, and a few controller updates on it.
    case targets
}

/// Runs one input through a ``FuzzTarget``: bad input must come back as an error, never a
/// crash, and the checks here stop the process on answers that break an invariant (the
/// fuzzer reports that as a crash). `scripts/fuzz` drives it through libFuzzer; the corpus
/// test (`FuzzCorpusTests`) runs every file of `Tests/FuzzCorpus` through it in the suite.
package struct FuzzHarness: Sendable {
    /// Serves decide bodies: `policies/default-egreedy.json` on `env/default.json`'s rules.
    let engine: DecisionEngine
    let schema: FeatureSchema
    let rules: [String: PlacementRules]

    /// Loads the engine from the repository at `root`.
    /// - Throws: `ConfigError` or `DecisionEngineError` when the shipped files do not load.
    package init(root: URL) throws {
        let config = try EnvironmentConfig.load(path: root.appendingPathComponent("env/default.json").path)
        schema = config.featureSchema
        rules = Dictionary(uniqueKeysWithValues: config.regions.map { ($0.name, $0.rules) })
        let blob = try Data(contentsOf: root.appendingPathComponent("policies/default-egreedy.json"))
        engine = try DecisionEngine(blob: blob, source: "default-egreedy", rules: rules, expectedSchema: schema)
    }

    /// A decide request every region and device of the default schema can serve.
    static let probe = Array(#"{"user_id": "u1", "session_id": "s1", "region": "na", "device": "ios", "hour": 20, "feed_length": 30}"#.utf8)

    /// Runs `bytes` through `target`.
    /// - Returns: Whether the input was accepted (`false`: refused with an error, as it should be for bad input).
    @discardableResult
    package func run(_ target: FuzzTarget, _ bytes: [UInt8]) -> Bool {
        switch target {
        case .decide:
            if let fast = RequestBodyReader.fastDecide(bytes) {
                let strict = RequestBodyReader.strictDecide(bytes)
                Self.require(
                    strict == .success(fast),
                    "the decide fast path read \(fast) where the strict decoder read \(strict): \(String(decoding: bytes, as: UTF8.self))")
            }
            guard case let .success(positions) = RequestBodyReader.decide(bytes, engine: engine) else { return false }
            Self.require(positions.allSatisfy { $0 >= 1 && $0 <= 512 }, "ad positions \(positions) outside 1...512")
            return true
        case .feedback:
            guard case let .success(events) = RequestBodyReader.feedback(bytes) else { return false }
            Self.require(!events.isEmpty, "a feedback body was accepted with no events")
            return true
        case .policy:
            guard let loaded = try? DecisionEngine(blob: Data(bytes), source: "fuzz", rules: rules, expectedSchema: schema) else { return false }
            guard case let .success(positions) = RequestBodyReader.decide(Self.probe, engine: loaded) else {
                Self.require(false, "a policy that loads refuses the probe request")
                return false
            }
            Self.require(positions.allSatisfy { $0 >= 1 && $0 <= 30 }, "ad positions \(positions) outside the 30-item feed")
            return true
        case .environment:
            guard let config = try? EnvironmentConfig.parse(Data(bytes), file: "fuzz") else { return false }
            Self.require(!config.featureSchema.regions.isEmpty, "an environment without regions loaded")
            return true
        case .targets:
            guard let targets = try? RevenueTargets.parse(Data(bytes), file: "fuzz") else { return false }
            let controller = PacingController(gains: targets.gains)
            for (_, regionTargets) in targets.regions {
                var state = PacingState()
                for step in 1...24 {
                    let counters = PacingCounters(
                        revenue: Double(step) * 3.5, impressions: Double(step) * 40, negatives: Double(step), organicItems: Double(step) * 200,
                        sessions: Double(step) * 10)
                    state = controller.update(
                        state, counters: counters, targets: regionTargets, day: step, activeUsers: 100, dayShare: Double(step) / 24,
                        elapsedDays: 1.0 / 24)
                    let prices = [state.prices.revenue, state.prices.impressions, state.prices.negatives, state.prices.organic]
                    Self.require(
                        prices.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= max(targets.gains.maxPrice, 1) },
                        "pacing prices \(prices) left [0, max_price \(targets.gains.maxPrice)]")
                }
            }
            return true
        }
    }

    /// Stops the process when an invariant breaks: the fuzzer records the input.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz invariant broken: \(message())") }
    }
}
