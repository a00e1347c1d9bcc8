import AdLoadCore
import PolicyGradient
import Simulation

/// The ad-load problem as episodes for the policy-gradient trainer: an episode is one
/// user's horizon, a step one session.
///
/// - Observation: the session's observable context encoded with the policy's feature
///   schema (request fields and the behavioural history the service keeps; never latent
///   traits or state).
/// - Actions: every plan spec of the catalog (in any region); the mask allows the ones
///   with a valid plan for this session's region, feed length and daily cap.
/// - Reward: the session's realized revenue plus the engagement weight per organic item.
/// - Time: the gap to the next session in days (discount γ per day); churn is terminal,
///   the horizon truncates.
package struct SimulatedEpisodes: EpisodicEnvironment, Sendable {
    let model: EnvironmentModel
    let schema: FeatureSchema
    let catalog: PlanCatalog
    /// The action list: spec index → spec.
    package let specs: [PlanSpec]
    /// Per region and action: whether the region has a valid plan of the spec (the part of
    /// the mask that does not change from session to session).
    let regionHasPlan: [[Bool]]
    let setup: SimulationSetup
    let engagementWeight: Double
    var trajectory: UserTrajectory?
    var context: SessionContext?
    var features: [Double]

    package var observationCount: Int { schema.contextCount }
    package var actionCount: Int { specs.count }

    package init(model: EnvironmentModel, schema: FeatureSchema, setup: SimulationSetup, engagementWeight: Double) {
        self.model = model
        self.schema = schema
        self.setup = setup
        self.engagementWeight = engagementWeight
        let catalog = model.config.planCatalog()
        let specs = catalog.allSpecs
        self.catalog = catalog
        self.specs = specs
        regionHasPlan = model.config.regions.indices.map { region in specs.map { catalog.hasPlan($0, region: region) } }
        features = Array(repeating: 0, count: schema.contextCount)
    }

    /// Episode `episode` is user `episode` of the setup's population, with its luck.
    package mutating func reset(episode: Int) -> EpisodeStep? {
        let user = model.user(episode, populationSeed: setup.populationSeed)
        let trajectory = model.startTrajectory(user, luckSeed: setup.luckSeed, days: setup.days)
        self.trajectory = trajectory
        return trajectory.isActive ? observe() : nil
    }

    /// The current session's observation and mask.
    mutating func observe() -> EpisodeStep {
        guard let trajectory else { preconditionFailure("observe() before reset(episode:)") }
        let session = model.context(of: trajectory)
        context = session
        features.withUnsafeMutableBufferPointer { schema.encodeContext(session.decision, into: $0) }
        let adsAllowed = catalog.allowsAnotherAd(region: session.region, adsToday: session.adsToday)
        let hasPlan = regionHasPlan[session.region]
        let mask = specs.indices.map { a in
            specs[a].isEmpty || (adsAllowed && specs[a].first <= session.feedLength && hasPlan[a])
        }
        return EpisodeStep(observation: features, mask: mask)
    }

    package mutating func step(_ action: Int) -> StepResult {
        guard var trajectory, let session = context else { preconditionFailure("step(_:) before reset(episode:)") }
        let plan = catalog.plan(specs[action], region: session.region, feedLength: session.feedLength, adsToday: session.adsToday)
        precondition(plan != nil, "action \(specs[action]) is not allowed in this session (the mask says so)")
        var decider = PlanDecider(plan: plan ?? AdPlan())
        let outcome: SessionOutcome
        do {
            outcome = try model.step(&trajectory, decider: &decider, policyName: "policy gradient")
        } catch {
            preconditionFailure("a catalog plan broke a placement rule: \(error)")
        }
        self.trajectory = trajectory
        let reward = outcome.revenue + engagementWeight * Double(outcome.items)
        if outcome.churned {
            return StepResult(reward: reward, elapsed: 0, terminated: true, truncated: false, next: nil)
        }
        guard trajectory.isActive else {
            return StepResult(reward: reward, elapsed: outcome.gapToNext, terminated: false, truncated: true, next: nil)
        }
        return StepResult(reward: reward, elapsed: outcome.gapToNext, terminated: false, truncated: false, next: observe())
    }
}
