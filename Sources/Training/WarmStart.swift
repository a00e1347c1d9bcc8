import AdLoadCore
import Policies
import Simulation

/// A warm start for a policy-gradient run: the networks are first fitted to a teacher
/// policy's greedy choices (behaviour cloning) and to the returns it earns, on its own
/// rollouts, before the first iteration.
package struct WarmStart: Sendable {
    /// What is imitated; `nil` when the run resumes from a checkpoint, which holds the clone.
    package let teacher: Teacher?
    /// Identifies the teacher in the run's identity: its file's checksum, or
    /// `thompson-defaults` for the bandit ``trainBandit(model:schema:setup:engagementWeight:threads:provenance:progress:)``
    /// trains (the run's other settings fix it).
    package let fingerprint: String
    /// User episodes the teacher runs (the first users of the population).
    package var episodes: Int
    /// Passes over the teacher's rollout.
    package var epochs = 10
    /// Probability mass spread over the allowed actions in the cloning target.
    package var smoothing = 0.1
    /// Adam's learning rate while cloning.
    package var learningRate = 1e-3

    package init(teacher: Teacher?, fingerprint: String, episodes: Int) {
        self.teacher = teacher
        self.fingerprint = fingerprint
        self.episodes = episodes
    }
}

/// What a warm start imitates.
package enum Teacher: Sendable {
    /// A policy's greedy choices (its `conservative()` form decides).
    case policy(any DecisionPolicy)
    /// One catalog plan spec per region (index) for every session, and no ads where the
    /// session cannot take that plan (another region's rules, the daily cap used up): the
    /// `best-plan` baseline's choices.
    case regionPlans([PlanSpec])

    /// A name for progress lines: the policy's algorithm, or `best-plan`.
    package var label: String {
        switch self {
        case let .policy(policy): policy.algorithm
        case .regionPlans: "best-plan"
        }
    }
}

extension WarmStart {
    /// How many times the run's users the `best-plan` teacher is searched on.
    package static let bestPlanSearchScale = 4

    /// The teacher `best-plan` names (an environment's `training.teacher`): per region, the
    /// catalog plan with the highest total objective over a fresh population drawn from
    /// `setup`'s seed, as the `best-plan` baseline is found (every valid spec simulated for
    /// every user), but on ``bestPlanSearchScale`` times `setup`'s users: on the
    /// field-calibrated preset na's best plan flips between one ad every 3 and every 4 items
    /// from one population of 800 users to another (tuning seeds 2, 3 and 5), and a clone
    /// of the less good one started 0.5% below best-plan on tuning seed 5.
    ///
    /// Why it can be the better teacher: on a preset where no bandit reaches best-plan (the
    /// field-calibrated one, docs/policy-gradient.md), PPO from a bandit's clone stays near
    /// the bandit's level; from best-plan's it starts at best-plan's.
    package static func bestPlan(
        model: EnvironmentModel, setup: SimulationSetup, threads: Int, progress: (@Sendable (String) -> Void)? = nil
    ) throws -> [PlanSpec] {
        let trainer = BaselineTrainer(runner: SimulationRunner(model: model, threads: threads))
        let search = SimulationSetup(
            users: setup.users * bestPlanSearchScale, days: setup.days, populationSeed: setup.populationSeed, luckSeed: setup.luckSeed)
        let policy = try trainer.bestPlanPolicy(evaluation: search, progress: progress)
        guard case let .byRegion(specs) = policy.assignment else {
            preconditionFailure("best-plan assigns one plan per region")
        }
        return specs
    }

    /// The teacher `adload train pg` clones when no `--warm-start` file is given: the
    /// environment's teacher algorithm (``TrainingSettings/teacher``: Thompson sampling unless
    /// the file names another) trained exactly as `adload train bandit --algo NAME` trains it
    /// with no tuning flag (``TrainingDefaults``), on the same environment, users, days and seed.
    ///
    /// Why a bandit first: from a near-uniform policy PPO needs hundreds of iterations to
    /// reach the bandits' level (docs/policy-gradient.md); from their clone it starts there and
    /// spends its iterations on what a per-session learner cannot see, the long run.
    package static func trainBandit(
        model: EnvironmentModel, schema: FeatureSchema, setup: SimulationSetup, engagementWeight: Double, threads: Int,
        provenance: PolicyProvenance, progress: ((BanditProgress) -> Void)? = nil
    ) throws -> LinearBanditPolicy {
        let settings = model.config.training
        let name = settings.teacher
        guard let algorithm = BanditAlgorithm.defaults(named: name) else {
            preconditionFailure("the environment's teacher \(name) is a bandit algorithm (checked when the file is loaded)")
        }
        var bandit = try LinearBandit(
            contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: algorithm,
            lambda: TrainingDefaults.lambda(for: name, settings: settings))
        // Priced, as `train bandit` trains it: a priced PPO's clone then learns how the
        // teacher answers prices (at the default prices it decides as an unpriced one).
        bandit.enablePricing()
        return try BanditRunner(model: model, threads: threads).train(
            bandit, name: name, schema: schema, setup: setup,
            reward: try TrainingDefaults.reward(for: name, engagementWeight: engagementWeight, settings: settings), provenance: provenance,
            progress: progress
        ).policy
    }
}
