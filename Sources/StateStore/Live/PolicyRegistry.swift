import AdLoadCore
import Foundation

/// One change of the registry's active policy version, as its history keeps it: which
/// version became active over which, when, by whom or what, and (for a gated promotion)
/// the evidence it was let through on.
package struct RegistryEvent: Sendable, Equatable {
    /// What made the change.
    package enum Action: String, Sendable, CaseIterable {
        /// `adload serve` published its `--policy` to an empty registry.
        case publish
        /// The online learner published a new version over the one it built on.
        case learn
        /// `adload policy promote` made a policy file active.
        case promote
        /// `adload policy rollback` made an earlier version active again.
        case rollback
    }

    /// The version made active.
    package var version: String
    /// The version active before (`nil`: none).
    package var previous: String?
    package var action: Action
    /// When, as ISO 8601 UTC.
    package var at: String
    /// Who or what: the command and the user or host.
    package var by: String
    /// What the change was let through on (a promotion's estimates), or `nil`.
    package var evidence: JSONValue?

    package init(version: String, previous: String?, action: Action, at: String, by: String, evidence: JSONValue? = nil) {
        self.version = version
        self.previous = previous
        self.action = action
        self.at = at
        self.by = by
        self.evidence = evidence
    }

    /// The event as one line of JSON with sorted keys (how the history stores it).
    package var json: String {
        var fields: [String: JSONValue] = [
            "version": .string(version), "previous": previous.map(JSONValue.string) ?? .null, "action": .string(action.rawValue),
            "at": .string(at), "by": .string(by),
        ]
        if let evidence { fields["evidence"] = evidence }
        return JSONValue.object(fields).canonicalText
    }

    /// Reads an event the history stored.
    /// - Throws: ``StoreError/failed(_:)`` naming what is missing.
    package init(json text: String) throws(StoreError) {
        let value: JSONValue
        do { value = try JSONValue.parse(Data(text.utf8), file: "registry history") } catch {
            throw .failed("a registry history entry is not JSON: \(error)")
        }
        guard case let .object(fields) = value, case let .string(version)? = fields["version"],
              case let .string(actionName)? = fields["action"], let action = Action(rawValue: actionName),
              case let .string(at)? = fields["at"], case let .string(by)? = fields["by"]
        else {
            throw .failed("a registry history entry lacks version, action, at or by: \(text.prefix(200))")
        }
        let previous: String? = if case let .string(name)? = fields["previous"] { name } else { nil }
        self.init(version: version, previous: previous, action: action, at: at, by: by, evidence: fields["evidence"])
    }

    /// Now, as the history writes it (ISO 8601 UTC, whole seconds).
    package static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }

    /// The most entries the history keeps (older ones are dropped as new ones arrive).
    package static let historyLimit = 10_000
}

extension LiveStore {
    /// Stores `blob` as `version` and makes it active whatever is active now, recording
    /// `event` (its `previous` is filled in): a compare-and-set retried until it lands.
    package func publishPolicy(version: String, blob: Data, event: RegistryEvent) async throws(StoreError) {
        var expected = try await activePolicyVersion()
        for _ in 0..<100 {
            var stamped = event
            stamped.previous = expected
            switch try await publishPolicy(version: version, blob: blob, ifActive: expected, event: stamped) {
            case .published: return
            case let .activeChanged(active): expected = active
            }
        }
        throw .failed("publishing policy \(version): the active version kept changing")
    }

    /// ``publishPolicy(version:blob:event:)`` recorded as a `publish` by `adload`.
    package func publishPolicy(version: String, blob: Data) async throws(StoreError) {
        try await publishPolicy(
            version: version, blob: blob, event: RegistryEvent(version: version, previous: nil, action: .publish, at: RegistryEvent.now(), by: "adload"))
    }

    /// The conditional publication recorded as a `learn` by `adload learn`.
    package func publishPolicy(version: String, blob: Data, ifActive expected: String?) async throws(StoreError) -> PublishOutcome {
        try await publishPolicy(
            version: version, blob: blob, ifActive: expected,
            event: RegistryEvent(version: version, previous: expected, action: .learn, at: RegistryEvent.now(), by: "adload learn"))
    }
}

/// Why the registry history cannot say which version to roll back to.
package struct RegistryLineageError: Error, CustomStringConvertible {
    package let description: String
}

extension RegistryEvent {
    /// The version active before the change that started `version`'s lineage: its learner
    /// publications followed back to a promotion, rollback or first publication. What
    /// `adload policy rollback` and `POST /v1/policy/rollback` return to without a version.
    /// - Parameter history: The registry history, newest first.
    package static func versionBefore(_ version: String, history: [RegistryEvent]) throws(RegistryLineageError) -> String {
        var current = version
        for _ in 0...history.count {
            guard let event = history.first(where: { $0.version == current }) else {
                throw RegistryLineageError(description: "the registry history does not say how \(current) became active: name the version to roll back to")
            }
            guard event.action == .learn else {
                guard let previous = event.previous else {
                    throw RegistryLineageError(
                        description: "\(current) was the registry's first version (\(event.action.rawValue) by \(event.by)): there is nothing before it to roll back to")
                }
                return previous
            }
            guard let previous = event.previous else { break }
            current = previous
        }
        throw RegistryLineageError(description: "the registry history of \(version) goes in a circle: name the version to roll back to")
    }
}
