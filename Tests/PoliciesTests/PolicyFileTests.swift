@testable import AdLoadCore
import Foundation
@testable import Policies
import Testing

/// A JSON rendering independent of the writer's (compact, keys sorted, numbers in Swift's
/// shortest round-trip form), for building edited policy documents.
func renderJSON(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case let .bool(flag): return flag ? "true" : "false"
    case let .number(number):
        return number == number.rounded() && abs(number) < 1e15 ? "\(Int(number))" : "\(number)"
    case let .string(text):
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    case let .array(items): return "[" + items.map(renderJSON).joined(separator: ",") + "]"
    case let .object(fields):
        return "{" + fields.keys.sorted().map { renderJSON(.string($0)) + ":" + renderJSON(fields[$0] ?? .null) }.joined(separator: ",") + "}"
    }
}

/// The document with its checksum recomputed, as a tool that edits policies on purpose would write it.
func sealed(_ document: JSONValue) -> String {
    guard case var .object(fields) = document else { return renderJSON(document) }
    fields["checksum"] = .string(PolicyFile.checksum(of: document))
    return renderJSON(.object(fields))
}

extension JSONValue {
    /// The value at a dotted path ("parameters.a"), or `nil`.
    subscript(path path: String) -> JSONValue? {
        get {
            var current: JSONValue? = self
            for key in path.split(separator: ".") {
                guard case let .object(fields)? = current else { return nil }
                current = fields[String(key)]
            }
            return current
        }
        set {
            let keys = path.split(separator: ".").map(String.init)
            self = Self.replacing(self, keys[...], with: newValue)
        }
    }

    private static func replacing(_ value: JSONValue, _ keys: ArraySlice<String>, with newValue: JSONValue?) -> JSONValue {
        guard let key = keys.first, case var .object(fields) = value else { return newValue ?? .null }
        if keys.count == 1 {
            fields[key] = newValue
        } else if let child = fields[key] {
            fields[key] = replacing(child, keys.dropFirst(), with: newValue)
        }
        return .object(fields)
    }

    /// The numbers of an array value.
    var numbers: [Double] {
        guard case let .array(items) = self else { return [] }
        return items.compactMap { item in
            if case let .number(number) = item { return number }
            return nil
        }
    }
}

/// Policy files: deterministic round trips, and one clear error line per corruption.
@Suite("Policy files")
struct PolicyFileTests {
    static let schema = FeatureSchema(regions: ["us", "eu", "br"], devices: ["ios", "android"], tenures: ["new", "established"])

    static let provenance = PolicyProvenance(
        environment: "baseline", environmentFile: "env/baseline.json", environmentFingerprint: "fnv1a64:0123456789abcdef", seed: 42, sessions: 200_000, users: 5000, days: 14,
        trainedAt: "2025-03-01T08:30:00Z", source: .simulation)

    static let reward = ["revenue": 1.0, "watch_time": 0.02, "negative_feedback": -0.5, "retention": 3]

    /// A policy trained on 300 random observations, so A, b and θ hold arbitrary (non-round) numbers.
    static func policy(_ algorithm: BanditAlgorithm) throws -> LinearBanditPolicy {
        var random = TestRandom(seed: 0xF11E)
        let bandit = try trainedBandit(
            contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: algorithm, updates: 300,
            using: &random)
        return LinearBanditPolicy(bandit: bandit, schema: schema, planFamily: .standard, reward: reward, provenance: provenance)
    }

    /// A fresh directory for one test's files.
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("policies-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static let algorithms: [BanditAlgorithm] = [
        .linUCB(alpha: 0.8, explorationFloor: 0.05),
        .thompson(scale: 0.5, propensitySamples: 64),
        .epsilonGreedy(epsilon: 0.1),
        .softmax(temperature: 0.25, explorationFloor: 0.1),
    ]

    @Test("write → load → write is byte-identical and the loaded policy makes the same decisions", arguments: algorithms)
    func roundTrip(algorithm: BanditAlgorithm) throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = try Self.policy(algorithm)
        let first = directory.appendingPathComponent("first.json").path
        let second = directory.appendingPathComponent("second.json").path
        try original.write(to: first)
        let loaded = try LinearBanditPolicy.load(path: first, expectedSchema: Self.schema)
        try loaded.write(to: second)
        let firstBytes = try Data(contentsOf: URL(fileURLWithPath: first))
        #expect(firstBytes == (try Data(contentsOf: URL(fileURLWithPath: second))))
        #expect(try original.rendered() == String(decoding: firstBytes, as: UTF8.self))

        #expect(loaded.bandit.algorithm == algorithm)
        #expect(loaded.schema == Self.schema && loaded.planFamily == .standard)
        #expect(loaded.reward == Self.reward && loaded.provenance == Self.provenance)
        #expect(loaded.bandit.model.a == original.bandit.model.a && loaded.bandit.model.b == original.bandit.model.b)
        #expect(loaded.bandit.model.updateCount == original.bandit.model.updateCount)

        // The original's A⁻¹ and θ come from rank-one updates, the loaded one's from LAPACK:
        // equal up to rounding, so the same choices with propensities equal to 1e-9.
        var random = TestRandom(seed: 0xDEC)
        var scratch = original.bandit.makeScratch(maxCandidates: 20)
        let candidates = PlanCatalog(
            family: .standard,
            rules: [try PlacementRules(firstSlot: 2, minGap: 1, maxShare: 0.5, maxAdsPerSession: 20, dailyCap: nil)]
        ).byRegion[0]
        let reloaded = try LinearBanditPolicy.load(path: second, expectedSchema: nil)
        for _ in 0..<50 {
            let c = randomContext(Self.schema.contextCount, using: &random)
            let stream = random.stream()
            let expected = original.bandit.decide(context: c, candidates: candidates, random: stream, scratch: &scratch)
            let actual = loaded.bandit.decide(context: c, candidates: candidates, random: stream, scratch: &scratch)
            #expect(actual.index == expected.index)
            #expect(abs(actual.probability - expected.probability) <= 1e-9)
            #expect(reloaded.bandit.decide(context: c, candidates: candidates, random: stream, scratch: &scratch) == actual)
        }
    }

    @Test("the checksum covers the values, not the layout: a re-indented, re-ordered file still loads")
    func checksumIgnoresLayout() throws {
        let text = try Self.policy(.epsilonGreedy(epsilon: 0.1)).rendered()
        let document = try JSONValue.parse(Data(text.utf8), file: "policy.json")
        let compact = renderJSON(document)
        #expect(compact != text)
        let loaded = try LinearBanditPolicy.parse(Data(compact.utf8), file: "compact.json", expectedSchema: Self.schema)
        #expect(try loaded.rendered() == text)
    }

    /// FNV-1a 64 written out from its definition, checked on the published test vectors.
    static func fnv1a64(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    @Test("the checksum is FNV-1a 64 of the compact, key-sorted rendering without the checksum field")
    func checksumDefinition() {
        #expect(Self.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(Self.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(Self.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
        let document = JSONValue.object([
            "zeta": .array([.number(1), .number(0.5), .number(-2e-7)]),
            "alpha": .object(["y": .string("q\"uote"), "x": .bool(true)]),
            "checksum": .string("ignored"),
        ])
        let canonical = #"{"alpha":{"x":true,"y":"q\"uote"},"zeta":[1,0.5,-2e-07]}"#
        let hex = String(Self.fnv1a64(canonical), radix: 16)
        #expect(PolicyFile.checksum(of: document) == "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// One way to damage a policy file, and the field its error must name.
    struct Corruption: Sendable, CustomTestStringConvertible {
        let name: String
        /// The file's text after the damage, from the original text and its parsed document.
        let damage: @Sendable (String, JSONValue) -> String
        let key: String?
        let problem: String

        var testDescription: String { name }
    }

    static let corruptions: [Corruption] = [
        Corruption(name: "an edited parameter without a new checksum", damage: { _, document in
            var edited = document
            var b = document[path: "parameters.b"]?.numbers ?? []
            b[3] += 0.001
            edited[path: "parameters.b"] = .array(b.map { .number($0) })
            return renderJSON(edited)
        }, key: "checksum", problem: "checksum mismatch: file says fnv1a64:"),
        Corruption(name: "an edited hyper-parameter in the text", damage: { text, _ in
            text.replacingOccurrences(of: "\"epsilon\": 0.1", with: "\"epsilon\": 0.2")
        }, key: "checksum", problem: ", content hashes to fnv1a64:"),
        Corruption(name: "a wrong version", damage: { _, document in
            var edited = document
            edited[path: "version"] = .number(2)
            return sealed(edited)
        }, key: "version", problem: "unsupported policy file version (this build reads version 1)"),
        Corruption(name: "a wrong format", damage: { _, document in
            var edited = document
            edited[path: "format"] = .string("adload-environment")
            return sealed(edited)
        }, key: "format", problem: "expected \"adload-policy\""),
        Corruption(name: "an unknown top-level key", damage: { _, document in
            var edited = document
            edited[path: "notes"] = .string("tuned by hand")
            return sealed(edited)
        }, key: "notes", problem: "unknown key"),
        Corruption(name: "an unknown hyper-parameter", damage: { _, document in
            var edited = document
            edited[path: "hyperparameters.alpha"] = .number(1)
            return sealed(edited)
        }, key: "hyperparameters.alpha", problem: "unknown key (allowed here: epsilon)"),
        Corruption(name: "a missing key", damage: { _, document in
            var edited = document
            edited[path: "provenance.seed"] = nil
            return sealed(edited)
        }, key: "provenance.seed", problem: "is missing"),
        Corruption(name: "a hyper-parameter out of range", damage: { _, document in
            var edited = document
            edited[path: "hyperparameters.epsilon"] = .number(1.5)
            return sealed(edited)
        }, key: "hyperparameters.epsilon", problem: "out of range, expected a number in [0, 1]"),
        Corruption(name: "an A of the wrong length", damage: { _, document in
            var edited = document
            edited[path: "parameters.a"] = .array((document[path: "parameters.a"]?.numbers ?? []).dropLast().map { .number($0) })
            return sealed(edited)
        }, key: "parameters.a", problem: "dimension mismatch: expected exactly 2704 numbers"),
        Corruption(name: "a b of the wrong length", damage: { _, document in
            var edited = document
            edited[path: "parameters.b"] = .array(((document[path: "parameters.b"]?.numbers ?? []) + [0]).map { .number($0) })
            return sealed(edited)
        }, key: "parameters.b", problem: "dimension mismatch: expected exactly 52 numbers"),
        Corruption(name: "a symmetric A that is not positive definite", damage: { _, document in
            var edited = document
            var a = document[path: "parameters.a"]?.numbers ?? []
            a[0] = -1
            edited[path: "parameters.a"] = .array(a.map { .number($0) })
            return sealed(edited)
        }, key: "parameters.a", problem: "is not symmetric positive definite (the leading minor of order 1 is not positive)"),
        Corruption(name: "an asymmetric A", damage: { _, document in
            var edited = document
            var a = document[path: "parameters.a"]?.numbers ?? []
            a[1] += 1
            edited[path: "parameters.a"] = .array(a.map { .number($0) })
            return sealed(edited)
        }, key: "parameters.a", problem: "is not symmetric: element (1, 0)"),
        Corruption(name: "a context list that does not follow from the categories", damage: { _, document in
            var edited = document
            edited[path: "feature_schema.regions"] = .array([.string("us"), .string("eu"), .string("mx")])
            return sealed(edited)
        }, key: "feature_schema.context[2]", problem: "expected 'region=mx' here"),
        Corruption(name: "an unknown history feature", damage: { _, document in
            var edited = document
            guard case var .array(names)? = document[path: "feature_schema.context"] else { return "" }
            names[12] = .string("lifetime_ctr")
            edited[path: "feature_schema.context"] = .array(names)
            return sealed(edited)
        }, key: "feature_schema.context[12]", problem: "not a history feature of this build (known: new_user,"),
        Corruption(name: "a history feature listed twice", damage: { _, document in
            var edited = document
            guard case var .array(names)? = document[path: "feature_schema.context"] else { return "" }
            names[12] = .string("new_user")
            edited[path: "feature_schema.context"] = .array(names)
            return sealed(edited)
        }, key: "feature_schema.context[12]", problem: "expected a non-empty string, distinct from the ones before it"),
        Corruption(name: "another feature schema version", damage: { _, document in
            var edited = document
            edited[path: "feature_schema.version"] = .number(Double(FeatureSchema.version + 1))
            return sealed(edited)
        }, key: "feature_schema.version", problem: "schema mismatch: the policy was trained with feature schema version"),
        Corruption(name: "a malformed checksum", damage: { _, document in
            var edited = document
            edited[path: "checksum"] = .string("crc32:1234")
            return renderJSON(edited)
        }, key: "checksum", problem: "expected \"fnv1a64:\" followed by 16 lowercase hex digits"),
        Corruption(name: "a date that is not ISO 8601", damage: { _, document in
            var edited = document
            edited[path: "provenance.trained_at"] = .string("last tuesday")
            return sealed(edited)
        }, key: "provenance.trained_at", problem: "expected an ISO 8601 date-time"),
        Corruption(name: "text that is not JSON", damage: { text, _ in String(text.dropLast(3)) }, key: nil, problem: "is not valid JSON"),
    ]

    @Test("each corruption gives one error line naming the file and the field", arguments: corruptions)
    func corruption(_ corruption: Corruption) throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = try Self.policy(.epsilonGreedy(epsilon: 0.1)).rendered()
        let document = try JSONValue.parse(Data(text.utf8), file: "policy.json")
        let path = directory.appendingPathComponent("damaged.json").path
        try Data(corruption.damage(text, document).utf8).write(to: URL(fileURLWithPath: path))

        let error = try #require(throws: ConfigError.self) {
            try LinearBanditPolicy.load(path: path, expectedSchema: Self.schema)
        }
        #expect(error.file == path)
        #expect(error.key == corruption.key, "\(error)")
        #expect(error.problem.contains(corruption.problem), "\(error)")
        #expect(!error.description.contains("\n") && error.description.hasPrefix(path), "\(error)")
    }

    @Test("a policy trained under another feature schema is rejected, naming the first differing feature")
    func schemaMismatch() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.json").path
        try Self.policy(.softmax(temperature: 1)).write(to: path)

        let reordered = FeatureSchema(regions: ["us", "br", "eu"], devices: ["ios", "android"], tenures: ["new", "established"])
        let error = try #require(throws: ConfigError.self) { try LinearBanditPolicy.load(path: path, expectedSchema: reordered) }
        #expect(error.key == "feature_schema.context[1]" && error.value == "\"region=eu\"", "\(error)")
        #expect(error.problem == "schema mismatch: expected 'region=br' here", "\(error)")

        let moreDevices = FeatureSchema(regions: ["us", "eu", "br"], devices: ["ios", "android", "web"], tenures: ["new", "established"])
        let longer = try #require(throws: ConfigError.self) { try LinearBanditPolicy.load(path: path, expectedSchema: moreDevices) }
        #expect(longer.key == "feature_schema.context[4]" && longer.problem.contains("expected 'device=web' here"), "\(longer)")

        // Same context names (the first region is the baseline), different region list.
        let renamedBaseline = FeatureSchema(regions: ["ca", "eu", "br"], devices: ["ios", "android"], tenures: ["new", "established"])
        let baseline = try #require(throws: ConfigError.self) { try LinearBanditPolicy.load(path: path, expectedSchema: renamedBaseline) }
        #expect(baseline.key == "feature_schema.regions[0]" && baseline.problem.contains("expected 'ca' here"), "\(baseline)")
    }

    @Test("the history features are the policy's own: a policy with all of them loads against the standard schema and keeps its layout")
    func ownHistoryFeatures() throws {
        let schema = Self.schema.with(history: HistoryFeature.allCases)
        var random = TestRandom(seed: 0xF11F)
        let bandit = try trainedBandit(
            contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0.1),
            updates: 300, using: &random)
        let text = try LinearBanditPolicy(bandit: bandit, schema: schema, planFamily: .standard, reward: Self.reward, provenance: Self.provenance)
            .rendered()
        let loaded = try LinearBanditPolicy.parse(Data(text.utf8), file: "all.json", expectedSchema: Self.schema)
        #expect(loaded.schema == schema && loaded.schema.history == HistoryFeature.allCases)
        #expect(loaded.bandit.contextCount == Self.schema.contextCount + 3)
        #expect(try loaded.rendered() == text)
    }

    @Test("writing refuses values a reader could not restore exactly")
    func writeValidation() throws {
        var policy = try Self.policy(.epsilonGreedy(epsilon: 0.1))
        policy.provenance.seed = 1 << 60
        let seed = try #require(throws: ConfigError.self) { try policy.rendered() }
        #expect(seed.key == "provenance.seed", "\(seed)")

        policy = try Self.policy(.epsilonGreedy(epsilon: 0.1))
        policy.reward["revenue"] = .nan
        let reward = try #require(throws: ConfigError.self) { try policy.rendered() }
        #expect(reward.key == "reward.revenue", "\(reward)")

        policy = try Self.policy(.epsilonGreedy(epsilon: 0.1))
        policy.provenance.trainedAt = "2025-02-30"
        let date = try #require(throws: ConfigError.self) { try policy.rendered() }
        #expect(date.key == "provenance.trained_at", "\(date)")

        policy.provenance.trainedAt = PolicyProvenance.now()
        #expect(throws: Never.self) { try policy.rendered() }
    }

    @Test("hyper-parameters are range-checked where bandits are made, with the key in the message")
    func hyperparameterValidation() throws {
        let error = try #require(throws: HyperparameterError.self) {
            try LinearBandit(contextCount: 2, descriptorCount: 2, algorithm: .linUCB(alpha: -1, explorationFloor: 0))
        }
        #expect(error.name == "alpha" && error.description.contains("out of range"), "\(error)")
        let samples = try #require(throws: HyperparameterError.self) {
            try BanditAlgorithm(name: "thompson", hyperparameters: ["scale": 1, "propensity_samples": 0])
        }
        #expect(samples.name == "propensity_samples", "\(samples)")
        let lambda = try #require(throws: HyperparameterError.self) {
            try LinearBandit(contextCount: 2, descriptorCount: 2, algorithm: .softmax(temperature: 1), lambda: 0)
        }
        #expect(lambda.name == "lambda", "\(lambda)")
        for name in BanditAlgorithm.names {
            let algorithm = try #require(BanditAlgorithm.defaults(named: name))
            #expect(algorithm.name == name)
            let values = Dictionary(uniqueKeysWithValues: algorithm.hyperparameters.map { ($0.name, $0.value) })
            #expect(try BanditAlgorithm(name: name, hyperparameters: values) == algorithm)
        }
    }
}
