import AdLoadCore

/// Any policy file, loaded to decide outside the decision service: the policy's rule over a
/// region's valid plans for an already encoded context, with the chosen plan's probability
/// (what `/v1/decide` computes between reading the user's state and logging).
///
/// For benchmarks and embedders, which cannot reach the package-level policy contract. It
/// owns one workspace, so an instance decides on one thread at a time (it is not `Sendable`).
public final class StandaloneDecider {
    let policy: any DecisionPolicy
    let workspace: PolicyWorkspace
    let candidates: [CandidatePlan]

    /// Loads the policy file at `path` (any kind) and materializes the valid plans of its
    /// plan family under `rules` for the longest feed.
    /// - Throws: `ConfigError` naming the file and field when the file cannot be loaded.
    public init(path: String, rules: PlacementRules) throws(ConfigError) {
        policy = try PolicyFile.load(path: path, expectedSchema: nil)
        let catalog = PlanCatalog(family: policy.planFamily, rules: [rules])
        var candidates: [CandidatePlan] = []
        catalog.candidates(region: 0, feedLength: AdPlan.maxPosition, adsToday: 0, into: &candidates)
        self.candidates = candidates
        workspace = policy.makeWorkspace(maxCandidates: candidates.count)
    }

    /// The file's `algorithm` ("linucb", "ppo", …).
    public var algorithm: String { policy.algorithm }

    /// How many encoded features a context has (the policy's schema).
    public var contextCount: Int { policy.schema.contextCount }

    /// How many plans each decision chooses among.
    public var candidateCount: Int { candidates.count }

    /// Chooses a plan for the encoded context `features` (``contextCount`` values).
    /// - Complexity: the policy's decide; no allocation in steady state.
    public func decide(features: [Double], random: CounterRandom) -> PolicyChoice {
        workspace.load(features: features)
        return policy.decide(candidates, random: random, workspace: workspace)
    }
}
