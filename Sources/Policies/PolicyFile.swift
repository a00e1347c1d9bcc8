import AdLoadCore
import Foundation

/// Policy files: what every kind of policy file shares, and the one loader that reads any
/// kind and dispatches on it.
///
/// A policy file is a JSON object with `"format": "adload-policy"`, a `version`, and an
/// `algorithm` that names its kind (``PolicyKind``); the rest of the fields are the kind's
/// own, sealed by a `checksum` over every other field (see ``checksum(of:)``).
package enum PolicyFile {
    /// The value of the `format` field.
    package static let format = "adload-policy"

    /// Reads and verifies the policy file at `path`, whatever its kind.
    /// - Parameters:
    ///   - path: The file to read.
    ///   - expectedSchema: The categories and descriptors the caller serves; `nil` accepts the file's own.
    /// - Throws: `ConfigError` naming the file, the field and the value (an unknown kind
    ///   names the `algorithm` field), or when the file cannot be read.
    package static func load(path: String, expectedSchema: FeatureSchema?) throws(ConfigError) -> any DecisionPolicy {
        try parse(try ConfigReader.contents(of: path), file: path, expectedSchema: expectedSchema)
    }

    /// Parses and verifies policy file contents of any kind; `file` names the source in errors.
    /// - Throws: `ConfigError` naming the file, the field and the value.
    package static func parse(_ data: Data, file: String, expectedSchema: FeatureSchema?) throws(ConfigError) -> any DecisionPolicy {
        let document = try JSONValue.parse(data, file: file)
        switch try PolicyKind(of: document, file: file) {
        case .linearBandit:
            return try LinearBanditPolicy.parse(document: document, file: file, expectedSchema: expectedSchema)
        case .network:
            return try NetworkPolicy.parse(document: document, file: file, expectedSchema: expectedSchema)
        }
    }

    /// The checksum of a parsed policy document: FNV-1a 64 of the canonical rendering of
    /// every top-level field except `checksum`, as `"fnv1a64:<16 lowercase hex digits>"`.
    ///
    /// Tools that edit a policy file on purpose use this to re-seal it.
    /// - Complexity: O(size of the document).
    package static func checksum(of document: JSONValue) -> String {
        var content = document
        if case var .object(fields) = document {
            fields["checksum"] = nil
            content = .object(fields)
        }
        return FNV1a64.tagged(PolicyJSON.canonical(content))
    }
}

/// The kinds of policy this build reads, named in files by their `algorithm`.
enum PolicyKind: String, Sendable, CaseIterable {
    /// A linear contextual bandit (``LinearBanditPolicy``): linucb, thompson, egreedy, softmax.
    case linearBandit = "linear-bandit"
    /// A policy-gradient network (``NetworkPolicy``): ppo, reinforce.
    case network

    /// The `algorithm` names that belong to this kind.
    var algorithms: [String] {
        switch self {
        case .linearBandit: BanditAlgorithm.names
        case .network: NetworkPolicy.algorithms
        }
    }

    /// The kind of a policy document, from its `algorithm` field.
    /// - Throws: `ConfigError` naming the file and `algorithm` when it is missing, not a
    ///   string, or no kind's algorithm (the known names listed).
    init(of document: JSONValue, file: String) throws(ConfigError) {
        guard case let .object(fields) = document else {
            throw ConfigError(file: file, key: nil, value: nil, problem: "must hold a JSON object, found \(document.typeName)")
        }
        guard let value = fields["algorithm"] else {
            throw ConfigError(file: file, key: "algorithm", value: nil, problem: "is missing (it names the policy's kind)")
        }
        guard case let .string(name) = value else {
            throw ConfigError(file: file, key: "algorithm", value: value.summary, problem: "expected a string naming the policy's kind")
        }
        guard let kind = Self.allCases.first(where: { $0.algorithms.contains(name) }) else {
            let known = Self.allCases.map { "\($0.rawValue): \($0.algorithms.joined(separator: ", "))" }.joined(separator: "; ")
            throw ConfigError(file: file, key: "algorithm", value: value.summary, problem: "unknown policy kind (this build reads \(known))")
        }
        self = kind
    }
}
