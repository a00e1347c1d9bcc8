import AdLoadCore
import Foundation

/// What every kind of policy file holds besides its own parameters: where the policy came
/// from, the reward it was trained with, the feature schema it encodes contexts with and the
/// plan family it chooses from; and the checks every kind makes (format and version, the
/// checksum, the schema against the one the caller serves).
package struct PolicyHeader: Sendable, Equatable {
    package var schema: FeatureSchema
    package var planFamily: PlanFamily
    package var reward: [String: Double]
    package var provenance: PolicyProvenance

    package init(schema: FeatureSchema, planFamily: PlanFamily, reward: [String: Double], provenance: PolicyProvenance) {
        self.schema = schema
        self.planFamily = planFamily
        self.reward = reward
        self.provenance = provenance
    }

    /// The top-level keys of these fields, in file order.
    static let keys = ["provenance", "reward", "feature_schema", "plan_family"]

    /// Reads the fields from a policy file's top-level object.
    /// - Throws: `ConfigError` naming the file, the field and the value.
    static func read(_ top: ConfigReader, file: String) throws(ConfigError) -> PolicyHeader {
        let provenanceReader = try top.object(
            "provenance", keys: ["env", "env_file", "env_fingerprint", "seed", "sessions", "users", "days", "trained_at", "source"])
        let counts = 0...ConfigReader.largestExactInteger
        let trainedAt = try provenanceReader.string("trained_at")
        guard (try? Date(trainedAt, strategy: .iso8601)) != nil else {
            throw provenanceReader.error(
                "trained_at", .string(trainedAt), "expected an ISO 8601 date-time such as 2025-01-31T12:00:00Z")
        }
        let sourceName = try provenanceReader.string("source")
        guard let source = PolicyProvenance.Source(rawValue: sourceName) else {
            throw provenanceReader.error(
                "source", .string(sourceName),
                "expected one of \(PolicyProvenance.Source.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
        }
        let provenance = PolicyProvenance(
            environment: try provenanceReader.string("env"),
            environmentFile: try provenanceReader.string("env_file"),
            environmentFingerprint: try provenanceReader.string("env_fingerprint"),
            seed: UInt64(try provenanceReader.integer("seed", in: counts)),
            sessions: try provenanceReader.integer("sessions", in: counts),
            users: try provenanceReader.integer("users", in: counts),
            days: try provenanceReader.integer("days", in: counts),
            trainedAt: trainedAt,
            source: source)

        let reward = try top.numberMap("reward")

        let schemaReader = try top.object(
            "feature_schema", keys: ["version", "context", "descriptors", "regions", "devices", "tenures"])
        let schemaVersion = try schemaReader.integer("version", in: 0...Int(Int32.max))
        guard schemaVersion == FeatureSchema.version else {
            throw schemaReader.error(
                "version", .number(Double(schemaVersion)),
                "schema mismatch: the policy was trained with feature schema version \(schemaVersion), this build encodes version \(FeatureSchema.version)")
        }
        let categories = FeatureSchema(
            regions: try schemaReader.names("regions"), devices: try schemaReader.names("devices"),
            tenures: try schemaReader.names("tenures"), history: [])
        let contextNames = try schemaReader.names("context")
        let categorical = categories.categoricalNames
        try checkNames(Array(contextNames.prefix(categorical.count)), against: categorical, key: schemaReader.key("context"), file: file,
                       problem: "does not match the names implied by regions, devices and tenures")
        var history: [HistoryFeature] = []
        for index in categorical.count..<max(categorical.count, contextNames.count) {
            let name = contextNames[index]
            guard let feature = HistoryFeature(rawValue: name) else {
                throw ConfigError(
                    file: file, key: "\(schemaReader.key("context"))[\(index)]", value: "\"\(name)\"",
                    problem: "not a history feature of this build (known: \(HistoryFeature.allNames))")
            }
            history.append(feature)
        }
        let schema = categories.with(history: history)
        try checkNames(try schemaReader.names("descriptors"), against: schema.descriptorNames, key: schemaReader.key("descriptors"),
                       file: file, problem: "does not match this build's plan descriptors")

        let familyReader = try top.object("plan_family", keys: ["first_positions", "spacings", "max_ads"])
        let planFamily = PlanFamily(
            firstPositions: try familyReader.integers("first_positions", in: 1...AdPlan.maxPosition),
            spacings: try familyReader.integers("spacings", in: 0...AdPlan.maxPosition),
            maxAds: try familyReader.integers("max_ads", in: 1...AdPlan.maxPosition))

        return PolicyHeader(schema: schema, planFamily: planFamily, reward: reward, provenance: provenance)
    }

    /// The fields as written, in file order.
    var fields: [(key: String, value: OrderedJSON)] {
        [
            ("provenance", .object([
                ("env", .string(provenance.environment)),
                ("env_file", .string(provenance.environmentFile)),
                ("env_fingerprint", .string(provenance.environmentFingerprint)),
                ("seed", .number(Double(provenance.seed))),
                ("sessions", .number(Double(provenance.sessions))),
                ("users", .number(Double(provenance.users))),
                ("days", .number(Double(provenance.days))),
                ("trained_at", .string(provenance.trainedAt)),
                ("source", .string(provenance.source.rawValue)),
            ])),
            ("reward", .object(reward.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, .number($0.value)) })),
            ("feature_schema", .object([
                ("version", .number(Double(FeatureSchema.version))),
                ("context", .array(schema.contextNames.map { .string($0) })),
                ("descriptors", .array(schema.descriptorNames.map { .string($0) })),
                ("regions", .array(schema.regions.map { .string($0) })),
                ("devices", .array(schema.devices.map { .string($0) })),
                ("tenures", .array(schema.tenures.map { .string($0) })),
            ])),
            ("plan_family", .object([
                ("first_positions", .array(planFamily.firstPositions.map { .number(Double($0)) })),
                ("spacings", .array(planFamily.spacings.map { .number(Double($0)) })),
                ("max_ads", .array(planFamily.maxAds.map { .number(Double($0)) })),
            ])),
        ]
    }

    /// Rejects a document that is not a policy file of version `expected` before anything else is read.
    static func checkFormat(_ document: JSONValue, file: String, version expected: Int) throws(ConfigError) {
        guard case let .object(fields) = document else {
            throw ConfigError(file: file, key: nil, value: nil, problem: "must hold a JSON object, found \(document.typeName)")
        }
        guard let format = fields["format"] else {
            throw ConfigError(file: file, key: "format", value: nil, problem: "is missing (not an \(PolicyFile.format) file)")
        }
        guard case .string(PolicyFile.format) = format else {
            throw ConfigError(file: file, key: "format", value: format.summary, problem: "expected \"\(PolicyFile.format)\"")
        }
        guard let version = fields["version"] else {
            throw ConfigError(file: file, key: "version", value: nil, problem: "is missing")
        }
        guard ConfigReader.integer(version) == expected else {
            throw ConfigError(
                file: file, key: "version", value: version.summary,
                problem: "unsupported policy file version (this build reads version \(expected))")
        }
    }

    /// The file's `checksum`, checked for form (not yet against the content).
    static func readChecksum(_ top: ConfigReader) throws(ConfigError) -> String {
        let checksum = try top.string("checksum")
        let hex = checksum.dropFirst("fnv1a64:".count)
        guard checksum.hasPrefix("fnv1a64:"), hex.count == 16, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw top.error("checksum", .string(checksum), "expected \"fnv1a64:\" followed by 16 lowercase hex digits")
        }
        return checksum
    }

    /// Throws unless `stated` is the checksum of `document`'s content.
    static func verifyChecksum(_ stated: String, of document: JSONValue, file: String) throws(ConfigError) {
        let actual = PolicyFile.checksum(of: document)
        guard stated == actual else {
            throw ConfigError(
                file: file, key: "checksum", value: nil,
                problem: "does not match the content (checksum mismatch: file says \(stated), content hashes to \(actual))")
        }
    }

    /// Throws at the first position where `found` differs from `expected`.
    static func checkNames(_ found: [String], against expected: [String], key: String, file: String, problem: String) throws(ConfigError) {
        for index in 0..<max(found.count, expected.count) {
            if index >= found.count {
                throw ConfigError(
                    file: file, key: key, value: "an array of \(found.count)",
                    problem: "\(problem): '\(expected[index])' is missing at index \(index) (expected \(expected.count) names, found \(found.count))")
            }
            if index >= expected.count {
                throw ConfigError(
                    file: file, key: "\(key)[\(index)]", value: "\"\(found[index])\"",
                    problem: "\(problem): expected only \(expected.count) names")
            }
            if found[index] != expected[index] {
                throw ConfigError(
                    file: file, key: "\(key)[\(index)]", value: "\"\(found[index])\"", problem: "\(problem): expected '\(expected[index])' here")
            }
        }
    }

    /// Throws a schema mismatch naming the first category or descriptor where the file's
    /// schema differs from `expected`. The history features are the policy's own choice
    /// (every engine encodes with the policy's schema), so they are not compared.
    static func compare(_ found: FeatureSchema, expected: FeatureSchema, file: String) throws(ConfigError) {
        let problem = "schema mismatch"
        try checkNames(
            Array(found.contextNames.prefix(found.categoricalNames.count)), against: expected.categoricalNames,
            key: "feature_schema.context", file: file, problem: problem)
        try checkNames(
            found.descriptorNames, against: expected.descriptorNames, key: "feature_schema.descriptors", file: file, problem: problem)
        try checkNames(found.regions, against: expected.regions, key: "feature_schema.regions", file: file, problem: problem)
        try checkNames(found.devices, against: expected.devices, key: "feature_schema.devices", file: file, problem: problem)
        try checkNames(found.tenures, against: expected.tenures, key: "feature_schema.tenures", file: file, problem: problem)
    }
}
