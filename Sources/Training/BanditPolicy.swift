import AdLoadCore
import Policies
import Simulation

/// A linear bandit acting in the environment model: it encodes each session's context
/// with the ``FeatureSchema``, offers the region's valid plans from the ``PlanCatalog``,
/// and draws one with ``LinearBandit/decide(context:candidates:random:scratch:)``.
///
/// Decisions are reproducible: each one draws from a random stream keyed by
/// (decision seed, user, session).
public struct BanditPolicy: SessionPolicy {
    public let name: String
    /// The policy version (the file checksum, or "untrained").
    public let version: String
    public let bandit: LinearBandit
    public let schema: FeatureSchema
    public let catalog: PlanCatalog
    public let decisionSeed: UInt64
    /// `schema.contextFingerprint`, computed once: every logged decision carries it.
    public let contextFingerprint: String

    public init(name: String, version: String, bandit: LinearBandit, schema: FeatureSchema, catalog: PlanCatalog, decisionSeed: UInt64) {
        contextFingerprint = schema.contextFingerprint
        self.name = name
        self.version = version
        self.bandit = bandit
        self.schema = schema
        self.catalog = catalog
        self.decisionSeed = decisionSeed
    }

    /// The random stream of one decision.
    public static func decisionRandom(seed: UInt64, user: Int, session: Int) -> CounterRandom {
        CounterRandom(seed: seed, domain: 0x6465_6369_6465).child(UInt64(user)).child(UInt64(session))
    }

    public func makeWorker() -> Worker { Worker(policy: self) }

    /// Per-thread state: scratch buffers, so deciding allocates nothing in steady state,
    /// and the last decision (for logging and learning).
    public struct Worker: PolicyWorker {
        public let policy: BanditPolicy
        var scratch: BanditScratch
        /// c of the last decision.
        public private(set) var context: [Double]
        /// The candidates offered at the last decision.
        public private(set) var candidates: [CandidatePlan]
        /// The last choice.
        public private(set) var choice = BanditChoice(index: 0, probability: 1, propensityKind: .exact)

        init(policy: BanditPolicy) {
            self.policy = policy
            scratch = policy.bandit.makeScratch(maxCandidates: max(1, policy.catalog.maxCandidates))
            context = Array(repeating: 0, count: policy.schema.contextCount)
            candidates = []
            candidates.reserveCapacity(policy.catalog.maxCandidates)
        }

        public mutating func beginSession(_ session: SessionContext) -> PlanDecider {
            let decision = session.decision
            context.withUnsafeMutableBufferPointer { policy.schema.encodeContext(decision, into: $0) }
            policy.catalog.candidates(region: session.region, feedLength: session.feedLength, adsToday: session.adsToday, into: &candidates)
            let random = BanditPolicy.decisionRandom(seed: policy.decisionSeed, user: session.userIndex, session: session.sessionIndex)
            choice = policy.bandit.decide(context: context, candidates: candidates, random: random, scratch: &scratch)
            return PlanDecider(plan: candidates[choice.index].plan)
        }

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
            let propensity: String = switch choice.propensityKind {
            case .exact: "exact"
            case let .estimated(samples): "estimated:\(samples)"
            }
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

extension EnvironmentConfig {
    /// The feature schema of this environment's categories.
    public var featureSchema: FeatureSchema {
        FeatureSchema(regions: regions.map(\.name), devices: devices.map(\.name), tenures: tenures.map(\.name))
    }

    /// The valid plans of `family` per region of this environment.
    public func planCatalog(_ family: PlanFamily = .standard) -> PlanCatalog {
        PlanCatalog(family: family, rules: regions.map(\.rules))
    }
}
