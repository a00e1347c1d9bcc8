import AdLoadCore
import ArgumentParser
import DecisionService
import Foundation
import Logging
import OnlineLearning
import Policies
import Simulation
import StateStore
import Training

extension RedisOptions {
    /// The Redis this command talks to: `--redis`, or the embedded server of `--data-dir`
    /// (the address `adload serve` writes to `redis.url` there).
    func address() throws -> RedisAddress {
        if let first = try clusterSeeds().first { return first }
        var text = redis
        if text == nil {
            let path = URL(fileURLWithPath: dataDir).appendingPathComponent("redis.url").path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError("\(path): no embedded Redis address (start `adload serve --data-dir \(dataDir)` first, or pass --redis)")
            }
            text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do { return try RedisAddress(parsing: text ?? "") } catch { throw CLIError("Redis address: \(error)") }
    }

    /// The seed nodes of `--redis-cluster` (empty without it).
    /// - Throws: `CLIError` naming a seed that is not a Redis URL, or a database other than 0.
    func clusterSeeds() throws -> [RedisAddress] {
        guard let redisCluster else { return [] }
        if redis != nil { throw CLIError("--redis and --redis-cluster name two Redis deployments: give one") }
        let urls = redisCluster.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !urls.isEmpty else { throw CLIError("--redis-cluster: give at least one seed URL (redis://host:port)") }
        return try urls.map { url throws -> RedisAddress in
            let seed: RedisAddress
            do { seed = try RedisAddress(parsing: url) } catch { throw CLIError("--redis-cluster: \(url): \(error)") }
            guard seed.database == 0 else { throw CLIError("--redis-cluster: \(url): Redis Cluster has database 0 only, got \(seed.database)") }
            return seed
        }
    }

    /// A client configuration for this command's Redis (a cluster's seeds set when `--redis-cluster` is given).
    func clientConfiguration(commandTimeout: Duration = .seconds(2)) throws -> RedisClient.Configuration {
        var configuration = RedisClient.Configuration(address: try address(), commandTimeout: commandTimeout)
        configuration.clusterSeeds = try clusterSeeds()
        return configuration
    }

    /// Runs `body` against the registry's store and shuts the store down after.
    func withStore<T>(_ body: (RedisLiveStore, RedisAddress) async throws -> T) async throws -> T {
        let address = try address()
        // Registry commands read streams in bulk and are not on a decide path: generous budgets.
        let store = RedisLiveStore(
            configuration: try clientConfiguration(commandTimeout: .seconds(30)),
            options: RedisLiveStore.Options(readTimeout: .seconds(10), writeTimeout: .seconds(20)), logger: Logger(label: "adload.redis"))
        do {
            let result = try await body(store, address)
            await store.shutdown()
            return result
        } catch let error as StoreError {
            await store.shutdown()
            throw CLIError("registry at \(address): \(error)")
        } catch {
            await store.shutdown()
            throw error
        }
    }
}

/// Who changes the registry, as its history records: the command, the user and the host.
func whoAndWhere() -> String {
    let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
    return "\(user)@\(ProcessInfo.processInfo.hostName)"
}

/// The registry's active policy, loaded: its version, bytes and policy.
func loadActivePolicy(store: RedisLiveStore, address: RedisAddress, schema: FeatureSchema?) async throws -> (version: String, blob: Data, policy: any DecisionPolicy) {
    guard let version = try await store.activePolicyVersion() else {
        throw CLIError("the registry at \(address) has no active policy (start `adload serve`, which publishes one)")
    }
    guard let blob = try await store.policyBlob(version: version) else {
        throw CLIError("the registry at \(address) names \(version) active but holds no blob for it")
    }
    do {
        return (version, blob, try PolicyFile.parse(blob, file: "registry:\(version)", expectedSchema: schema))
    } catch {
        throw CLIError("the registry's active policy \(version) does not load: \(error.description)")
    }
}

/// Publishes `version` over the active version `expected` with `event`; when the learner has
/// published over `expected` in the meantime (only `learn` events since), publishes over its
/// newest version instead, since the gate's comparison still holds for the lineage it
/// judged. Another change (a promotion or rollback by someone else) is refused.
func publishOverLineage(
    store: RedisLiveStore, version: String, blob: Data?, expected: String, event: RegistryEvent
) async throws {
    var base = expected
    for _ in 0..<20 {
        var stamped = event
        stamped.previous = base
        switch try await store.publishPolicy(version: version, blob: blob, ifActive: base, event: stamped) {
        case .published: return
        case let .activeChanged(active):
            guard let active else { throw CLIError("the registry's active version was removed while this command ran; nothing changed") }
            let history = try await store.policyHistory(limit: 200)
            guard learnerLineage(from: active, to: expected, history: history) else {
                let change = history.first { $0.version == active }
                throw CLIError(
                    "the active version changed to \(active) (\(change.map { "\($0.action.rawValue) by \($0.by)" } ?? "unknown change")) while this command ran; nothing changed: run it again")
            }
            base = active
        }
    }
    throw CLIError("the learner kept publishing over \(expected) faster than this command could follow; nothing changed: run it again")
}

/// Whether `version` descends from `ancestor` through learner publications only.
func learnerLineage(from version: String, to ancestor: String, history: [RegistryEvent]) -> Bool {
    var current = version
    var steps = 0
    while current != ancestor {
        guard steps < history.count, let event = history.first(where: { $0.version == current }), event.action == .learn,
              let previous = event.previous else { return false }
        current = previous
        steps += 1
    }
    return true
}

/// `adload policy list`.
struct PolicyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "The registry's history: which version became active over which, when, by whom or what, on what evidence; and the active one.")

    @OptionGroup(title: "Redis")
    var redisOptions: RedisOptions

    @Option(help: "How many of the newest changes to list.")
    var limit = 20

    @Flag(help: "Leave out the online learner's publications.")
    var withoutLearner = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        try checkRange("--limit", limit, 1...RegistryEvent.historyLimit)
    }

    func run() async throws {
        let (active, history, versions) = try await redisOptions.withStore { store, _ in
            (try await store.activePolicyVersion(), try await store.policyHistory(limit: RegistryEvent.historyLimit), try await store.policyVersions())
        }
        let shown = Array(history.filter { !withoutLearner || $0.action != .learn }.prefix(limit))
        if json {
            let events = shown.map(\.json).joined(separator: ", ")
            print("{\"active\": \(active.map(JSONValue.quoted) ?? "null"), \"stored_versions\": \(versions.count), \"events\": [\(events)]}")
            return
        }
        print("active: \(active ?? "none") (*); \(versions.count) versions stored; \(history.count) changes recorded")
        var rows = [["when", "action", "version", "over", "by", "evidence"]]
        // The newest event of the active version is the one that made it active.
        let current = history.firstIndex { $0.version == active }
        for event in shown {
            rows.append([
                event.at, event.action.rawValue + (current.map { history[$0] == event } == true ? " *" : ""), event.version, event.previous ?? "-", event.by,
                event.evidence.map(Self.evidenceSummary) ?? "",
            ])
        }
        print(formatTable(rows))
        if history.isEmpty && !versions.isEmpty {
            print("(no history: the registry was written before 2026-12-04; stored versions: \(versions.joined(separator: ", ")))")
        }
    }

    /// `DR 0.1234 [0.1200, 0.1270] vs 0.1210 − 2%: passed`.
    static func evidenceSummary(_ evidence: JSONValue) -> String {
        guard case let .object(fields) = evidence, case let .object(candidate)? = fields["candidate"], case let .object(active)? = fields["active"],
              case let .number(value)? = candidate["value"], case let .number(low)? = candidate["low"], case let .number(high)? = candidate["high"],
              case let .number(activeValue)? = active["value"], case let .number(tolerance)? = fields["tolerance"] else {
            return evidence.canonicalText
        }
        var verdict = "passed"
        if case .bool(false)? = fields["passed"] { verdict = "failed" }
        if case .bool(true)? = fields["forced"] { verdict += ", forced" }
        return String(format: "DR %.4f [%.4f, %.4f] vs %.4f − %g%%: %@", value, low, high, activeValue, tolerance * 100, verdict)
    }
}

/// Left-aligned columns separated by two spaces.
func formatTable(_ rows: [[String]]) -> String {
    let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
}

/// `adload policy promote FILE`.
struct PolicyPromote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Makes a policy file the active version, if doubly robust OPE on the service's own decisions says it is not worse than the active one.",
        discussion: """
        Reads the newest --decisions decisions of the decision stream and their feedback, \
        joins them as `adload learn` does (rewards with --reward's weights, the standard ones by \
        default, for both policies), \
        and estimates both the candidate's and the active policy's value on them by doubly \
        robust OPE with a bootstrap 95% interval. It refuses, exiting non-zero, when the lower \
        end of the candidate's interval is below the active estimate minus --tolerance (a \
        fraction of it), unless --force. The estimates are recorded with the version in the \
        registry history (`adload policy list`). A running learner stops at its next \
        publication (restart it to learn from the new version).
        """)

    @Argument(help: "The candidate policy file.")
    var file: String

    @OptionGroup(title: "Redis")
    var redisOptions: RedisOptions

    @Option(help: "Environment configuration whose placement rules the service enforces (as `adload serve --env`).")
    var env = "env/default.json"

    @Option(help: "How many of the newest decisions to weigh.")
    var decisions = 50_000

    @Option(help: "Fewest decisions with closed reward windows the gate needs.")
    var minDecisions = 1_000

    @Option(help: "Tolerance below the active estimate, as a fraction of it.")
    var tolerance = 0.02

    @Option(help: ArgumentHelp(
        "Reward weights both policies are judged on, as name=value pairs (default: the standard weights).",
        discussion: "One objective for both, whatever weights each was trained with; names left out keep their standard value."))
    var reward: String?

    @Option(help: "Reward window in days of event time (as `adload learn --window-days`).")
    var windowDays = 1.0

    @Option(help: "Bootstrap replicates of the intervals.")
    var bootstrap = 500

    @Option(help: "Seed of the policies' own randomization and of the bootstrap.")
    var seed: UInt64 = 7

    @Flag(help: "Promote even when the gate refuses (the evidence is recorded as forced).")
    var force = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        try checkRange("--decisions", decisions, 1...10_000_000)
        try checkRange("--min-decisions", minDecisions, 1...10_000_000)
        guard tolerance >= 0 && tolerance < 1 else { throw ValidationError("--tolerance must be in [0, 1), got \(tolerance)") }
        guard windowDays > 0 else { throw ValidationError("--window-days must be positive, got \(windowDays)") }
        try checkRange("--bootstrap", bootstrap, 2...100_000)
    }

    func run() async throws {
        prepareLinearAlgebra()
        let config = try loadEnvironment(env)
        let blob = try ConfigReader.contents(of: file)
        let candidate: any DecisionPolicy
        do { candidate = try PolicyFile.parse(blob, file: file, expectedSchema: config.featureSchema) } catch { throw CLIError(error.description) }
        let version = policyVersion(file)
        let rules = Dictionary(uniqueKeysWithValues: config.regions.map { ($0.name, $0.rules) })
        let outcome = try await redisOptions.withStore { store, address in
            try await promote(candidate: candidate, blob: blob, version: version, config: config, rules: rules, store: store, address: address)
        }
        if json {
            print(outcome.json)
        } else {
            print(outcome.text)
        }
        if outcome.refused {
            throw CLIError("promotion of \(file) refused: \(outcome.reason)")
        }
    }

    struct Outcome {
        var refused: Bool
        var reason: String
        var text: String
        var json: String
    }

    func promote(
        candidate: any DecisionPolicy, blob: Data, version: String, config: EnvironmentConfig, rules: [String: PlacementRules],
        store: RedisLiveStore, address: RedisAddress
    ) async throws -> Outcome {
        let active = try await loadActivePolicy(store: store, address: address, schema: config.featureSchema)
        guard active.version != version else {
            let text = "\(file) (\(version)) is already the active version; nothing changed"
            return Outcome(refused: false, reason: "", text: text, json: "{\"promoted\": false, \"version\": \(JSONValue.quoted(version)), \"reason\": \"already active\"}")
        }
        let evidence: Evidence
        do {
            evidence = try await weigh(candidate: candidate, active: active, rules: rules, store: store)
        } catch let error as NoEvidence where !force {
            throw CLIError(error.description)
        } catch let error as NoEvidence where force {
            // No evidence can be had (no traffic yet, say): --force promotes and records why.
            let event = RegistryEvent(
                version: version, previous: active.version, action: .promote, at: RegistryEvent.now(),
                by: "adload policy promote \(file) (\(whoAndWhere()))",
                evidence: .object(["passed": .bool(false), "forced": .bool(true), "unavailable": .string(error.description)]))
            try await publishOverLineage(store: store, version: version, blob: blob, expected: active.version, event: event)
            return Outcome(
                refused: false, reason: "", text: "no evidence (\(error.description)); promoted anyway (--force): \(version) is active",
                json: "{\"promoted\": true, \"version\": \(JSONValue.quoted(version)), \"previous\": \(JSONValue.quoted(active.version)), \"evidence\": \(event.evidence?.canonicalText ?? "null")}")
        }
        var refusal: String?
        if evidence.decisions < minDecisions {
            refusal = "only \(evidence.decisions) decisions with closed reward windows in the decision stream (--min-decisions \(minDecisions)): serve more traffic first"
        } else if !evidence.passed {
            refusal = String(
                format: "the candidate's DR interval [%.5f, %.5f] reaches below the active policy's estimate %.5f minus %g%% (%.5f)",
                evidence.low, evidence.high, evidence.activeValue, tolerance * 100, evidence.threshold)
        }
        var lines = [
            "candidate \(file) (\(version)) vs active \(active.version), on \(evidence.decisions) of the service's decisions (\(evidence.skippedSummary))",
            String(format: "  candidate DR %.5f [%.5f, %.5f]  (ESS %.0f)", evidence.value, evidence.low, evidence.high, evidence.effectiveSampleSize),
            String(format: "  active    DR %.5f [%.5f, %.5f]", evidence.activeValue, evidence.activeLow, evidence.activeHigh),
            String(format: "  gate: candidate low ≥ %.5f (active − %g%%)", evidence.threshold, tolerance * 100),
        ]
        let forced = refusal != nil && force
        if let refusal, !force {
            lines.append("refused: \(refusal) (--force promotes anyway)")
            return Outcome(
                refused: true, reason: refusal, text: lines.joined(separator: "\n"),
                json: "{\"promoted\": false, \"version\": \(JSONValue.quoted(version)), \"reason\": \(JSONValue.quoted(refusal)), \"evidence\": \(evidence.json(forced: false).canonicalText)}")
        }
        let event = RegistryEvent(
            version: version, previous: active.version, action: .promote, at: RegistryEvent.now(),
            by: "adload policy promote \(file) (\(whoAndWhere()))", evidence: evidence.json(forced: forced))
        try await publishOverLineage(store: store, version: version, blob: blob, expected: active.version, event: event)
        lines.append("promoted: \(version) is active\(forced ? " (forced past the gate: \(refusal ?? ""))" : "")")
        return Outcome(
            refused: false, reason: "", text: lines.joined(separator: "\n"),
            json: "{\"promoted\": true, \"version\": \(JSONValue.quoted(version)), \"previous\": \(JSONValue.quoted(active.version)), \"evidence\": \(event.evidence?.canonicalText ?? "null")}")
    }

    /// The service's stream holds nothing to weigh yet: the only refusal `--force` can pass
    /// without evidence (every other error stops the promotion).
    struct NoEvidence: Error, CustomStringConvertible {
        let description: String
    }

    /// The gate's evidence: both policies' DR estimates on the service's recent decisions.
    struct Evidence {
        var decisions: Int
        var value: Double, low: Double, high: Double, effectiveSampleSize: Double
        var activeVersion: String
        var activeValue: Double, activeLow: Double, activeHigh: Double
        var threshold: Double
        var tolerance: Double
        var windowDays: Double
        var weights: RewardWeights
        var log: ServiceLog
        var otherLayout: Int

        /// The fewest decisions the gate needs.
        var minDecisions: Int

        /// Whether the gate lets the candidate through: enough decisions, and its lower end at or above the threshold.
        var passed: Bool { decisions >= minDecisions && low >= threshold }

        var skippedSummary: String {
            "\(log.read) read; left out: \(log.stillOpen) with open reward windows, \(log.unmatched) whose plan the rules no longer offer, \(otherLayout) of another feature layout, \(log.unreadable) unreadable"
        }

        func json(forced: Bool) -> JSONValue {
            .object([
                "estimator": .string("DR"), "decisions": .number(Double(decisions)),
                "candidate": .object(["value": .number(value), "low": .number(low), "high": .number(high), "ess": .number(effectiveSampleSize)]),
                "active": .object([
                    "version": .string(activeVersion), "value": .number(activeValue), "low": .number(activeLow), "high": .number(activeHigh),
                ]),
                "tolerance": .number(tolerance), "threshold": .number(threshold), "window_days": .number(windowDays),
                "min_decisions": .number(Double(minDecisions)),
                "without_feedback": .number(Double(log.withoutFeedback)), "passed": .bool(passed), "forced": .bool(forced),
                "reward_weights": .object(weights.dictionary.mapValues(JSONValue.number)),
            ])
        }
    }

    func weigh(
        candidate: any DecisionPolicy, active: (version: String, blob: Data, policy: any DecisionPolicy), rules: [String: PlacementRules],
        store: RedisLiveStore
    ) async throws -> Evidence {
        let engine: DecisionEngine
        do { engine = try DecisionEngine(policy: active.policy, version: active.version, rules: rules) } catch {
            throw CLIError("the active policy \(active.version) cannot serve under \(env)'s rules: \(error)")
        }
        let weights: RewardWeights
        do { weights = try reward.map { try RewardWeights(parsing: $0) } ?? .standard } catch { throw CLIError("--reward: \(error)") }
        let log = try await ServiceLog.read(
            store: store, count: decisions, catalog: engine.catalog, regions: active.policy.schema.regions, weights: weights, windowDays: windowDays)
        let candidateLayout = ContextLayout(candidate.schema)
        let activeLayout = ContextLayout(active.policy.schema)
        guard candidateLayout.fingerprint == activeLayout.fingerprint else {
            throw CLIError(
                "the candidate's context features (\(candidateLayout.fingerprint)) differ from the active policy's (\(activeLayout.fingerprint)): the service's decisions cannot be replayed to it")
        }
        let records = log.records.filter { ($0.contextSchema ?? candidateLayout.standardFingerprint) == candidateLayout.fingerprint }
        let configuration = BootstrapConfiguration(replicates: bootstrap, seed: seed)
        func estimate(_ policy: any DecisionPolicy) throws -> Estimate {
            let evaluation = try PolicyEvaluation(target: policy, records: records, decisionSeed: seed)
            return try OffPolicyReport(decisions: evaluation.decisions, bootstrap: configuration).dr
        }
        guard !records.isEmpty else {
            throw NoEvidence(
                description: "no decision in the stream has a closed reward window (\(log.read) read, \(log.stillOpen) still open, \(log.unmatched) unmatched): serve more traffic first")
        }
        let (candidateEstimate, activeEstimate) = try (estimate(candidate), estimate(active.policy))
        return Evidence(
            decisions: records.count, value: candidateEstimate.value, low: candidateEstimate.lower95, high: candidateEstimate.upper95,
            effectiveSampleSize: candidateEstimate.effectiveSampleSize, activeVersion: active.version, activeValue: activeEstimate.value,
            activeLow: activeEstimate.lower95, activeHigh: activeEstimate.upper95,
            threshold: activeEstimate.value - tolerance * abs(activeEstimate.value), tolerance: tolerance, windowDays: windowDays, weights: weights, log: log,
            otherLayout: log.records.count - records.count, minDecisions: minDecisions)
    }
}

/// `adload policy rollback [VERSION]`.
struct PolicyRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Makes an earlier version active again: VERSION, or the one active before the current version's promotion.",
        discussion: """
        Without VERSION it undoes the last change that was not the learner's: the current \
        version's lineage is followed back through the learner's publications to the \
        promotion (or rollback) that started it, and the version active before that returns. \
        The version must be stored in the registry and load. A running learner stops at its \
        next publication (restart it to learn from the restored version).
        """)

    @Argument(help: "The version to make active (default: the one before the current version's promotion).")
    var version: String?

    @OptionGroup(title: "Redis")
    var redisOptions: RedisOptions

    @Option(help: "Environment configuration whose feature schema the version must load with (as `adload serve --env`).")
    var env = "env/default.json"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        let config = try loadEnvironment(env)
        let (active, target) = try await redisOptions.withStore { store, address -> (String, String) in
            let active = try await loadActivePolicy(store: store, address: address, schema: config.featureSchema)
            let history = try await store.policyHistory(limit: RegistryEvent.historyLimit)
            let target: String
            if let version {
                target = version
            } else {
                do { target = try RegistryEvent.versionBefore(active.version, history: history) } catch { throw CLIError("\(error)") }
            }
            guard target != active.version else { throw CLIError("\(target) is already the active version; nothing changed") }
            guard let blob = try await store.policyBlob(version: target) else {
                throw CLIError("the registry holds no version \(target) (`adload policy list` shows what it holds)")
            }
            do { _ = try PolicyFile.parse(blob, file: "registry:\(target)", expectedSchema: config.featureSchema) } catch {
                throw CLIError("version \(target) does not load, so it would not serve: \(error)")
            }
            let event = RegistryEvent(
                version: target, previous: active.version, action: .rollback, at: RegistryEvent.now(),
                by: "adload policy rollback (\(whoAndWhere()))")
            try await publishOverLineage(store: store, version: target, blob: nil, expected: active.version, event: event)
            return (active.version, target)
        }
        if json {
            print("{\"rolled_back\": true, \"version\": \(JSONValue.quoted(target)), \"previous\": \(JSONValue.quoted(active))}")
        } else {
            print("rolled back: \(target) is active (was \(active))")
        }
    }
}
