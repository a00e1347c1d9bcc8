import AdLoadCore
import Foundation

/// A trained bandit policy as a versioned, checksummed JSON file: the algorithm and its
/// hyper-parameters, the feature schema and plan family it was trained for, the ridge
/// statistics (λ, A, b), the reward weights and where it came from; a priced bandit adds
/// `pricing` (``BanditPricing``: the totals and b of each priced quantity).
///
/// Writing is deterministic: the same policy always gives the same bytes. The checksum,
/// `"fnv1a64:<16 hex digits>"`, is FNV-1a 64 over a canonical rendering of every field but
/// `checksum` itself (compact JSON, keys sorted by UTF-8 bytes, numbers in Swift's shortest
/// round-trip form, integers without a fraction); the writer and the reader compute it the
/// same way from the values, so it survives re-indentation but not an edited value.
package struct LinearBanditPolicy: Sendable {
    /// The file format version this build writes and reads.
    package static let version = 1

    /// The bandit: algorithm, hyper-parameters and ridge model.
    package var bandit: LinearBandit

    /// The feature encoding the bandit was trained with.
    package var schema: FeatureSchema

    /// The plan family its candidates come from.
    package var planFamily: PlanFamily

    /// The reward weights it was trained with (revenue, watch time, negative feedback, …).
    package var reward: [String: Double]

    /// Where the policy came from.
    package var provenance: PolicyProvenance

    /// Bundles a bandit with the schema, plan family, reward weights and provenance it was trained under.
    /// - Precondition: the bandit's |c| and |q| match the schema's.
    package init(
        bandit: LinearBandit, schema: FeatureSchema, planFamily: PlanFamily, reward: [String: Double],
        provenance: PolicyProvenance
    ) {
        precondition(
            bandit.contextCount == schema.contextCount && bandit.descriptorCount == schema.descriptorCount,
            "LinearBanditPolicy: bandit has |c| = \(bandit.contextCount), |q| = \(bandit.descriptorCount); schema has \(schema.contextCount), \(schema.descriptorCount)"
        )
        self.bandit = bandit
        self.schema = schema
        self.planFamily = planFamily
        self.reward = reward
        self.provenance = provenance
    }

    /// The file's text, checksum included.
    ///
    /// The contents are checked with the loader's own rules first, so a file this writes
    /// always loads (non-finite reward weights, a seed beyond 2⁵³ or a malformed date are errors).
    /// - Throws: `ConfigError` naming the offending field (the file is called "policy").
    /// - Complexity: O(d²).
    package func rendered() throws(ConfigError) -> String {
        try rendered(file: "policy")
    }

    /// Writes the file's text to `path`, replacing any file there.
    /// - Throws: `ConfigError` if a field is invalid (see ``rendered()``) or the file cannot be written.
    package func write(to path: String) throws(ConfigError) {
        let text = try rendered(file: path)
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ConfigError(file: path, key: nil, value: nil, problem: "cannot be written (\(error.localizedDescription))")
        }
    }

    func rendered(file: String) throws(ConfigError) -> String {
        guard provenance.seed <= UInt64(ConfigReader.largestExactInteger) else {
            throw ConfigError(
                file: file, key: "provenance.seed", value: "\(provenance.seed)",
                problem: "out of range, expected an integer in [0, \(ConfigReader.largestExactInteger)] (JSON numbers hold integers exactly up to 2^53)")
        }
        let content = document()
        _ = try Self.readContents(content.value, file: file, sealed: false)
        let checksum = PolicyFile.checksum(of: content.value)
        guard case var .object(fields) = content else { return "" }
        fields.append((key: "checksum", value: .string(checksum)))
        return OrderedJSON.object(fields).rendered() + "\n"
    }

    /// Every field but the checksum, in file order.
    func document() -> OrderedJSON {
        let model = bandit.model
        let d = model.dimension
        let header = PolicyHeader(schema: schema, planFamily: planFamily, reward: reward, provenance: provenance)
        let names = BanditPricing.componentNames
        let pricing: [(String, OrderedJSON)] = bandit.pricing.map { pricing in
            [("pricing", .object([
                ("totals", .object(names.indices.map { (names[$0], .number(pricing.totals[$0])) })),
                ("b", .object(names.indices.map { k in (names[k], .array(pricing.b[k].elements.map { .number($0) })) })),
            ]))]
        } ?? []
        return .object([
            ("format", .string(PolicyFile.format)),
            ("version", .number(Double(Self.version))),
            ("algorithm", .string(bandit.algorithm.name)),
            ("hyperparameters", .object(bandit.algorithm.hyperparameters.map { ($0.name, .number($0.value)) })),
        ] + header.fields + [
            ("parameters", .object([
                ("lambda", .number(model.lambda)),
                ("updates", .number(Double(model.updateCount))),
                ("b", .array(model.b.elements.map { .number($0) })),
                ("a", .matrix(model.a.elements, columns: d)),
            ])),
        ] + pricing)
    }
}

/// Where a policy came from: the environment or logs it learned from, the seed and amounts
/// of data, and when.
package struct PolicyProvenance: Sendable, Equatable {
    /// Whether a policy learned from the environment model or from logged traffic.
    package enum Source: String, Sendable, CaseIterable {
        /// Trained against the environment model (``PolicyProvenance/environment``).
        case simulation
        /// Trained off-policy from logged decisions.
        case logs
    }

    /// The environment's name ("env").
    package var environment: String
    /// The environment file's path ("env_file").
    package var environmentFile: String
    /// The content fingerprint of that file ("env_fingerprint", ``EnvironmentConfig``'s
    /// `fingerprint`): what a run on another environment is checked against.
    package var environmentFingerprint: String
    /// The training seed; at most 2⁵³ so that every JSON reader keeps it exact.
    package var seed: UInt64
    /// Sessions trained on.
    package var sessions: Int
    /// Users simulated or seen in the logs.
    package var users: Int
    /// Days simulated or covered by the logs.
    package var days: Int
    /// When training finished, as an ISO 8601 date-time ("2025-01-31T12:00:00Z").
    package var trainedAt: String
    /// Simulation or logs.
    package var source: Source

    /// Creates a provenance record.
    package init(
        environment: String, environmentFile: String, environmentFingerprint: String, seed: UInt64, sessions: Int,
        users: Int, days: Int, trainedAt: String, source: Source
    ) {
        self.environment = environment
        self.environmentFile = environmentFile
        self.environmentFingerprint = environmentFingerprint
        self.seed = seed
        self.sessions = sessions
        self.users = users
        self.days = days
        self.trainedAt = trainedAt
        self.source = source
    }

    /// The current time as an ISO 8601 date-time in UTC, for ``trainedAt``.
    package static func now() -> String {
        Date.now.formatted(.iso8601)
    }
}
