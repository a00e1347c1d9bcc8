import AdLoadCore
import Foundation
import LinearAlgebra

extension LinearBanditPolicy {
    /// Loads and verifies a policy file, rebuilding the bandit's A⁻¹, L and θ from A and b with LAPACK.
    ///
    /// Checks, in order: the file is JSON with `format` "adload-policy" and a supported
    /// `version`; every key is known and present, every value has the right type and range,
    /// the arrays have the lengths the file's own feature schema implies; the checksum
    /// matches the content; the categories and descriptors of the feature schema equal
    /// `expectedSchema`'s (when given; the history features are the policy's own); A is
    /// symmetric positive definite. Each failure is one `ConfigError` line naming the file,
    /// the field and the value.
    /// - Parameters:
    ///   - path: The file to read.
    ///   - expectedSchema: The categories (regions, devices, tenures) the caller serves; `nil`
    ///     accepts the file's own. Encode contexts with the loaded file's `schema`.
    ///   - refreshInterval: Updates between LAPACK recomputations if the loaded model keeps learning.
    /// - Throws: `ConfigError` for every problem above, or when the file cannot be read.
    /// - Complexity: O(d³).
    package static func load(
        path: String, expectedSchema: FeatureSchema?, refreshInterval: Int = RidgeModel.defaultRefreshInterval
    ) throws(ConfigError) -> LinearBanditPolicy {
        try parse(try PolicyFile.read(path), file: path, expectedSchema: expectedSchema, refreshInterval: refreshInterval)
    }

    /// Parses and verifies policy file contents (see ``load(path:expectedSchema:refreshInterval:)``);
    /// `file` names the source in errors.
    /// - Throws: `ConfigError` naming the file, the field and the value.
    /// - Complexity: O(d³).
    package static func parse(
        _ data: Data, file: String, expectedSchema: FeatureSchema?,
        refreshInterval: Int = RidgeModel.defaultRefreshInterval
    ) throws(ConfigError) -> LinearBanditPolicy {
        try parse(document: try JSONValue.parse(data, file: file), file: file, expectedSchema: expectedSchema, refreshInterval: refreshInterval)
    }

    /// Verifies a parsed policy document (see ``parse(_:file:expectedSchema:refreshInterval:)``).
    /// - Throws: `ConfigError` naming the file, the field and the value.
    /// - Complexity: O(d³).
    static func parse(
        document: JSONValue, file: String, expectedSchema: FeatureSchema?,
        refreshInterval: Int = RidgeModel.defaultRefreshInterval
    ) throws(ConfigError) -> LinearBanditPolicy {
        try checkFormat(document, file: file)
        let contents = try readContents(document, file: file, sealed: true)

        let stated = contents.checksum
        let actual = PolicyFile.checksum(of: document)
        guard stated == actual else {
            throw ConfigError(
                file: file, key: "checksum", value: nil,
                problem: "does not match the content (checksum mismatch: file says \(stated), content hashes to \(actual))")
        }

        if let expectedSchema {
            try compare(contents.schema, expected: expectedSchema, file: file)
        }

        let d = contents.schema.dimension
        for i in 0..<d {
            for j in 0..<i where contents.a[i * d + j] != contents.a[j * d + i] {
                throw ConfigError(
                    file: file, key: "parameters.a", value: nil,
                    problem: "is not symmetric: element (\(i), \(j)) is \(JSONNumber.compact(contents.a[i * d + j])) but (\(j), \(i)) is \(JSONNumber.compact(contents.a[j * d + i]))")
            }
        }
        let model: RidgeModel
        do {
            model = try RidgeModel(
                lambda: contents.lambda, a: Matrix(rows: d, columns: d, elements: contents.a), b: Vector(contents.b),
                updateCount: contents.updates, refreshInterval: refreshInterval)
        } catch {
            let detail: String
            switch error {
            case let .notPositiveDefinite(info): detail = "the leading minor of order \(info) is not positive"
            case let .singular(info): detail = "the Cholesky factor has a zero at diagonal element \(info)"
            case let .lapackFailure(routine, info): detail = "LAPACK \(routine) failed with info = \(info)"
            }
            throw ConfigError(file: file, key: "parameters.a", value: nil, problem: "is not symmetric positive definite (\(detail))")
        }
        let bandit: LinearBandit
        do {
            bandit = try LinearBandit(
                algorithm: contents.algorithm, model: model, contextCount: contents.schema.contextCount,
                descriptorCount: contents.schema.descriptorCount)
        } catch {
            throw ConfigError(file: file, key: "hyperparameters.\(error.name)", value: error.value, problem: error.problem)
        }
        return LinearBanditPolicy(
            bandit: bandit, schema: contents.schema, planFamily: contents.planFamily, reward: contents.reward,
            provenance: contents.provenance)
    }

    /// The top-level keys of a policy file, checksum last.
    static let contentKeys = [
        "format", "version", "algorithm", "hyperparameters", "provenance", "reward", "feature_schema", "plan_family",
        "parameters",
    ]

    /// Everything a policy file holds, read and range-checked but not yet verified or factored.
    struct Contents {
        var algorithm: BanditAlgorithm
        var schema: FeatureSchema
        var planFamily: PlanFamily
        var lambda: Double
        var updates: Int
        var a: [Double]
        var b: [Double]
        var reward: [String: Double]
        var provenance: PolicyProvenance
        var checksum: String
    }

    /// Rejects a document that is not a policy file of this version before anything else is read.
    static func checkFormat(_ document: JSONValue, file: String) throws(ConfigError) {
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
        guard ConfigReader.integer(version) == Self.version else {
            throw ConfigError(
                file: file, key: "version", value: version.summary,
                problem: "unsupported policy file version (this build reads version \(Self.version))")
        }
    }

    /// Reads every field with its type, range and length checks. `sealed` documents (files)
    /// must carry a well-formed checksum; unsealed ones (about to be written) must not.
    static func readContents(_ document: JSONValue, file: String, sealed: Bool) throws(ConfigError) -> Contents {
        try checkFormat(document, file: file)
        let top = try ConfigReader(file: file, path: "", value: document, keys: contentKeys + (sealed ? ["checksum"] : []))

        let algorithmName = try top.string("algorithm")
        guard let specs = BanditAlgorithm.specs(named: algorithmName) else {
            throw top.error(
                "algorithm", .string(algorithmName), "unknown algorithm (known: \(BanditAlgorithm.names.joined(separator: ", ")))")
        }
        let hyper = try top.object("hyperparameters", keys: specs.map(\.key))
        var values: [String: Double] = [:]
        for spec in specs {
            values[spec.key] = try hyper.number(spec.key, in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        }
        let algorithm: BanditAlgorithm
        do {
            algorithm = try BanditAlgorithm(name: algorithmName, hyperparameters: values)
        } catch {
            throw ConfigError(file: file, key: hyper.key(error.name), value: error.value, problem: error.problem)
        }

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

        let parameters = try top.object("parameters", keys: ["lambda", "updates", "b", "a"])
        let d = schema.dimension
        let meaning = "\(schema.contextCount) context features × \(schema.descriptorCount) descriptors give d = \(d)"
        let lambda = try parameters.number("lambda", in: LinearBandit.lambdaRange)
        let updates = try parameters.integer("updates", in: counts)
        let b = try parameters.numbers("b", count: d, meaning: meaning)
        let a = try parameters.numbers("a", count: d * d, meaning: "d × d; " + meaning)

        var checksum = ""
        if sealed {
            checksum = try top.string("checksum")
            let hex = checksum.dropFirst("fnv1a64:".count)
            guard checksum.hasPrefix("fnv1a64:"), hex.count == 16, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw top.error("checksum", .string(checksum), "expected \"fnv1a64:\" followed by 16 lowercase hex digits")
            }
        }
        return Contents(
            algorithm: algorithm, schema: schema, planFamily: planFamily, lambda: lambda, updates: updates, a: a, b: b,
            reward: reward, provenance: provenance, checksum: checksum)
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
