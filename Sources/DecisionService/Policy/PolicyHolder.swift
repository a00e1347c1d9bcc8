import AdLoadCore
import Policies
import Synchronization

/// Holds the active policy so that every request sees one policy whole.
///
/// The active ``DecisionEngine`` is a reference behind a mutex: a request reads it once
/// (one lock round trip and a retain) and decides with that engine only, whatever swaps
/// happen meanwhile. ``swap(to:)`` replaces the reference atomically.
package final class PolicyHolder: Sendable {
    let engine: Mutex<DecisionEngine?>

    /// Placement rules by region name, for engines built from registry blobs.
    package let rules: [String: PlacementRules]
    /// The categories and descriptors every policy's feature schema must have (each policy
    /// keeps its own history features).
    package let expectedSchema: FeatureSchema
    /// Seed of decision randomness, shared by every engine built here.
    package let decisionSeed: UInt64

    /// Starts serving `initial`; later policies must have its schema's categories and get its rules and seed.
    package init(initial: DecisionEngine) {
        engine = Mutex(initial)
        rules = initial.rules
        expectedSchema = initial.schema
        decisionSeed = initial.decisionSeed
    }

    /// Starts with no policy: decisions answer 503 until the ``PolicyWatcher`` loads one from the registry.
    package init(
        rules: [String: PlacementRules], expectedSchema: FeatureSchema, decisionSeed: UInt64 = DecisionEngine.defaultDecisionSeed
    ) {
        engine = Mutex(nil)
        self.rules = rules
        self.expectedSchema = expectedSchema
        self.decisionSeed = decisionSeed
    }

    /// The active engine, or `nil` before the first policy is loaded. Read it once per request.
    package var current: DecisionEngine? {
        engine.withLock { $0 }
    }

    /// Makes `engine` the active policy; requests that already read the previous one finish with it.
    package func swap(to engine: DecisionEngine) {
        self.engine.withLock { $0 = engine }
    }

    /// Builds an engine for `policy` with this holder's rules and seed.
    /// - Throws: `DecisionEngineError` as ``DecisionEngine/init(policy:version:rules:decisionSeed:)``.
    func makeEngine(policy: any DecisionPolicy, version: String) throws(DecisionEngineError) -> DecisionEngine {
        try DecisionEngine(policy: policy, version: version, rules: rules, decisionSeed: decisionSeed)
    }
}
