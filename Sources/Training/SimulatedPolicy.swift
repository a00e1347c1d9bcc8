import AdLoadCore
import Policies
import Simulation

/// Any policy of the ``DecisionPolicy`` contract acting in the environment model: it
/// encodes each session's observable context with the policy's schema, offers the region's
/// valid plans from the ``PlanCatalog``, and decides through the contract.
///
/// Decisions are reproducible: each one draws from a random stream keyed by
/// (decision seed, user, session).
package struct SimulatedPolicy: SessionPolicy {
    package let name: String
    /// The policy version (the file checksum, or "untrained").
    package let version: String
    /// The policy that decides.
    package let policy: any DecisionPolicy
    package let catalog: PlanCatalog
    package let decisionSeed: UInt64
    /// `schema.contextFingerprint`, computed once: every logged decision carries it.
    package let contextFingerprint: String

    /// The feature schema contexts are encoded with (the policy's).
    package var schema: FeatureSchema { policy.schema }

    /// Runs `policy` in simulation under `name` and `version`.
    package init(name: String, version: String, policy: any DecisionPolicy, catalog: PlanCatalog, decisionSeed: UInt64) {
        contextFingerprint = policy.schema.contextFingerprint
        self.name = name
        self.version = version
        self.policy = policy
        self.catalog = catalog
        self.decisionSeed = decisionSeed
    }

    /// Runs a bandit being trained (no file, provenance or reward weights yet).
    package init(name: String, version: String, bandit: LinearBandit, schema: FeatureSchema, catalog: PlanCatalog, decisionSeed: UInt64) {
        let provenance = PolicyProvenance(
            environment: "in training", environmentFile: "", environmentFingerprint: "", seed: decisionSeed, sessions: 0, users: 0, days: 0,
            trainedAt: "1970-01-01T00:00:00Z", source: .simulation)
        let policy = LinearBanditPolicy(bandit: bandit, schema: schema, planFamily: catalog.family, reward: [:], provenance: provenance)
        self.init(name: name, version: version, policy: policy, catalog: catalog, decisionSeed: decisionSeed)
    }

    /// The linear bandit behind the policy, for trainers that update it; `nil` for other kinds.
    package var bandit: LinearBandit? { (policy as? LinearBanditPolicy)?.bandit }

    /// The random stream of one decision.
    static func decisionRandom(seed: UInt64, user: Int, session: Int) -> CounterRandom {
        CounterRandom(seed: seed, domain: 0x6465_6369_6465).child(UInt64(user)).child(UInt64(session))
    }

    package func makeWorker() -> Worker { Worker(policy: self) }

    /// Per-thread state: the policy's workspace, so deciding allocates nothing in steady
    /// state, and the last decision (for logging and learning).
    package struct Worker: PolicyWorker {
        package let policy: SimulatedPolicy
        let workspace: PolicyWorkspace
        /// c of the last decision.
        package var context: [Double] { workspace.context }
        /// The candidates offered at the last decision.
        package private(set) var candidates: [CandidatePlan]
        /// The last choice.
        package private(set) var choice = PolicyChoice(index: 0, probability: 1, propensityKind: .exact)
        /// The pacing prices the next decisions see (the defaults outside a paced simulation).
        var prices = PacingPrices.defaults

        init(policy: SimulatedPolicy) {
            self.policy = policy
            workspace = policy.policy.makeWorkspace(maxCandidates: max(1, policy.catalog.maxCandidates))
            candidates = []
            candidates.reserveCapacity(policy.catalog.maxCandidates)
        }

        package mutating func beginSession(_ session: SessionContext) -> PlanDecider {
            policy.catalog.candidates(region: session.region, feedLength: session.feedLength, adsToday: session.adsToday, into: &candidates)
            let random = SimulatedPolicy.decisionRandom(seed: policy.decisionSeed, user: session.userIndex, session: session.sessionIndex)
            var decision = session.decision
            decision.prices = prices
            choice = policy.policy.decide(decision, candidates: candidates, random: random, workspace: workspace)
            return PlanDecider(plan: candidates[choice.index].plan)
        }

        package mutating func setPrices(_ prices: PacingPrices) { self.prices = prices }

        /// The most ads any plan could hold in the session just decided.
        func adLimit(_ session: SessionContext) -> Int {
            min(session.rules.maxAdsPerSession, session.rules.dailyCap.map { max(0, $0 - session.adsToday) } ?? Int.max)
        }

        /// The log record of the session just decided and simulated.
        func record(
            session: SessionContext, outcome: SessionOutcome, reward: Double, weights: RewardWeights,
            snapshot: TrajectorySnapshot?, schema: FeatureSchema
        ) -> LoggedRecord {
            let chosen = candidates[choice.index]
            let propensity = choice.propensityKind.label
            return LoggedRecord(
                decisionID: "u\(session.userIndex)-s\(session.sessionIndex)", policy: policy.name, policyVersion: policy.version,
                region: schema.regions[session.region], device: schema.devices[session.device], tenure: schema.tenures[session.tenure],
                hour: session.hour, adsToday: session.adsToday, feedLength: session.feedLength, adLimit: adLimit(session),
                features: context, candidates: candidates.map { LoggedRecord.Candidate($0.spec) }, chosen: choice.index,
                adPositions: chosen.plan.positions, probability: choice.probability, propensity: propensity,
                outcome: LoggedRecord.Outcome(outcome), reward: reward, rewardWeights: weights.dictionary, sim: snapshot,
                contextSchema: policy.contextFingerprint)
        }
    }
}
