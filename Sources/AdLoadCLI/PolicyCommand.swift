import AdLoadCore
import ArgumentParser
import DecisionService
import Foundation
import Policies

/// `adload policy`: inspecting policy files (docs/inspection.md).
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Inspects policy files (what a policy is, why it decides what it decides, what it would change) and changes what a deployment serves.",
        subcommands: [
            PolicyShow.self, PolicyExplain.self, PolicyWhatIf.self, PolicyDiff.self, PolicyUplift.self, PolicyReport.self, PolicyList.self,
            PolicyPromote.self, PolicyRollback.self,
        ])
}

/// Loads a policy file of any kind, with its version (the checksum), or fails naming the file.
func loadPolicyFile(_ path: String) throws -> (policy: any DecisionPolicy, version: String) {
    do {
        return (try PolicyFile.load(path: path, expectedSchema: nil), policyVersion(path))
    } catch {
        throw CLIError(error.description)
    }
}

/// `adload policy show FILE`.
struct PolicyShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "What a policy file holds: kind, version, provenance, hyper-parameters, features, reward, training curve, most influential features.")

    @Argument(help: "The policy file.")
    var file: String?

    @Flag(help: "Show the registry's active version instead of a file.")
    var active = false

    @OptionGroup(title: "Redis (with --active)")
    var redisOptions: RedisOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "How many of the most influential features to list.")
    var top = 8

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
        guard (file == nil) == active else { throw ValidationError("name a policy file or pass --active, not both or neither") }
    }

    func run() async throws {
        let policy: any DecisionPolicy, version: String, source: String
        var curve: (column: String, values: [Double])?
        if let file {
            (policy, version) = try loadPolicyFile(file)
            source = file
            curve = Self.trainingCurve(next: file)
        } else {
            let loaded = try await redisOptions.withStore { store, address in try await loadActivePolicy(store: store, address: address, schema: nil) }
            (policy, version, source) = (loaded.policy, loaded.version, "registry (active)")
        }
        show(policy, version: version, source: source, curve: curve)
    }

    func show(_ policy: any DecisionPolicy, version: String, source: String, curve: (column: String, values: [Double])?) {
        let kind = policy is LinearBanditPolicy ? "linear-bandit" : "network"
        let influence = Self.influence(of: policy)
        let ranked = influence.sorted { $0.value > $1.value }.prefix(top)
        let provenance = policy.provenance
        let pricing: (impressions: Double, negatives: Double, organicItems: Double)? =
            if let scales = (policy as? LinearBanditPolicy)?.bandit.pricing?.scales { scales }
            else if let scales = (policy as? NetworkPolicy)?.pricing?.scales { (scales[0], scales[1], scales[2]) }
            else { nil }
        if json {
            let number = JSONNumber.json
            func object(_ pairs: [(String, String)]) -> String { "{" + pairs.map { "\(JSONValue.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}" }
            let fields: [(String, String)] = [
                ("kind", JSONValue.quoted(kind)),
                ("algorithm", JSONValue.quoted(policy.algorithm)),
                ("version", JSONValue.quoted(version)),
                ("provenance", object([
                    ("env", JSONValue.quoted(provenance.environment)), ("env_file", JSONValue.quoted(provenance.environmentFile)),
                    ("env_fingerprint", JSONValue.quoted(provenance.environmentFingerprint)), ("seed", "\(provenance.seed)"),
                    ("sessions", "\(provenance.sessions)"), ("users", "\(provenance.users)"), ("days", "\(provenance.days)"),
                    ("trained_at", JSONValue.quoted(provenance.trainedAt)), ("source", JSONValue.quoted(provenance.source.rawValue)),
                ])),
                ("hyperparameters", object(policy.hyperparameters.map { ($0.name, number($0.value)) })),
                ("features", "[" + policy.schema.contextNames.map(JSONValue.quoted).joined(separator: ", ") + "]"),
                ("descriptors", "[" + policy.schema.descriptorNames.map(JSONValue.quoted).joined(separator: ", ") + "]"),
                ("reward", object(policy.reward.sorted { $0.key < $1.key }.map { ($0.key, number($0.value)) })),
                ("priced", pricing == nil ? "false" : "true"),
                ("influential_features", "[" + ranked.map { object([("feature", JSONValue.quoted($0.name)), ("influence", number($0.value))]) }.joined(separator: ", ") + "]"),
                ("training_curve", curve.map { "{\"column\": \(JSONValue.quoted($0.column)), \"values\": [" + $0.values.map(number).joined(separator: ", ") + "]}" } ?? "null"),
            ]
            print(object(fields))
            return
        }
        print("\(source): \(kind) (\(policy.algorithm)), version \(version)")
        print("  trained on \(provenance.environment) (\(provenance.environmentFile)), seed \(provenance.seed), \(provenance.users) users × \(provenance.days) days, \(provenance.sessions) sessions, from \(provenance.source.rawValue), at \(provenance.trainedAt)")
        print("  hyper-parameters: " + policy.hyperparameters.map { "\($0.name) \(JSONNumber.compact($0.value))" }.joined(separator: ", "))
        print("  reward: " + policy.reward.sorted { $0.key < $1.key }.map { "\($0.key) \(JSONNumber.compact($0.value))" }.joined(separator: ", "))
        print("  features (\(policy.schema.contextCount)): " + policy.schema.contextNames.joined(separator: ", "))
        print("  plan descriptors: " + policy.schema.descriptorNames.joined(separator: ", "))
        if let scales = pricing {
            print(String(format: "  priced: revenue per impression %.5f, per negative reaction %.4f, per organic item %.6f", scales.impressions, scales.negatives, scales.organicItems))
        } else {
            print("  priced: no (pacing prices do not move it)")
        }
        if let curve {
            print("  training curve (\(curve.column), \(curve.values.count) points): \(Self.sparkline(curve.values)) \(JSONNumber.compact(curve.values.first ?? 0)) → \(JSONNumber.compact(curve.values.last ?? 0))")
        } else {
            print("  training curve: none next to the file")
        }
        print("  most influential features (\(kind == "network" ? "first-layer weight norm per normalized input" : "norm of the feature's weights over the plan descriptors")):")
        for entry in ranked { print("    " + entry.name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " %.4g", entry.value)) }
    }

    /// Per context feature, how much it moves the policy's scores: for a linear bandit the
    /// norm of its row of Θ (|q| weights, one per plan descriptor), for a network the norm of
    /// the first layer's weights on its normalized input.
    static func influence(of policy: any DecisionPolicy) -> [(name: String, value: Double)] {
        let names = policy.schema.contextNames
        if let bandit = (policy as? LinearBanditPolicy)?.bandit {
            let nq = bandit.descriptorCount
            let theta: [Double] = Array(bandit.model.theta)
            return names.indices.map { i -> (name: String, value: Double) in
                var sum = 0.0
                for j in 0..<nq { sum += theta[i * nq + j] * theta[i * nq + j] }
                return (names[i], sum.squareRoot())
            }
        }
        if let networkPolicy = policy as? NetworkPolicy, let first = networkPolicy.network.layers.first {
            let inputs = names + (networkPolicy.pricing == nil ? [] : NetworkPricing.priceNames.map { "price:\($0)" })
            return inputs.indices.map { i -> (name: String, value: Double) in
                var sum = 0.0
                for row in 0..<first.weights.rows { sum += first.weights[row, i] * first.weights[row, i] }
                return (inputs[i], sum.squareRoot())
            }
        }
        return []
    }

    /// The learning curve written next to a policy file (`NAME.csv`): its mean reward or
    /// return column, or `nil` when there is none.
    static func trainingCurve(next file: String) -> (column: String, values: [Double])? {
        let path = URL(fileURLWithPath: file).deletingPathExtension().appendingPathExtension("csv").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n")
        guard let header = lines.first?.split(separator: ",").map(String.init),
              let column = header.firstIndex(of: "mean_reward") ?? header.firstIndex(of: "mean_return") else { return nil }
        let values = lines.dropFirst().compactMap { line -> Double? in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            return column < cells.count ? Double(cells[column]) : nil
        }
        let finite = values.filter(\.isFinite)
        return finite.isEmpty ? nil : (header[column], finite)
    }

    /// Eight-level block characters, at most 60 (longer series are averaged into 60 buckets).
    static func sparkline(_ values: [Double]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        let width = min(60, values.count)
        let buckets = (0..<width).map { b -> Double in
            let range = (b * values.count / width)..<max(b * values.count / width + 1, (b + 1) * values.count / width)
            return values[range].reduce(0, +) / Double(range.count)
        }
        guard let low = buckets.min(), let high = buckets.max(), high > low else { return String(repeating: "▄", count: width) }
        return String(buckets.map { blocks[min(7, Int((($0 - low) / (high - low)) * 8))] })
    }
}

/// `adload policy explain FILE --context JSON`.
struct PolicyExplain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Every valid plan for one context with its score, the score's parts and its probability, and the plan the policy chooses: exactly what /v1/decide would log.")

    @Argument(help: "The policy file.")
    var file: String

    @Option(help: ArgumentHelp(
        "The context: a JSON file, or the JSON itself.",
        discussion: """
            The decide request's fields (user_id, session_id, region, device, hour, feed_length, and optionally \
            tenure, ad_formats, timestamp), plus optionally "history" (the user's record as the service keeps it: \
            last_visit, last_update, week, month, recent_dwell, total_sessions, ad_reactions, ads_today), \
            "decision_id" (keys the decision's random stream; default "explain") and "prices" (revenue, \
            impressions, negatives, organic). See docs/inspection.md.
            """))
    var context: String

    @Option(help: "Environment configuration whose placement rules decide the valid plans.")
    var env = "env/default.json"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let (engine, version) = try explainEngine(file: file, env: env)
        let (source, text) = try contextText(context)
        let (candidates, explanation) = try explainContext(engine, text, source: source)
        let policy = engine.policy
        let chosen = explanation.choice
        let number = JSONNumber.json
        if json {
            let plans = candidates.indices.map { k in
                let plan = explanation.plans[k]
                return "{\"plan\": \(JSONValue.quoted(candidates[k].spec.description)), \"ad_positions\": [\(candidates[k].plan.positions.map(String.init).joined(separator: ", "))], "
                    + "\"value\": \(number(plan.value)), \"bonus\": \(number(plan.bonus)), \"price\": \(number(plan.price)), "
                    + "\"score\": \(number(plan.score)), \"probability\": \(number(plan.probability))}"
            }
            print("{\"policy\": \(JSONValue.quoted(file)), \"version\": \(JSONValue.quoted(version)), \"rule\": \(JSONValue.quoted(explanation.rule)), "
                + "\"probabilities\": \(JSONValue.quoted(explanation.probabilityKind.label)), \"plans\": [" + plans.joined(separator: ", ") + "], "
                + "\"chosen\": {\"index\": \(chosen.index), \"plan\": \(JSONValue.quoted(candidates[chosen.index].spec.description)), "
                + "\"ad_positions\": [\(candidates[chosen.index].plan.positions.map(String.init).joined(separator: ", "))], "
                + "\"probability\": \(number(chosen.probability)), \"propensity\": \(JSONValue.quoted(chosen.propensityKind.label))}}")
            return
        }
        print("\(file) (\(policy.algorithm), version \(version)): \(candidates.count) valid plans; rule: \(explanation.rule)")
        print("  plan                             value      bonus      price      score  probability")
        let order = candidates.indices.sorted { explanation.plans[$0].score > explanation.plans[$1].score }
        for k in order.prefix(20) {
            let plan = explanation.plans[k]
            let mark = k == chosen.index ? "→" : " "
            let name = candidates[k].spec.description.padding(toLength: 28, withPad: " ", startingAt: 0)
            print("\(mark) \(name)" + String(format: " %9.5f  %9.5f  %9.5f  %9.5f  %.4f", plan.value, plan.bonus, plan.price, plan.score, plan.probability))
        }
        if candidates.count > 20 { print("  … \(candidates.count - 20) more (--json lists all)") }
        let best = order.first ?? chosen.index
        let why = best == chosen.index
            ? "it has the highest score"
            : "the rule draws: its score ranks \(1 + (order.firstIndex(of: chosen.index) ?? 0)) of \(candidates.count)"
        print("chosen: \(candidates[chosen.index].spec) at positions \(candidates[chosen.index].plan.positions), probability \(JSONNumber.compact(chosen.probability)) (\(chosen.propensityKind.label)): \(why)")
    }
}

/// The decision engine `explain` and `whatif` decide with: the policy file under the
/// environment's placement rules, as the service would serve it.
func explainEngine(file: String, env: String) throws -> (engine: DecisionEngine, version: String) {
    let config = try loadEnvironment(env)
    let (policy, version) = try loadPolicyFile(file)
    let rules = Dictionary(uniqueKeysWithValues: config.regions.map { ($0.name, $0.rules) })
    do { return (try DecisionEngine(policy: policy, version: version, rules: rules), version) } catch { throw CLIError("\(file): \(error)") }
}

/// `--context`: the JSON itself (it starts with `{`) or a file holding it; the name errors use, and the bytes.
func contextText(_ context: String) throws -> (source: String, text: Data) {
    let inline = context.trimmingCharacters(in: .whitespaces).hasPrefix("{")
    do { return inline ? ("--context", Data(context.utf8)) : (context, try ConfigReader.contents(of: context)) } catch { throw CLIError(error.description) }
}

/// Explains the decision for one context text, as `/v1/decide` would make it.
func explainContext(_ engine: DecisionEngine, _ text: Data, source: String) throws -> (candidates: [CandidatePlan], explanation: PolicyExplanation) {
    let input: ExplainContext
    do { input = try ExplainContext(text, file: source) } catch { throw CLIError(error.description) }
    let request: ResolvedDecisionRequest
    do { request = try engine.resolve(input.request) } catch { throw CLIError("\(source): \(error.field): \(error.message)") }
    // As /v1/decide: the request's timestamp, or now.
    let time = (input.request.timestamp ?? Date().timeIntervalSince1970) / 86_400
    return engine.explain(request, record: input.record, decisionID: input.decisionID, time: time, prices: input.prices)
}

/// `adload policy whatif FILE --context JSON --vary PATH=FROM:TO:STEPS`.
struct PolicyWhatIf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whatif",
        abstract: "How the chosen plan and its probability move as one input of the context moves.")

    @Argument(help: "The policy file.")
    var file: String

    @Option(help: "The context, as for `policy explain`: a JSON file, or the JSON itself.")
    var context: String

    @Option(help: ArgumentHelp(
        "The input to move: PATH=FROM:TO:STEPS.",
        discussion: "PATH is a numeric key of the context (hour, feed_length, timestamp) or of its history (history.total_sessions, history.recent_dwell, history.week.1 for the second of week's counts, …). Integer keys are rounded."))
    var vary: String

    @Option(help: "Environment configuration whose placement rules decide the valid plans.")
    var env = "env/default.json"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    /// Context keys that hold integers.
    static let integerKeys: Set<String> = ["hour", "feed_length", "history.total_sessions", "history.ads_today"]

    func run() throws {
        let (path, values) = try parseVary()
        let (engine, _) = try explainEngine(file: file, env: env)
        let (source, text) = try contextText(context)
        let document: JSONValue
        do { document = try JSONValue.parse(text, file: source) } catch { throw CLIError(error.description) }
        let keys = path.split(separator: ".").map(String.init)
        guard case .number? = Self.value(in: document, at: keys) else {
            throw CLIError("--vary: \(source) has no number at '\(path)' (a numeric key of the context or its history, such as hour or history.total_sessions)")
        }
        var rows: [(value: Double, plan: String, positions: [Int], probability: Double, top: String, topProbability: Double)] = []
        for raw in values {
            let value = Self.integerKeys.contains(path) ? raw.rounded() : raw
            let varied = Self.replacing(document, at: keys[...], with: .number(value))
            let (candidates, explanation) = try explainContext(engine, Data(varied.canonicalText.utf8), source: "\(source) with \(path) = \(JSONNumber.compact(value))")
            let chosen = explanation.choice.index
            let top = explanation.plans.indices.max { explanation.plans[$0].probability < explanation.plans[$1].probability } ?? chosen
            rows.append((value, candidates[chosen].spec.description, candidates[chosen].plan.positions, explanation.choice.probability,
                         candidates[top].spec.description, explanation.plans[top].probability))
        }
        let number = JSONNumber.json
        if json {
            let steps = rows.map {
                "{\"value\": \(number($0.value)), \"chosen\": {\"plan\": \(JSONValue.quoted($0.plan)), \"ad_positions\": [\($0.positions.map(String.init).joined(separator: ", "))], \"probability\": \(number($0.probability))}, "
                    + "\"most_likely\": {\"plan\": \(JSONValue.quoted($0.top)), \"probability\": \(number($0.topProbability))}}"
            }
            print("{\"policy\": \(JSONValue.quoted(file)), \"vary\": \(JSONValue.quoted(path)), \"steps\": [" + steps.joined(separator: ", ") + "]}")
            return
        }
        print("\(file): as \(path) moves (chosen plan and its probability; the most likely plan)")
        for row in rows {
            print("  \(path) = \(JSONNumber.compact(row.value)): \(row.plan) (p \(String(format: "%.4f", row.probability))); most likely \(row.top) (p \(String(format: "%.4f", row.topProbability)))")
        }
    }

    /// PATH and the STEPS values from FROM to TO.
    func parseVary() throws -> (path: String, values: [Double]) {
        let parts = vary.split(separator: "=", maxSplits: 1).map(String.init)
        let range = parts.count == 2 ? parts[1].split(separator: ":").map(String.init) : []
        guard parts.count == 2, !parts[0].isEmpty, range.count == 3, let from = Double(range[0]), let to = Double(range[1]),
              let steps = Int(range[2]), (2...1000).contains(steps), from.isFinite, to.isFinite else {
            throw ValidationError("--vary must be PATH=FROM:TO:STEPS with numbers FROM and TO and 2...1000 STEPS, got '\(vary)'")
        }
        return (parts[0], (0..<steps).map { from + (to - from) * Double($0) / Double(steps - 1) })
    }

    /// The value at a dotted path (object keys, array indices).
    static func value(in document: JSONValue, at keys: [String]) -> JSONValue? {
        var current = document
        for key in keys {
            switch current {
            case let .object(fields): guard let next = fields[key] else { return nil }; current = next
            case let .array(items): guard let index = Int(key), items.indices.contains(index) else { return nil }; current = items[index]
            default: return nil
            }
        }
        return current
    }

    /// `document` with the value at `keys` replaced (the path exists: ``value(in:at:)`` found it).
    static func replacing(_ document: JSONValue, at keys: ArraySlice<String>, with value: JSONValue) -> JSONValue {
        guard let key = keys.first else { return value }
        switch document {
        case var .object(fields):
            fields[key] = replacing(fields[key] ?? .null, at: keys.dropFirst(), with: value)
            return .object(fields)
        case var .array(items):
            guard let index = Int(key), items.indices.contains(index) else { return document }
            items[index] = replacing(items[index], at: keys.dropFirst(), with: value)
            return .array(items)
        default:
            return document
        }
    }
}

/// The `--context` of `policy explain`, read strictly: unknown keys and wrong types are
/// errors naming the key.
struct ExplainContext {
    var request: DecisionRequest
    var record: UserRecord?
    var decisionID: String
    var prices: PacingPrices?

    static let requestKeys = ["user_id", "session_id", "region", "device", "hour", "feed_length"]
    static let optionalKeys = ["tenure", "ad_formats", "timestamp", "history", "decision_id", "prices"]
    static let historyKeys = ["last_visit", "last_update", "week", "month", "recent_dwell", "total_sessions", "ad_reactions", "ads_today"]

    init(_ data: Data, file: String) throws(ConfigError) {
        let top = try ConfigReader(data: data, file: file, keys: Self.requestKeys, optionalKeys: Self.optionalKeys)
        let any = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        let tenure = top.has("tenure") ? try top.string("tenure") : nil
        let formats = top.has("ad_formats") ? try top.names("ad_formats") : nil
        request = DecisionRequest(
            userID: try top.string("user_id"), sessionID: try top.string("session_id"), region: try top.string("region"),
            device: try top.string("device"), hour: try top.integer("hour", in: Int.min...Int.max),
            feedLength: try top.integer("feed_length", in: Int.min...Int.max), tenure: tenure, adFormats: formats,
            timestamp: top.has("timestamp") ? try top.number("timestamp", in: 0...1e12) : nil)
        decisionID = top.has("decision_id") ? try top.string("decision_id") : "explain"
        if top.has("history") {
            let history = try top.object("history", keys: Self.historyKeys)
            record = UserRecord(
                lastVisit: history.isNull("last_visit") ? nil : try history.number("last_visit", in: any),
                lastUpdate: history.isNull("last_update") ? nil : try history.number("last_update", in: any),
                week: try history.numbers("week", count: 5, in: 0...Double.greatestFiniteMagnitude),
                month: try history.numbers("month", count: 5, in: 0...Double.greatestFiniteMagnitude),
                recentDwell: try history.number("recent_dwell", in: 0...Double.greatestFiniteMagnitude),
                totalSessions: try history.integer("total_sessions", in: 0...Int.max),
                adReactions: try history.numbers("ad_reactions", count: 2, in: 0...Double.greatestFiniteMagnitude),
                adsToday: try history.integer("ads_today", in: 0...Int.max))
        }
        if top.has("prices") {
            let prices = try top.object("prices", keys: ["revenue", "impressions", "negatives", "organic"])
            self.prices = PacingPrices(
                revenue: try prices.number("revenue", in: 0...1e6), impressions: try prices.number("impressions", in: 0...1e6),
                negatives: try prices.number("negatives", in: 0...1e6), organic: try prices.number("organic", in: 0...1e6))
        }
    }
}
