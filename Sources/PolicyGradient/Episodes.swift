import Foundation
import LinearAlgebra

/// An episodic decision problem for the policy-gradient trainer: observations are vectors,
/// actions are indices into a fixed list with a mask of the ones allowed at each step, and
/// time between steps can vary (discounting is per unit of time, so steps close together
/// are not over-discounted).
///
/// The ad-load problem implements it with one user's horizon as an episode and one session
/// as a step; tests implement it with small problems whose answer is known.
package protocol EpisodicEnvironment {
    /// Length of an observation.
    var observationCount: Int { get }
    /// Number of actions (the mask has this length).
    var actionCount: Int { get }
    /// Starts episode `episode` (reproducible: the same index starts the same episode);
    /// `nil` for an episode with no step (a user whose first visit falls past the horizon).
    mutating func reset(episode: Int) -> EpisodeStep?
    /// Takes `action` (allowed by the last step's mask) and returns what followed.
    mutating func step(_ action: Int) -> StepResult
}

/// What the agent sees before acting.
package struct EpisodeStep: Sendable {
    package var observation: [Double]
    /// `mask[a]` is whether action a is allowed now; at least one is.
    package var mask: [Bool]

    package init(observation: [Double], mask: [Bool]) {
        self.observation = observation
        self.mask = mask
    }
}

/// What followed an action.
package struct StepResult: Sendable {
    package var reward: Double
    /// Time until the next step (in the discount's unit, days for the ad problem).
    package var elapsed: Double
    /// The episode ended in a terminal state (no value after it: churn).
    package var terminated: Bool
    /// The episode was cut at its horizon (the state still has a value, but none is collected).
    package var truncated: Bool
    /// The next step, when the episode goes on.
    package var next: EpisodeStep?

    package init(reward: Double, elapsed: Double, terminated: Bool, truncated: Bool, next: EpisodeStep?) {
        self.reward = reward
        self.elapsed = elapsed
        self.terminated = terminated
        self.truncated = truncated
        self.next = next
    }
}

/// Steps of many episodes, flattened in episode order, with what the update needs.
package struct RolloutBatch: Sendable {
    package var observations: [Double] = []
    package var masks: [Bool] = []
    package var actions: [Int] = []
    /// The behaviour policy's probability of each action taken.
    package var probabilities: [Double] = []
    package var rewards: [Double] = []
    /// Discount factor to the next step: γ^elapsed.
    package var discounts: [Double] = []
    /// Whether the step ended its episode (terminal or truncated).
    package var episodeEnds: [Bool] = []
    /// Whether that end was terminal (no bootstrap from the value of the next state).
    package var terminals: [Bool] = []
    /// Value estimates V(s) of each step's state.
    package var values: [Double] = []
    /// V of the state after a truncated last step (0 otherwise).
    package var bootstrapValues: [Double] = []
    /// Sum of rewards per episode (undiscounted), for progress.
    package var episodeReturns: [Double] = []
    /// Time of each step since its episode's first step (in the discount's unit).
    package var times: [Double] = []
    /// Per episode (in order): the group of paired rollouts it belongs to, episodes of one
    /// group being the same problem on the same luck (common random numbers) with their own
    /// action draws; empty when the batch has no groups.
    package var episodeGroups: [Int] = []
    /// Advantages measured while collecting (branches on common random numbers: one per
    /// step); empty when the update estimates them from the returns.
    package var advantages: [Double] = []
    /// Weights of the steps in the update (distinct branch actions, ``Branching/distinct``);
    /// empty when every step weighs 1.
    package var weights: [Double] = []
    /// Branch points measured, and the distinct actions followed at them in all: their ratio
    /// is how many different actions a point compared (1: the point carried nothing).
    package var branchPoints = 0
    package var branchPlans = 0
    /// States of the rollouts (the value network's input rows, one after another) on which it
    /// is fitted, and their discounted returns to the episode's end: filled only with
    /// branches cut at a horizon and valued there (``Branching/valuedAtCut``).
    package var valueObservations: [Double] = []
    package var valueTargets: [Double] = []
    /// Sessions simulated to collect the batch: its steps, and with branches also the
    /// branches' own continuations, which are simulated but not trained on.
    package var simulatedSteps = 0

    package init() {}

    package var count: Int { actions.count }

    /// The batches one after another, each array allocated once at its final size.
    package static func merging(_ batches: [RolloutBatch]) -> RolloutBatch {
        var all = RolloutBatch()
        func reserve<Element>(_ array: WritableKeyPath<RolloutBatch, [Element]>) {
            all[keyPath: array].reserveCapacity(batches.reduce(0) { $0 + $1[keyPath: array].count })
        }
        reserve(\.observations)
        reserve(\.masks)
        for key in [\RolloutBatch.actions, \.episodeGroups] { reserve(key) }
        for key in [
            \RolloutBatch.probabilities, \.rewards, \.discounts, \.values, \.bootstrapValues, \.episodeReturns, \.times, \.advantages, \.weights,
            \.valueObservations, \.valueTargets,
        ] {
            reserve(key)
        }
        for key in [\RolloutBatch.episodeEnds, \.terminals] { reserve(key) }
        for batch in batches { all.append(batch) }
        return all
    }

    /// Appends `other` after this batch.
    package mutating func append(_ other: RolloutBatch) {
        observations += other.observations
        masks += other.masks
        actions += other.actions
        probabilities += other.probabilities
        rewards += other.rewards
        discounts += other.discounts
        episodeEnds += other.episodeEnds
        terminals += other.terminals
        values += other.values
        bootstrapValues += other.bootstrapValues
        episodeReturns += other.episodeReturns
        times += other.times
        episodeGroups += other.episodeGroups
        advantages += other.advantages
        weights += other.weights
        valueObservations += other.valueObservations
        valueTargets += other.valueTargets
        branchPoints += other.branchPoints
        branchPlans += other.branchPlans
        simulatedSteps += other.simulatedSteps
    }

    /// The fields a measured step (a branch point's sample) does not use: no reward,
    /// discount or value of its own, and an episode of its own.
    mutating func appendMeasuredStep() {
        rewards.append(0)
        discounts.append(1)
        times.append(0)
        values.append(0)
        episodeEnds.append(true)
        terminals.append(true)
        bootstrapValues.append(0)
    }
}

/// Generalized advantage estimation (Schulman et al., 2016) with a discount per step
/// (γ^elapsed, so time between steps counts) and λ applied per step.
///
/// δ_t = r_t + d_t·V(s_{t+1})·[not terminal] − V(s_t);  A_t = δ_t + d_t·λ·A_{t+1} within an
/// episode. The return target is A_t + V(s_t).
package enum AdvantageEstimation {
    /// Each step's discounted return to its episode's end, with nothing bootstrapped at a
    /// truncation (GAE with λ = 1 on zero values): the targets a critic is fitted on from a
    /// rollout that was run without one.
    package static func discountedReturns(_ batch: RolloutBatch) -> [Double] {
        var zeroValued = batch
        zeroValued.values = Array(repeating: 0, count: batch.count)
        zeroValued.bootstrapValues = Array(repeating: 0, count: batch.count)
        return compute(zeroValued, lambda: 1).advantages
    }

    /// Advantages and return targets for `batch`.
    package static func compute(_ batch: RolloutBatch, lambda: Double) -> (advantages: [Double], returns: [Double]) {
        let n = batch.count
        var advantages = [Double](repeating: 0, count: n)
        var next = 0.0
        for t in stride(from: n - 1, through: 0, by: -1) {
            let nextValue: Double
            if batch.episodeEnds[t] {
                nextValue = batch.terminals[t] ? 0 : batch.bootstrapValues[t]
                next = 0
            } else {
                nextValue = batch.values[t + 1]
            }
            let delta = batch.rewards[t] + batch.discounts[t] * nextValue - batch.values[t]
            next = delta + batch.discounts[t] * lambda * next
            advantages[t] = next
        }
        return (advantages, zip(advantages, batch.values).map { $0 + $1 })
    }

    /// Monte Carlo returns with a baseline from paired rollouts on common random numbers: the
    /// advantage of a step at time τ of episode k is its discounted return minus the mean,
    /// over the other episodes of k's group, of what they earned from τ on (discounted to τ;
    /// 0 for one that had ended). The other episodes' actions are drawn independently of k's,
    /// so the baseline does not depend on k's action and the gradient stays unbiased; sharing
    /// the problem and its luck, it removes what the critic cannot: the spread between
    /// problems (latent traits) and between lucks. Steps of an episode without a partner use
    /// the value V(s) instead (λ = 1). The return target is the discounted return.
    /// - Precondition: `batch.episodeGroups` has one entry per episode and `batch.times` one per step.
    package static func paired(_ batch: RolloutBatch, gamma: Double) -> (advantages: [Double], returns: [Double]) {
        let returns = compute(batch, lambda: 1).advantages.enumerated().map { $1 + batch.values[$0] }
        var starts = batch.count > 0 ? [0] : []
        for t in 0..<batch.count where batch.episodeEnds[t] && t + 1 < batch.count { starts.append(t + 1) }
        precondition(starts.count == batch.episodeGroups.count && batch.times.count == batch.count,
                     "paired advantages need a group per episode and a time per step")
        let ranges = starts.indices.map { starts[$0]..<(($0 + 1 < starts.count) ? starts[$0 + 1] : batch.count) }
        var members: [Int: [Int]] = [:]
        for (episode, group) in batch.episodeGroups.enumerated() { members[group, default: []].append(episode) }
        var advantages = returns.enumerated().map { $1 - batch.values[$0] }
        for episodes in members.values where episodes.count > 1 {
            let share = 1 / Double(episodes.count - 1)
            for k in episodes {
                for t in ranges[k] { advantages[t] = returns[t] }
                for j in episodes where j != k {
                    // Walk j's steps alongside k's: the first step of j at or after each τ.
                    var cursor = ranges[j].lowerBound
                    for t in ranges[k] {
                        let tau = batch.times[t]
                        while cursor < ranges[j].upperBound && batch.times[cursor] < tau { cursor += 1 }
                        var later = 0.0
                        if cursor < ranges[j].upperBound {
                            later = pow(gamma, batch.times[cursor] - tau) * returns[cursor]
                        }
                        advantages[t] -= share * later
                    }
                }
            }
        }
        return (advantages, returns)
    }
}
