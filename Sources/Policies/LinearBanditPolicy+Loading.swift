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
        try parse(try ConfigReader.contents(of: path), file: path, expectedSchema: expectedSchema, refreshInterval: refreshInterval)
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
        try PolicyHeader.checkFormat(document, file: file, version: Self.version)
        let contents = try readContents(document, file: file, sealed: true)

        try PolicyHeader.verifyChecksum(contents.checksum, of: document, file: file)
        if let expectedSchema {
            try PolicyHeader.compare(contents.schema, expected: expectedSchema, file: file)
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
        let pricing = contents.pricing.map {
            BanditPricing(b: $0.b.map { Vector($0) }, totals: $0.totals, inverse: model.inverse)
        }
        let bandit: LinearBandit
        do {
            bandit = try LinearBandit(
                algorithm: contents.algorithm, model: model, pricing: pricing, contextCount: contents.schema.contextCount,
                descriptorCount: contents.schema.descriptorCount)
        } catch {
            throw ConfigError(file: file, key: "hyperparameters.\(error.name)", value: error.value, problem: error.problem)
        }
        return LinearBanditPolicy(
            bandit: bandit, schema: contents.schema, planFamily: contents.planFamily, reward: contents.reward,
            provenance: contents.provenance)
    }

    /// The top-level keys of a policy file, checksum last.
    static let contentKeys = ["format", "version", "algorithm", "hyperparameters"] + PolicyHeader.keys + ["parameters"]

    /// Everything a policy file holds, read and range-checked but not yet verified or factored.
    struct Contents {
        var algorithm: BanditAlgorithm
        var schema: FeatureSchema
        var planFamily: PlanFamily
        var lambda: Double
        var updates: Int
        var a: [Double]
        var b: [Double]
        /// The pricing models' b_k and totals, in ``BanditPricing/componentNames`` order (priced bandits only).
        var pricing: (b: [[Double]], totals: [Double])?
        var reward: [String: Double]
        var provenance: PolicyProvenance
        var checksum: String
    }

    /// Reads every field with its type, range and length checks. `sealed` documents (files)
    /// must carry a well-formed checksum; unsealed ones (about to be written) must not.
    static func readContents(_ document: JSONValue, file: String, sealed: Bool) throws(ConfigError) -> Contents {
        try PolicyHeader.checkFormat(document, file: file, version: Self.version)
        let top = try ConfigReader(
            file: file, path: "", value: document, keys: contentKeys + (sealed ? ["checksum"] : []), optionalKeys: ["pricing"])

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

        let header = try PolicyHeader.read(top, file: file)
        let schema = header.schema
        let counts = 0...ConfigReader.largestExactInteger

        let parameters = try top.object("parameters", keys: ["lambda", "updates", "b", "a"])
        let d = schema.dimension
        let meaning = "\(schema.contextCount) context features × \(schema.descriptorCount) descriptors give d = \(d)"
        let lambda = try parameters.number("lambda", in: LinearBandit.lambdaRange)
        let updates = try parameters.integer("updates", in: counts)
        let b = try parameters.numbers("b", count: d, meaning: meaning)
        let a = try parameters.numbers("a", count: d * d, meaning: "d × d; " + meaning)

        var pricing: (b: [[Double]], totals: [Double])?
        if top.has("pricing") {
            let names = BanditPricing.componentNames
            let section = try top.object("pricing", keys: ["totals", "b"])
            let totals = try section.object("totals", keys: names)
            let vectors = try section.object("b", keys: names)
            var read: (b: [[Double]], totals: [Double]) = ([], [])
            for name in names {
                read.totals.append(try totals.number(name, in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude))
                read.b.append(try vectors.numbers(name, count: d, meaning: meaning))
            }
            pricing = read
        }

        let checksum = sealed ? try PolicyHeader.readChecksum(top) : ""
        return Contents(
            algorithm: algorithm, schema: schema, planFamily: header.planFamily, lambda: lambda, updates: updates, a: a, b: b,
            pricing: pricing, reward: header.reward, provenance: header.provenance, checksum: checksum)
    }
}
