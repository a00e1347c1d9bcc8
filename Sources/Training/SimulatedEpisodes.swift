import AdLoadCore
import Foundation
import Policies
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
/// - Reward: the session's realized revenue plus the engagement weight per organic item;
///   when priced, the priced objective R(p) of ``NetworkPricing`` at the episode's prices,
///   which are drawn per episode over the pricing's ranges and appended to the observation.
/// - Time: the gap to the next session in days (discount γ per day); churn is terminal,
///   the horizon truncates.
package struct SimulatedEpisodes: EpisodicEnvironment, Sendable {
    let model: EnvironmentModel
    let schema: FeatureSchema
    let catalog: PlanCatalog
    /// The action list: spec index → spec.
    package let specs: [PlanSpec]
    /// Per region and action: the shortest feed on which the action is allowed when the daily
    /// cap allows another ad (`Int.min` for the no-ads spec, `Int.max` for a spec without a
    /// valid plan in the region): the part of the mask that does not change between sessions.
    let regionFirstSlot: [[Int]]
    /// The mask of a session whose daily cap is used up: only the no-ads spec.
    let noAdsMask: [Bool]
    /// Per region, the mask of a session of the environment's feed length (every simulated
    /// session's) whose daily cap allows another ad: made once, not per session.
    let regionMasks: [[Bool]]
    let setup: SimulationSetup
    let engagementWeight: Double
    /// The pricing of a priced policy's training (`nil`: unpriced, prices are not observed).
    package let pricing: NetworkPricing?
    /// Where an episode's prices come from: episode e's are drawn from `priceDraws.child(e)`
    /// (the trainer sets it per iteration, the same for paired rollouts of one user).
    package var priceDraws = CounterRandom(seed: 0, domain: 0x7072) // "pr"
    /// The current episode's prices (the defaults when unpriced).
    package private(set) var prices = PacingPrices.defaults
    /// What followed the last step (for `adload env`'s `info`).
    package private(set) var lastOutcome: SessionOutcome?
    var trajectory: UserTrajectory?
    var context: SessionContext?
    var features: [Double]

    package var observationCount: Int { NetworkPolicy.inputCount(schema: schema, pricing: pricing) }
    package var actionCount: Int { specs.count }

    package init(model: EnvironmentModel, schema: FeatureSchema, setup: SimulationSetup, engagementWeight: Double, pricing: NetworkPricing? = nil) {
        self.model = model
        self.schema = schema
        self.setup = setup
        self.engagementWeight = engagementWeight
        self.pricing = pricing
        let catalog = model.config.planCatalog()
        let specs = catalog.allSpecs
        self.catalog = catalog
        self.specs = specs
        regionFirstSlot = model.config.regions.indices.map { region in
            specs.map { spec in spec.isEmpty ? Int.min : (catalog.hasPlan(spec, region: region) ? spec.first : Int.max) }
        }
        noAdsMask = specs.map(\.isEmpty)
        let feedLength = model.config.maxItems
        regionMasks = regionFirstSlot.map { firstSlots in firstSlots.map { $0 <= feedLength } }
        features = Array(repeating: 0, count: NetworkPolicy.inputCount(schema: schema, pricing: pricing))
    }

    /// Episode `episode` is user `episode` of the setup's population, with its luck.
    package mutating func reset(episode: Int) -> EpisodeStep? {
        let user = model.user(episode, populationSeed: setup.populationSeed)
        let trajectory = model.startTrajectory(user, luckSeed: setup.luckSeed, days: setup.days)
        self.trajectory = trajectory
        if let pricing { prices = Self.samplePrices(pricing.ranges, random: priceDraws.child(UInt64(episode))) }
        return trajectory.isActive ? observe() : nil
    }

    /// The current session's observation and mask.
    mutating func observe() -> EpisodeStep {
        guard let trajectory else { preconditionFailure("observe() before reset(episode:)") }
        let session = model.context(of: trajectory)
        context = session
        features.withUnsafeMutableBufferPointer { values in
            schema.encodeContext(session.decision, into: UnsafeMutableBufferPointer(rebasing: values[0..<schema.contextCount]))
            pricing?.writeInputs(prices, into: values, at: schema.contextCount)
        }
        guard catalog.allowsAnotherAd(region: session.region, adsToday: session.adsToday) else {
            return EpisodeStep(observation: features, mask: noAdsMask)
        }
        let feedLength = session.feedLength
        guard feedLength != model.config.maxItems else { return EpisodeStep(observation: features, mask: regionMasks[session.region]) }
        return EpisodeStep(observation: features, mask: regionFirstSlot[session.region].map { $0 <= feedLength })
    }

    package mutating func step(_ action: Int) -> StepResult {
        guard trajectory != nil, let region = context?.region, let feedLength = context?.feedLength, let adsToday = context?.adsToday else {
            preconditionFailure("step(_:) before reset(episode:)")
        }
        let plan = catalog.plan(specs[action], region: region, feedLength: feedLength, adsToday: adsToday)
        precondition(plan != nil, "action \(specs[action]) is not allowed in this session (the mask says so)")
        var decider = PlanDecider(plan: plan ?? AdPlan())
        let outcome: SessionOutcome
        do {
            // In place: a copy stepped and stored back copied the whole user state twice a session.
            outcome = try model.step(&trajectory!, decider: &decider, policyName: "policy gradient")
        } catch {
            preconditionFailure("a catalog plan broke a placement rule: \(error)")
        }
        lastOutcome = outcome
        let reward = pricing.map { $0.objective(Self.priced(outcome), prices: prices, engagementWeight: engagementWeight) }
            ?? outcome.revenue + engagementWeight * Double(outcome.items)
        if outcome.churned {
            return StepResult(reward: reward, elapsed: 0, terminated: true, truncated: false, next: nil)
        }
        guard trajectory?.isActive == true else {
            return StepResult(reward: reward, elapsed: outcome.gapToNext, terminated: false, truncated: true, next: nil)
        }
        return StepResult(reward: reward, elapsed: outcome.gapToNext, terminated: false, truncated: false, next: observe())
    }
}

extension SimulatedEpisodes {
    /// A session's priced quantities (realized revenue, impressions, negative reactions, organic items).
    static func priced(_ outcome: SessionOutcome) -> PricedOutcome {
        PricedOutcome(
            revenue: outcome.revenue, impressions: Double(outcome.ads), negatives: Double(outcome.negatives),
            organicItems: Double(outcome.items))
    }

    /// One episode's prices: each price is its default with probability 1/2 (so the
    /// defaults, where the policy mostly serves, stay well covered), otherwise drawn over its
    /// range: log-uniformly for the revenue price (a multiplier), as low + (high − low)·u²
    /// for the others (u uniform), so small prices, where pacing mostly acts, are drawn
    /// more often than large ones (half the draws fall in the range's first quarter).
    static func samplePrices(_ ranges: [ClosedRange<Double>], random: CounterRandom) -> PacingPrices {
        let defaults = [PacingPrices.defaults.revenue, PacingPrices.defaults.impressions, PacingPrices.defaults.negatives, PacingPrices.defaults.organic]
        var values = defaults
        for k in 0..<4 where random.uniform(UInt64(2 * k)) >= 0.5 {
            let u = random.uniform(UInt64(2 * k + 1))
            let range = ranges[k]
            if k == 0 && range.lowerBound > 0 {
                values[k] = exp(log(range.lowerBound) + u * (log(range.upperBound) - log(range.lowerBound)))
            } else {
                values[k] = range.lowerBound + u * u * (range.upperBound - range.lowerBound)
            }
            values[k] = min(range.upperBound, max(range.lowerBound, values[k]))
        }
        return PacingPrices(revenue: values[0], impressions: values[1], negatives: values[2], organic: values[3])
    }

    /// The pricing scales of this problem: revenue per impression, per negative reaction and
    /// per organic item over `users` episodes at the default prices, each session's plan drawn
    /// uniformly among the valid ones (a reference that needs no policy, so a resumed run
    /// measures the same).
    package mutating func measurePricing(users: Range<Int>, random: CounterRandom, ranges: [ClosedRange<Double>] = NetworkPricing.defaultRanges) -> NetworkPricing {
        var totals = (revenue: 0.0, impressions: 0.0, negatives: 0.0, items: 0.0)
        for episode in users {
            let luck = random.child(UInt64(episode))
            var current = reset(episode: episode)
            var stepIndex: UInt64 = 0
            while let step = current {
                let allowed = step.mask.indices.filter { step.mask[$0] }
                let action = allowed[min(allowed.count - 1, Int(luck.uniform(stepIndex) * Double(allowed.count)))]
                current = self.step(action).next
                guard let outcome = lastOutcome else { preconditionFailure("a step has an outcome") }
                totals.revenue += outcome.revenue
                totals.impressions += Double(outcome.ads)
                totals.negatives += Double(outcome.negatives)
                totals.items += Double(outcome.items)
                stepIndex += 1
            }
        }
        return NetworkPricing(
            totalRevenue: totals.revenue, impressions: totals.impressions, negatives: totals.negatives, organicItems: totals.items,
            ranges: ranges)
    }

    /// Runs `episodes` with `teacher` deciding every session (a policy as given: pass its
    /// `conservative()` form for its greedy choices) among the session's valid plans, for a
    /// warm start by behaviour cloning. Observations are raw (not normalized); the recorded
    /// probabilities are 1, the values 0, and the discounts γ^elapsed with `gamma` per day.
    /// - Precondition: every plan the teacher can choose is in this problem's action list
    ///   (it is when the teacher's plan family is the environment's).
    package mutating func teacherRollout(_ teacher: Teacher, episodes: Range<Int>, gamma: Double, random: CounterRandom) -> RolloutBatch {
        let actionIndex = Dictionary(uniqueKeysWithValues: specs.enumerated().map { ($1, $0) })
        guard let noAds = specs.firstIndex(where: \.isEmpty) else { preconditionFailure("the action list has the no-ads spec") }
        var workspace: PolicyWorkspace?
        var regionActions: [Int] = []
        switch teacher {
        case let .policy(policy): workspace = policy.makeWorkspace(maxCandidates: catalog.maxCandidates)
        case let .regionPlans(table):
            regionActions = table.map { spec in
                guard let action = actionIndex[spec] else { preconditionFailure("best-plan's \(spec) is not in the action list") }
                return action
            }
        }
        var candidates: [CandidatePlan] = []
        var batch = RolloutBatch()
        for episode in episodes {
            let luck = random.child(UInt64(episode))
            var current = reset(episode: episode)
            var stepIndex: UInt64 = 0
            var total = 0.0
            var time = 0.0
            while let step = current, let session = context {
                let action: Int
                switch teacher {
                case let .policy(policy):
                    guard let workspace else { preconditionFailure("a policy teacher has its workspace") }
                    catalog.candidates(region: session.region, feedLength: session.feedLength, adsToday: session.adsToday, into: &candidates)
                    var decision = session.decision
                    decision.prices = prices
                    let choice = policy.decide(decision, candidates: candidates, random: luck.child(stepIndex), workspace: workspace)
                    guard let chosen = actionIndex[candidates[choice.index].spec] else {
                        preconditionFailure("the teacher chose \(candidates[choice.index].spec), which is not in the action list")
                    }
                    action = chosen
                case .regionPlans:
                    let planned = session.region < regionActions.count ? regionActions[session.region] : noAds
                    action = step.mask[planned] ? planned : noAds
                }
                let result = self.step(action)
                batch.observations += step.observation
                batch.masks += step.mask
                batch.actions.append(action)
                batch.probabilities.append(1)
                batch.rewards.append(result.reward)
                batch.discounts.append(pow(gamma, result.elapsed))
                batch.times.append(time)
                time += result.elapsed
                batch.values.append(0)
                let ends = result.terminated || result.truncated || result.next == nil
                batch.episodeEnds.append(ends)
                batch.terminals.append(result.terminated)
                batch.bootstrapValues.append(0)
                total += result.reward
                current = ends ? nil : result.next
                stepIndex += 1
            }
            batch.episodeReturns.append(total)
        }
        return batch
    }
}
