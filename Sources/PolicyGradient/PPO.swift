import AdLoadCore
import Dispatch
import Foundation
import LinearAlgebra
import Networks
import Synchronization

/// Settings of a policy-gradient run. The clip, minibatch, value coefficient and
/// gradient-norm clipping are the usual PPO ones (Schulman et al., 2017, and common reference
/// implementations); the widths, epochs, entropy bonus, λ and paired rollouts were chosen on
/// the ad-load problem's tuning seed 5 (docs/policy-gradient.md).
package struct PolicyGradientConfiguration: Sendable, Equatable {
    /// PPO (clipped surrogate, several epochs) or REINFORCE with a value baseline (one epoch,
    /// no clipping, Monte Carlo returns).
    package enum Algorithm: String, Sendable, CaseIterable {
        case ppo, reinforce
    }

    package var algorithm: Algorithm = .ppo
    /// Hidden layer widths of both networks (32: what every screen used; 64,64 trains at half the rate).
    package var hidden: [Int] = [32]
    /// Discount per unit of elapsed time (per day for the ad problem).
    package var gamma = 0.99
    /// GAE λ per step (REINFORCE uses 1). 1 by default, not the usual 0.95: on the ad-load
    /// problem the critic sees only observable history, and advantages that lean on it
    /// drifted towards fewer ads at 0.95 and 0.99 (docs/policy-gradient.md).
    package var lambda = 1.0
    /// PPO's clip ε on the probability ratio.
    package var clip = 0.2
    /// Passes over each batch. 1, not the usual 4: on the tuning seed 4 and 2 epochs gave
    /// 1.053× best-plan and 1 gave 1.052×, and each epoch is the update's whole cost
    /// (docs/policy-gradient.md).
    package var epochs = 1
    package var minibatchSize = 256
    /// 0.001: at 0.01 the policy stayed near uniform after 100 iterations.
    package var entropyCoefficient = 0.001
    package var valueCoefficient = 0.5
    package var learningRate = 3e-4
    /// The learning rate `adload train pg --warm-start none` uses: from a near-uniform policy
    /// 3e-4 moved too slowly (docs/policy-gradient.md).
    package static let scratchLearningRate = 3e-3
    package var maxGradientNorm = 0.5
    /// Episodes run on each problem and luck per batch (paired rollouts on common random
    /// numbers): with more than 1, advantages are Monte Carlo returns minus the mean of the
    /// partners' returns (``AdvantageEstimation/paired(_:gamma:)``) and λ is not used.
    /// 4 by default: from the same clone, 1.051× best-plan against 1.038× unpaired.
    package var pairedRollouts = 4
    /// Advantages from branches instead (``Branching``; `nil`: from returns, paired or not).
    package var branching: Branching?

    package init() {}
}

/// Where and how a rollout branches to measure advantages on common random numbers, as the
/// "vine" procedure of TRPO (Schulman et al., 2015, §5.2) does: at `points` steps of each
/// episode, drawn uniformly, the state is copied and `actions` actions drawn from the policy
/// (the rollout's own among them) are each followed to the episode's end with the same luck
/// and the same action draws afterwards. An action's advantage is its discounted return
/// from the step minus the mean of the others' there: the luck and the later decisions
/// they share cancel, and what is left is that one action's effect, now and on the long run.
/// With a `horizon`, every return from a point (the rollout's own too) counts only the steps
/// that start less than `horizon` units of time after it: less of the later luck, and none
/// of the effects that come later.
///
/// With `valuedAtCut` as well, a return cut at the horizon gets the value network's estimate
/// of the state reached there, discounted (an n-step return in simulated time): the later
/// effects come back through the critic, fitted on the rollouts' own returns to the
/// episode's end, without the later luck.
///
/// With `distinct`, a point's actions are drawn without replacement instead (Gumbel-top-k),
/// so a sharp policy's point still compares different actions; each action's sample is
/// then weighted by its probability over its estimated inclusion probability, self-normalized
/// over the point (Kool, van Hoof and Welling, 2019, "Stochastic beams and where to find
/// them", §4), and its advantage is its return minus the weighted mean of the point's.
package struct Branching: Sendable, Equatable {
    /// Steps per episode where the rollout branches (every step of a shorter episode).
    package var points: Int
    /// Actions tried at each point, the rollout's own included with replacement (at least 2).
    package var actions: Int
    /// Whether a point's actions are drawn without replacement (and weighted).
    package var distinct: Bool
    /// How far in the environment's time a plan's return is counted from its point: the
    /// steps that start less than this after the point (`nil`: to the episode's end).
    package var horizon: Double?
    /// Whether a return cut at the horizon adds the critic's value of the state reached
    /// (only with a `horizon`).
    package var valuedAtCut: Bool

    package init(points: Int, actions: Int, distinct: Bool = false, horizon: Double? = nil, valuedAtCut: Bool = false) {
        self.points = max(1, points)
        self.actions = max(2, actions)
        self.distinct = distinct
        self.horizon = horizon.map { max(0, $0) }
        self.valuedAtCut = valuedAtCut && horizon != nil
    }

    /// Rollout steps per episode, at most, on which the critic is fitted when it values the
    /// cut (evenly spaced): enough for a small network, a small share of the update's work.
    package static let valueSamplesPerEpisode = 64
}

/// The policy and value networks: logits over every action (masked to the allowed ones,
/// then a softmax) and a state value.
package struct ActorCritic: Sendable, Equatable {
    package var policy: MLP
    package var value: MLP

    /// Fresh networks: the policy's last layer starts small (gain 0.01), so the first policy
    /// is near uniform over the allowed actions.
    /// - Parameter criticInputs: inputs of the value network after the observation's (the
    ///   episode's time, for a critic that values the branches' cut).
    package init(observationCount: Int, actionCount: Int, hidden: [Int], random: CounterRandom, criticInputs: Int = 0) {
        policy = MLP(sizes: [observationCount] + hidden + [actionCount], random: random.child(1), outputGain: 0.01)
        value = MLP(sizes: [observationCount + criticInputs] + hidden + [1], random: random.child(2), outputGain: 1)
    }

    /// The masked softmax of `logits` into `probabilities` (0 where the mask forbids).
    /// - Returns: the log-partition log Σ exp(z) over the allowed actions, so that
    ///   log π_j = z_j − it without a `log` per action.
    @discardableResult
    package static func softmax(_ logits: UnsafeBufferPointer<Double>, mask: ArraySlice<Bool>, into probabilities: inout [Double]) -> Double {
        let count = mask.count
        return mask.withUnsafeBufferPointer { allowed in
            probabilities.withUnsafeMutableBufferPointer { weights in
                var largest = -Double.infinity
                for action in 0..<count where allowed[action] { largest = max(largest, logits[action]) }
                // The allowed actions' exponents packed at the front and exponentiated at once
                // (a forbidden action costs nothing), then spread back to their actions from
                // the last one down, which never overwrites a packed value not yet moved.
                var packed = 0
                for action in 0..<count where allowed[action] {
                    weights[packed] = logits[action] - largest
                    packed += 1
                }
                FastExp.exp(UnsafeMutableBufferPointer(rebasing: weights[0..<packed]))
                var total = 0.0
                for index in 0..<packed { total += weights[index] }
                for action in stride(from: count - 1, through: 0, by: -1) {
                    if allowed[action] {
                        packed -= 1
                        weights[action] = weights[packed]
                    } else {
                        weights[action] = 0
                    }
                }
                let inverse = 1 / total
                for action in 0..<count { weights[action] *= inverse }
                return largest + log(total)
            }
        }
    }
}

/// What one update did, for progress lines and learning curves.
package struct UpdateStatistics: Sendable, Equatable {
    package var policyLoss = 0.0
    package var valueLoss = 0.0
    package var entropy = 0.0
    /// Mean of the k3 estimate of KL(old ‖ new) over the last epoch.
    package var approximateKL = 0.0
    /// Share of samples whose ratio left [1 − ε, 1 + ε] in the last epoch.
    package var clipFraction = 0.0

    package init() {}
}

/// The clipped surrogate of one sample and its gradient with respect to the logits.
///
/// loss = −min(r·A, clip(r, 1 − ε, 1 + ε)·A) − c_H·H(π), r = π(a)/π_old(a). Where the clipped
/// term is the smaller one the surrogate does not depend on the logits, and only the
/// entropy term moves them. ∂(r·A)/∂z_j = A·r·(1[j = a] − π_j);
/// ∂H/∂z_j = −π_j·(log π_j + H).
package enum SurrogateLoss {
    /// - Parameters:
    ///   - probabilities: π, the masked softmax of `logits`.
    ///   - logPartition: what ``ActorCritic/softmax(_:mask:into:)`` returned for `logits`, so
    ///     log π_j = z_j − logPartition (no `log` per action: it was 3–4% of a training run).
    /// - Returns: the loss, the ratio and whether it was clipped; `gradient` receives ∂loss/∂z.
    package static func evaluate(
        probabilities: UnsafeBufferPointer<Double>, logits: UnsafeBufferPointer<Double>, logPartition: Double, action: Int,
        oldProbability: Double, advantage: Double, clip: Double?, entropyCoefficient: Double, gradient: UnsafeMutableBufferPointer<Double>
    ) -> (loss: Double, ratio: Double, clipped: Bool, entropy: Double) {
        let ratio = probabilities[action] / oldProbability
        // `gradient` holds log π_j until the last loop overwrites it.
        var entropy = 0.0
        for j in probabilities.indices {
            let p = probabilities[j]
            let logP = p > 0 ? logits[j] - logPartition : 0
            gradient[j] = logP
            entropy -= p * logP
        }
        var clipped = false
        var surrogate = ratio * advantage
        if let clip {
            let bounded = min(max(ratio, 1 - clip), 1 + clip) * advantage
            if bounded < surrogate {
                surrogate = bounded
                clipped = true
            }
        }
        let policyScale = clipped ? 0 : advantage * ratio
        for j in probabilities.indices {
            let p = probabilities[j]
            let indicator: Double = j == action ? 1 : 0
            let entropyGradient = p > 0 ? -p * (gradient[j] + entropy) : 0
            gradient[j] = -policyScale * (indicator - p) - entropyCoefficient * entropyGradient
        }
        return (-surrogate - entropyCoefficient * entropy, ratio, clipped, entropy)
    }
}

/// PPO and REINFORCE-with-baseline updates of an ``ActorCritic`` from rollouts.
package struct PolicyGradientTrainer: Sendable {
    package var model: ActorCritic
    package let configuration: PolicyGradientConfiguration
    package let observationCount: Int
    package let actionCount: Int
    /// Observations are fed to the networks as (x − mean) / standardDeviation.
    package private(set) var mean: [Double]
    package private(set) var standardDeviation: [Double]
    package private(set) var policyOptimizer: Adam
    package private(set) var valueOptimizer: Adam

    package init(observationCount: Int, actionCount: Int, configuration: PolicyGradientConfiguration, seed: UInt64) {
        self.configuration = configuration
        self.observationCount = observationCount
        self.actionCount = actionCount
        mean = Array(repeating: 0, count: observationCount)
        standardDeviation = Array(repeating: 1, count: observationCount)
        model = ActorCritic(
            observationCount: observationCount, actionCount: actionCount, hidden: configuration.hidden,
            random: CounterRandom(seed: seed, domain: 0x6E6574), // "net"
            criticInputs: configuration.branching?.valuedAtCut == true ? 1 : 0)
        policyOptimizer = Adam(for: model.policy, learningRate: configuration.learningRate, maxGradientNorm: configuration.maxGradientNorm)
        valueOptimizer = Adam(
            for: model.value, learningRate: configuration.branching?.valuedAtCut == true ? Self.cutValueLearningRate : configuration.learningRate,
            maxGradientNorm: configuration.maxGradientNorm)
    }

    /// The critic's learning rate when it values the branches' cut: a regression on
    /// returns, slower than the policy's 1e-2 (whose steps the gradient clipping bounds).
    package static let cutValueLearningRate = 1e-3

    /// Days per unit of the critic's time input (``criticRow(_:time:into:)``).
    package static let criticTimeScale = 100.0

    /// The value network's input row for a state that valued cuts use: the normalized
    /// observation, then the time since the episode's first step in units of
    /// ``criticTimeScale``. A return to the episode's end shrinks as the end nears, which the
    /// observation does not say; the critic alone sees the time (the policy never does).
    func criticRow(_ observation: [Double], time: Double, into row: UnsafeMutableBufferPointer<Double>) {
        for feature in 0..<observationCount {
            row[feature] = (observation[feature] - mean[feature]) / standardDeviation[feature]
        }
        row[observationCount] = time / Self.criticTimeScale
    }

    /// The critic's rows and targets for a rollout `batch` whose observations are already
    /// normalized (a teacher's): each step's row with its time, and its discounted return to
    /// the episode's end.
    package func criticSamples(_ batch: RolloutBatch) -> (observations: [Double], targets: [Double]) {
        let targets = AdvantageEstimation.discountedReturns(batch)
        var rows: [Double] = []
        rows.reserveCapacity(batch.count * (observationCount + 1))
        for step in 0..<batch.count {
            rows += batch.observations[(step * observationCount)..<((step + 1) * observationCount)]
            rows.append(batch.times[step] / Self.criticTimeScale)
        }
        return (rows, targets)
    }

    /// Puts back a checkpointed state (networks, normalization, both optimizers) into a
    /// trainer made with the same configuration and sizes.
    package mutating func restore(
        model: ActorCritic, mean: [Double], standardDeviation: [Double], policyOptimizer: Adam, valueOptimizer: Adam
    ) {
        self.model = model
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.policyOptimizer = policyOptimizer
        self.valueOptimizer = valueOptimizer
    }

    /// Fixes the observation normalization to the per-feature mean and standard deviation of
    /// `batch`'s observations (collected before any normalization was set); a feature that
    /// does not vary keeps a standard deviation of 1.
    package mutating func fitNormalization(_ batch: RolloutBatch) {
        let n = Double(max(1, batch.count))
        for feature in 0..<observationCount {
            var sum = 0.0, squares = 0.0
            for step in 0..<batch.count {
                let x = batch.observations[step * observationCount + feature]
                sum += x
                squares += x * x
            }
            let average = sum / n
            let spread = max(0, squares / n - average * average).squareRoot()
            mean[feature] = average
            standardDeviation[feature] = spread > 1e-6 ? spread : 1
        }
    }

    /// Runs `episodes` of `environment` with the current policy (actions sampled with
    /// `random`, keyed by episode and step, so the result is reproducible). The batch holds
    /// the normalized observations the networks saw, and the value network's estimates when
    /// `critic` is true (GAE needs them; paired rollouts do not, and their values stay 0).
    package func collect<E: EpisodicEnvironment>(
        _ environment: inout E, episodes: Range<Int>, random: CounterRandom, critic: Bool = true
    ) -> RolloutBatch {
        var batch = RolloutBatch()
        var policyScratch = MLP.Scratch(for: model.policy)
        var valueScratch = MLP.Scratch(for: model.value)
        var probabilities = [Double](repeating: 0, count: actionCount)
        // The normalized observation, written in place for every step (no allocation per step).
        var observation = Vector.zeros(observationCount)
        for episode in episodes {
            let luck = random.child(UInt64(episode))
            var current = environment.reset(episode: episode)
            guard current != nil else { continue }
            var stepIndex: UInt64 = 0
            var total = 0.0
            var time = 0.0
            while let step = current {
                act(on: step, observation: &observation, scratch: &policyScratch, probabilities: &probabilities)
                observation.withUnsafeBufferPointer { batch.observations.append(contentsOf: $0) }
                if critic { model.value.infer(observation, scratch: &valueScratch) }
                let action = Self.sample(probabilities, uniform: luck.uniform(stepIndex))
                let result = environment.step(action)
                batch.masks += step.mask
                batch.actions.append(action)
                batch.probabilities.append(probabilities[action])
                batch.rewards.append(result.reward)
                batch.discounts.append(pow(configuration.gamma, result.elapsed))
                batch.times.append(time)
                time += result.elapsed
                batch.values.append(critic ? valueScratch.output[0] : 0)
                let ends = result.terminated || result.truncated || result.next == nil
                batch.episodeEnds.append(ends)
                batch.terminals.append(result.terminated)
                var bootstrap = 0.0
                if critic, ends && !result.terminated, let next = result.next {
                    var nextNormalized = next.observation
                    for feature in nextNormalized.indices {
                        nextNormalized[feature] = (nextNormalized[feature] - mean[feature]) / standardDeviation[feature]
                    }
                    model.value.infer(Vector(nextNormalized), scratch: &valueScratch)
                    bootstrap = valueScratch.output[0]
                }
                batch.bootstrapValues.append(bootstrap)
                total += result.reward
                current = ends ? nil : result.next
                stepIndex += 1
            }
            batch.episodeReturns.append(total)
        }
        batch.simulatedSteps = batch.count
        return batch
    }

    /// Runs episode `episode` with the current policy and branches it (``Branching``): the
    /// batch holds only the branch points' samples, `actions` per point, with their advantages
    /// measured; `simulatedSteps` counts every session run. Reproducible: the rollout's action
    /// draws are keyed as in ``collect(_:episodes:random:critic:)`` (so a branch continues with
    /// the same draws per step index), the points and the branches' actions by their own keys.
    /// - Precondition: `E` has value semantics (a copy continues on its own), as a struct of
    ///   values has.
    package func collectBranched<E: EpisodicEnvironment>(
        _ environment: inout E, episode: Int, random: CounterRandom, branching: Branching
    ) -> RolloutBatch {
        var batch = RolloutBatch()
        var policyScratch = MLP.Scratch(for: model.policy)
        var probabilities = [Double](repeating: 0, count: actionCount)
        var observation = Vector.zeros(observationCount)
        let luck = random.child(UInt64(episode))
        let branchDraws = random.child(Self.branchDomain).child(UInt64(episode))
        func policy(at step: EpisodeStep) {
            act(on: step, observation: &observation, scratch: &policyScratch, probabilities: &probabilities)
        }
        let horizon = branching.horizon ?? .infinity
        let valued = branching.valuedAtCut
        var valueScratch = MLP.Scratch(for: model.value)
        var valueInput = Vector.zeros(valued ? observationCount + 1 : observationCount)
        /// The critic's value of `step`'s state, `time` after the episode's first step.
        func stateValue(_ step: EpisodeStep, time: Double) -> Double {
            valueInput.withUnsafeMutableBufferPointer { criticRow(step.observation, time: time, into: $0) }
            model.value.infer(valueInput, scratch: &valueScratch)
            return valueScratch.output[0]
        }
        /// Takes `first` at `step` (index `index`), then follows the policy to the episode's
        /// end or the branches' horizon; the discounted return from `step` and the sessions run.
        func follow(_ environment: inout E, from step: EpisodeStep, index: Int, first: Int, time: Double) -> (value: Double, steps: Int) {
            var current: EpisodeStep? = step
            var stepIndex = UInt64(index)
            var value = 0.0, weight = 1.0, steps = 0, elapsed = 0.0
            while let step = current, elapsed < horizon {
                let chosen: Int
                if stepIndex == UInt64(index) {
                    chosen = first
                } else {
                    policy(at: step)
                    chosen = Self.sample(probabilities, uniform: luck.uniform(stepIndex))
                }
                let result = environment.step(chosen)
                value += weight * result.reward
                weight *= pow(configuration.gamma, result.elapsed)
                elapsed += result.elapsed
                steps += 1
                current = result.terminated || result.truncated ? nil : result.next
                stepIndex += 1
            }
            if valued, let cut = current { value += weight * stateValue(cut, time: time + elapsed) }
            return (value, steps)
        }
        // The rollout, with a copy of the environment before every step.
        var snapshots: [E] = []
        var steps: [EpisodeStep] = []
        var actions: [Int] = []
        var rewards: [Double] = []
        var discounts: [Double] = []
        var gaps: [Double] = []
        var times: [Double] = []
        var time = 0.0
        var current = environment.reset(episode: episode)
        while let step = current {
            snapshots.append(environment)
            steps.append(step)
            policy(at: step)
            let action = Self.sample(probabilities, uniform: luck.uniform(UInt64(actions.count)))
            let result = environment.step(action)
            actions.append(action)
            rewards.append(result.reward)
            discounts.append(pow(configuration.gamma, result.elapsed))
            gaps.append(result.elapsed)
            times.append(time)
            time += result.elapsed
            current = result.terminated || result.truncated ? nil : result.next
        }
        let n = actions.count
        batch.simulatedSteps = n
        batch.episodeReturns.append(rewards.reduce(0, +))
        guard n > 0 else { return batch }
        // Discounted returns from each step of the rollout (within the horizon, as `follow` counts).
        var returns = [Double](repeating: 0, count: n)
        if branching.horizon == nil || valued {
            var later = 0.0
            for t in stride(from: n - 1, through: 0, by: -1) {
                later = rewards[t] + discounts[t] * later
                returns[t] = later
            }
        }
        func rolloutReturn(from t: Int) -> Double {
            guard branching.horizon != nil else { return returns[t] }
            var value = 0.0, weight = 1.0, since = 0.0, s = t
            while s < n && since < horizon {
                value += weight * rewards[s]
                weight *= discounts[s]
                since += gaps[s]
                s += 1
            }
            if valued && s < n { value += weight * stateValue(steps[s], time: times[s]) }
            return value
        }
        if valued {
            // The critic's samples: evenly spaced steps with their returns to the episode's end.
            let spacing = max(1, (n + Branching.valueSamplesPerEpisode - 1) / Branching.valueSamplesPerEpisode)
            let width = observationCount + 1
            for t in stride(from: 0, to: n, by: spacing) {
                let start = batch.valueObservations.count
                batch.valueObservations += repeatElement(0, count: width)
                batch.valueObservations.withUnsafeMutableBufferPointer { all in
                    criticRow(steps[t].observation, time: times[t], into: UnsafeMutableBufferPointer(rebasing: all[start..<(start + width)]))
                }
                batch.valueTargets.append(returns[t])
            }
        }
        // The points: a partial Fisher–Yates shuffle of the steps, sorted.
        var order = Array(0..<n)
        let chosenCount = min(n, branching.points)
        for index in 0..<chosenCount {
            let other = index + Int(branchDraws.uniform(UInt64(index)) * Double(n - index))
            order.swapAt(index, min(other, n - 1))
        }
        let points = order[0..<chosenCount].sorted()
        let count = branching.actions
        var tried = [Int](repeating: 0, count: count)
        var values = [Double](repeating: 0, count: count)
        var weights = [Double](repeating: 0, count: count)
        var keys = [Double](repeating: 0, count: count + 1)
        for t in points {
            let step = steps[t]
            policy(at: step)
            // The branches overwrite both while they follow the policy.
            let pointObservation = observation
            let pointProbabilities = probabilities
            batch.branchPoints += 1
            if branching.distinct {
                let drawn = Self.drawDistinct(
                    pointProbabilities, count: count, random: branchDraws.child(UInt64(t) + 1), actions: &tried, weights: &weights,
                    keys: &keys)
                var baseline = 0.0
                for k in 0..<drawn {
                    if tried[k] == actions[t] {
                        values[k] = rolloutReturn(from: t)  // the rollout's own action, on the same luck and draws
                    } else {
                        var branch = snapshots[t]
                        let followed = follow(&branch, from: step, index: t, first: tried[k], time: times[t])
                        values[k] = followed.value
                        batch.simulatedSteps += followed.steps
                    }
                    baseline += weights[k] * values[k]
                }
                batch.branchPlans += drawn
                for k in 0..<drawn {
                    pointObservation.withUnsafeBufferPointer { batch.observations.append(contentsOf: $0) }
                    batch.masks += step.mask
                    batch.actions.append(tried[k])
                    batch.probabilities.append(pointProbabilities[tried[k]])
                    batch.advantages.append(values[k] - baseline)
                    batch.weights.append(Double(count) * weights[k])
                    batch.appendMeasuredStep()
                }
                continue
            }
            tried[0] = actions[t]
            values[0] = rolloutReturn(from: t)
            let draws = branchDraws.child(UInt64(t) + 1)
            for k in 1..<count {
                tried[k] = Self.sample(pointProbabilities, uniform: draws.uniform(UInt64(k)))
                if let same = (0..<k).first(where: { tried[$0] == tried[k] }) {
                    values[k] = values[same]  // the same action on the same luck and draws: the same return
                    continue
                }
                var branch = snapshots[t]
                let followed = follow(&branch, from: step, index: t, first: tried[k], time: times[t])
                values[k] = followed.value
                batch.simulatedSteps += followed.steps
            }
            batch.branchPlans += (0..<count).reduce(0) { $0 + (tried[..<$1].contains(tried[$1]) ? 0 : 1) }
            let total = values.reduce(0, +)
            for k in 0..<count {
                pointObservation.withUnsafeBufferPointer { batch.observations.append(contentsOf: $0) }
                batch.masks += step.mask
                batch.actions.append(tried[k])
                batch.probabilities.append(pointProbabilities[tried[k]])
                batch.advantages.append(values[k] - (total - values[k]) / Double(count - 1))
                batch.appendMeasuredStep()
            }
        }
        return batch
    }

    /// Draws up to `count` distinct actions from `probabilities` without replacement by the
    /// Gumbel-top-k trick (the actions with the largest log π + Gumbel noise, the noise keyed
    /// by action in `random`), into `actions` in the order of their keys, and writes each
    /// one's self-normalized weight into `weights`: π(a)/q(a) over their sum, where
    /// q(a) = 1 − exp(−π(a)·e^(−κ)) is the probability that a's key exceeds κ, the largest key
    /// not drawn (1 when every action with a positive probability is drawn). The weights sum
    /// to 1; when every such action is drawn, each is π(a) itself.
    /// - Parameter keys: scratch of at least `count + 1` elements.
    /// - Returns: how many actions were drawn (fewer than `count` when fewer have a positive probability).
    static func drawDistinct(
        _ probabilities: [Double], count: Int, random: CounterRandom, actions: inout [Int], weights: inout [Double], keys: inout [Double]
    ) -> Int {
        // The `count + 1` largest keys so far, in descending order (insertion: the last one
        // drops off when all are kept), and the actions of the first `count`.
        var kept = 0
        for (action, p) in probabilities.enumerated() where p > 0 {
            let key = log(p) - log(-log(random.uniform(UInt64(action) + gumbelKeyOffset)))
            if kept == count + 1 && key <= keys[count] { continue }
            var position = min(kept, count)
            while position > 0 && keys[position - 1] < key {
                keys[position] = keys[position - 1]
                if position < count { actions[position] = actions[position - 1] }
                position -= 1
            }
            keys[position] = key
            if position < count { actions[position] = action }
            kept = min(kept + 1, count + 1)
        }
        let drawn = min(kept, count)
        let threshold = kept > count ? keys[count] : -Double.infinity
        var total = 0.0
        for k in 0..<drawn {
            let p = probabilities[actions[k]]
            let inclusion = threshold == -.infinity ? 1 : -expm1(-exp(log(p) - threshold))
            weights[k] = p / inclusion
            total += weights[k]
        }
        for k in 0..<drawn { weights[k] /= total }
        return drawn
    }

    /// Where ``drawDistinct(_:count:random:actions:weights:keys:)``'s Gumbel noise is keyed
    /// in a point's stream (apart from the draws with replacement, keyed 1…actions − 1).
    static let gumbelKeyOffset = UInt64(1) << 20

    /// The policy at `step`: writes the normalized observation into `observation` and the
    /// masked softmax of the logits into `probabilities`, with no allocation.
    func act(on step: EpisodeStep, observation: inout Vector, scratch: inout MLP.Scratch, probabilities: inout [Double]) {
        observation.withUnsafeMutableBufferPointer { normalized in
            for feature in 0..<observationCount {
                normalized[feature] = (step.observation[feature] - mean[feature]) / standardDeviation[feature]
            }
        }
        model.policy.infer(observation, scratch: &scratch)
        _ = scratch.output.withUnsafeBufferPointer { logits in
            ActorCritic.softmax(logits, mask: step.mask[...], into: &probabilities)
        }
    }

    /// The child of an iteration's stream that draws branch points and branch actions.
    static let branchDomain = UInt64(1) << 46

    /// The action whose cumulative probability first exceeds `uniform`.
    static func sample(_ probabilities: [Double], uniform: Double) -> Int {
        var cumulative = 0.0
        var last = 0
        for (action, p) in probabilities.enumerated() where p > 0 {
            cumulative += p
            last = action
            if uniform < cumulative { return action }
        }
        return last
    }

    /// Minibatch blocks whose gradients are computed independently (in parallel when
    /// `threads` allows) and summed in block order: a fixed count, so the update's numbers do
    /// not depend on the thread count.
    package static let updateBlocks = 4

    /// Updates the networks from `batch` (collected with the current policy): advantages by
    /// GAE (or from paired rollouts when the batch has groups), normalized over the batch;
    /// the value network only with GAE, since paired advantages do not use it (training it
    /// anyway was work for a network nothing read);
    /// minibatches shuffled with `random`. Each minibatch's gradient is the sum of
    /// ``updateBlocks`` block gradients, computed on up to `threads` threads; the result is the
    /// same whatever `threads` is.
    ///
    /// The threads live for the whole update and meet at a spinning barrier twice per
    /// minibatch (after the blocks, after the step): a minibatch is a few hundred
    /// microseconds of work, and forking and joining a dispatch pool for each one left a
    /// third of the second core idle (docs/policy-gradient.md, training speed).
    package mutating func update(_ batch: RolloutBatch, random: CounterRandom, threads: Int = 1) -> UpdateStatistics {
        let ppo = configuration.algorithm == .ppo
        let measured = !batch.advantages.isEmpty
        let critic = batch.episodeGroups.isEmpty && !measured
        let (rawAdvantages, returns) = measured
            ? (batch.advantages, batch.advantages)
            : critic
            ? AdvantageEstimation.compute(batch, lambda: ppo ? configuration.lambda : 1)
            : AdvantageEstimation.paired(batch, gamma: configuration.gamma)
        // Normalized with the steps' weights (all 1 unless the batch has weights).
        let weights = batch.weights.isEmpty ? Array(repeating: 1.0, count: rawAdvantages.count) : batch.weights
        let totalWeight = max(1e-12, weights.reduce(0, +))
        let mean = zip(rawAdvantages, weights).reduce(0) { $0 + $1.0 * $1.1 } / totalWeight
        let variance = zip(rawAdvantages, weights).reduce(0) { $0 + $1.1 * ($1.0 - mean) * ($1.0 - mean) } / totalWeight
        let advantages = rawAdvantages.map { ($0 - mean) / (variance.squareRoot() + 1e-8) }
        let n = batch.count
        guard n > 0 else { return UpdateStatistics() }
        let epochs = ppo ? configuration.epochs : 1
        let size = ppo ? min(configuration.minibatchSize, n) : n
        // Every epoch's minibatches, each cut into its blocks, in the order they are applied.
        var cut: [(epoch: Int, blocks: [ArraySlice<Int>])] = []
        var order = Array(0..<n)
        for epoch in 0..<epochs {
            Self.shuffle(&order, random: random.child(UInt64(epoch)))
            for start in stride(from: 0, to: n, by: size) {
                let members = Array(order[start..<min(n, start + size)])
                let m = members.count
                let blockSize = (m + Self.updateBlocks - 1) / Self.updateBlocks
                cut.append((epoch, stride(from: 0, to: m, by: blockSize).map { members[$0..<min(m, $0 + blockSize)] }))
            }
        }
        let minibatches = cut
        // No more workers than cores: a worker waiting at the barrier for one that is not
        // running would spin for nothing.
        let workers = max(1, min(threads, Self.updateBlocks, ProcessInfo.processInfo.activeProcessorCount))
        let shared = Mutex(self)
        let partials = Mutex<[BlockGradients?]>(Array(repeating: nil, count: Self.updateBlocks))
        let epochStatistics = Mutex<[UpdateStatistics]>(Array(repeating: UpdateStatistics(), count: epochs))
        let barrier = SpinBarrier(parties: workers)
        let share = 1 / Double(n)
        let work: @Sendable (Int) -> Void = { worker in
            for minibatch in minibatches {
                let blocks = minibatch.blocks
                let trainer = shared.withLock { $0 }
                let scale = 1 / Double(blocks.reduce(0) { $0 + $1.count })
                for block in stride(from: worker, to: blocks.count, by: workers) {
                    let result = trainer.blockGradients(
                        blocks[block], batch: batch, advantages: advantages, returns: returns, scale: scale, share: share, ppo: ppo,
                        critic: critic)
                    partials.withLock { $0[block] = result }
                }
                barrier.arriveAndWait()
                if worker == 0 {
                    let results = partials.withLock { $0 }[..<blocks.count].compactMap { $0 }
                    if var total = results.first {
                        for partial in results.dropFirst() { total.add(partial) }
                        epochStatistics.withLock { $0[minibatch.epoch].add(total.statistics) }
                        shared.withLock { $0.step(&total, critic: critic) }
                    }
                }
                barrier.arriveAndWait()
            }
        }
        Self.run(workers: workers, work)
        self = shared.withLock { $0 }
        var statistics = epochStatistics.withLock { $0[epochs - 1] }
        if !batch.valueTargets.isEmpty {
            statistics.valueLoss = fitValue(
                observations: batch.valueObservations, targets: batch.valueTargets, random: random.child(Self.valueFitDomain))
        }
        return statistics
    }

    /// The child of an update's stream that shuffles the critic's samples.
    static let valueFitDomain = UInt64(1) << 45

    /// One pass of the value network over `targets` (the discounted returns of the states in
    /// `observations`: the network's input rows, one after another) in shuffled minibatches,
    /// each an Adam step of the squared error. On one thread: it is a small share of the update.
    /// - Returns: the mean squared error over the pass, before each minibatch's step.
    package mutating func fitValue(observations: [Double], targets: [Double], random: CounterRandom) -> Double {
        let n = targets.count
        guard n > 0 else { return 0 }
        var order = Array(0..<n)
        Self.shuffle(&order, random: random)
        let size = min(configuration.minibatchSize, n)
        var squaredError = 0.0
        var cache = MLP.Cache()
        let width = model.value.sizes[0]
        for start in stride(from: 0, to: n, by: size) {
            let rows = order[start..<min(n, start + size)]
            var input = [Double](repeating: 0, count: rows.count * width)
            for (row, sample) in rows.enumerated() {
                for column in 0..<width {
                    input[row * width + column] = observations[sample * width + column]
                }
            }
            model.value.forward(Matrix(rows: rows.count, columns: width, elements: input), cache: &cache)
            var outputGradients = [Double](repeating: 0, count: rows.count)
            for (row, sample) in rows.enumerated() {
                let error = cache.output[row, 0] - targets[sample]
                outputGradients[row] = 2 * error / Double(rows.count)
                squaredError += error * error
            }
            var gradients = MLP.Gradients(zeroFor: model.value)
            model.value.backward(Matrix(rows: rows.count, columns: 1, elements: outputGradients), cache: cache, gradients: &gradients)
            valueOptimizer.update(&model.value, gradients: &gradients)
        }
        return squaredError / Double(n)
    }

    /// Runs `work(0)` on this thread and `work(1)` … `work(workers − 1)` on threads of their
    /// own, and returns when all have. Dedicated threads, not a dispatch pool: the workers wait
    /// for each other at a barrier, so they must all run at once, and a pool may run them
    /// one after another (for instance when called from one of its own workers).
    static func run(workers: Int, _ work: @escaping @Sendable (Int) -> Void) {
        guard workers > 1 else { return work(0) }
        let finished = DispatchSemaphore(value: 0)
        for worker in 1..<workers {
            let thread = Thread {
                work(worker)
                finished.signal()
            }
            thread.start()
        }
        work(0)
        for _ in 1..<workers { finished.wait() }
    }

    /// One optimizer step with a minibatch's summed gradients (the value network's only
    /// with the critic).
    mutating func step(_ gradients: inout BlockGradients, critic: Bool) {
        policyOptimizer.update(&model.policy, gradients: &gradients.policy)
        if critic, var value = gradients.value {
            valueOptimizer.update(&model.value, gradients: &value)
        }
    }

    /// Fisher–Yates with counter-based draws: the same stream gives the same minibatches.
    static func shuffle(_ order: inout [Int], random: CounterRandom) {
        for index in stride(from: order.count - 1, to: 0, by: -1) {
            let other = Int(random.uniform(UInt64(index)) * Double(index + 1))
            order.swapAt(index, min(other, index))
        }
    }

    /// The policy network's forward pass over the samples `rows` of `batch`, gathered into one
    /// matrix, and the value network's when `critic` is true.
    func forward(_ rows: ArraySlice<Int>, of batch: RolloutBatch, critic: Bool = true) -> (policy: MLP.Cache, value: MLP.Cache?) {
        var observations = [Double](repeating: 0, count: rows.count * observationCount)
        for (row, sample) in rows.enumerated() {
            for column in 0..<observationCount {
                observations[row * observationCount + column] = batch.observations[sample * observationCount + column]
            }
        }
        let input = Matrix(rows: rows.count, columns: observationCount, elements: observations)
        var policyCache = MLP.Cache()
        model.policy.forward(input, cache: &policyCache)
        guard critic else { return (policyCache, nil) }
        var valueCache = MLP.Cache()
        model.value.forward(input, cache: &valueCache)
        return (policyCache, valueCache)
    }

    /// One block's share of a minibatch's gradients (already divided by the minibatch size
    /// `1/scale`) and of the epoch's statistics (each sample weighing `share`). The value
    /// network's gradients are computed only when `critic` is true (otherwise they stay zero).
    func blockGradients(
        _ rows: ArraySlice<Int>, batch: RolloutBatch, advantages: [Double], returns: [Double], scale: Double, share: Double,
        ppo: Bool, critic: Bool
    ) -> BlockGradients {
        let m = rows.count
        let (policyCache, valueCache) = forward(rows, of: batch, critic: critic)
        var probabilities = [Double](repeating: 0, count: actionCount)
        var logitGradients = [Double](repeating: 0, count: m * actionCount)
        var valueOutputGradients = [Double](repeating: 0, count: m)
        var statistics = UpdateStatistics()
        let logits = policyCache.output
        let actionCount = actionCount
        for (row, sample) in rows.enumerated() {
            let result = logits.withUnsafeBufferPointer { all in
                let rowLogits = UnsafeBufferPointer(rebasing: all[(row * actionCount)..<((row + 1) * actionCount)])
                let logPartition = ActorCritic.softmax(
                    rowLogits, mask: batch.masks[(sample * actionCount)..<((sample + 1) * actionCount)], into: &probabilities)
                return probabilities.withUnsafeBufferPointer { probabilities in
                    logitGradients.withUnsafeMutableBufferPointer { all in
                        let gradient = UnsafeMutableBufferPointer(rebasing: all[(row * actionCount)..<((row + 1) * actionCount)])
                        let result = SurrogateLoss.evaluate(
                            probabilities: probabilities, logits: rowLogits, logPartition: logPartition, action: batch.actions[sample],
                            oldProbability: batch.probabilities[sample], advantage: advantages[sample], clip: ppo ? configuration.clip : nil,
                            entropyCoefficient: configuration.entropyCoefficient, gradient: gradient)
                        let weighted = batch.weights.isEmpty ? scale : scale * batch.weights[sample]
                        for action in 0..<actionCount { gradient[action] *= weighted }
                        return result
                    }
                }
            }
            if let valueCache {
                let valueError = valueCache.output[row, 0] - returns[sample]
                valueOutputGradients[row] = 2 * configuration.valueCoefficient * valueError * scale
                statistics.valueLoss += valueError * valueError * share
            }
            statistics.policyLoss += result.loss * share * (batch.weights.isEmpty ? 1 : batch.weights[sample])
            statistics.entropy += result.entropy * share
            // k3 estimator of KL(old ‖ new): (r − 1) − log r.
            statistics.approximateKL += ((result.ratio - 1) - log(result.ratio)) * share
            statistics.clipFraction += (abs(result.ratio - 1) > configuration.clip ? 1 : 0) * share
        }
        var gradients = BlockGradients(policy: MLP.Gradients(zeroFor: model.policy), value: nil, statistics: statistics)
        model.policy.backward(Matrix(rows: m, columns: actionCount, elements: logitGradients), cache: policyCache, gradients: &gradients.policy)
        if let valueCache {
            var value = MLP.Gradients(zeroFor: model.value)
            model.value.backward(Matrix(rows: m, columns: 1, elements: valueOutputGradients), cache: valueCache, gradients: &value)
            gradients.value = value
        }
        return gradients
    }
}

/// A barrier for a fixed number of threads that waits by spinning (and yielding the core
/// after a while): the update's workers meet twice per minibatch, microseconds apart, where
/// sleeping and waking a thread would cost more than the wait.
final class SpinBarrier: Sendable {
    private let parties: Int
    private let arrived = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)

    init(parties: Int) {
        self.parties = parties
    }

    /// Returns once all `parties` threads have called it (for this round).
    func arriveAndWait() {
        guard parties > 1 else { return }
        let round = generation.load(ordering: .acquiring)
        if arrived.add(1, ordering: .acquiringAndReleasing).newValue == parties {
            arrived.store(0, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            return
        }
        var spins = 0
        while generation.load(ordering: .acquiring) == round {
            spins += 1
            if spins > 2_000 { sched_yield() }
        }
    }
}

/// One minibatch block's gradients of both networks and its part of the statistics.
struct BlockGradients: Sendable {
    var policy: MLP.Gradients
    /// `nil` when the value network is not trained (paired or measured advantages).
    var value: MLP.Gradients?
    var statistics: UpdateStatistics

    /// Adds `other` component by component.
    mutating func add(_ other: BlockGradients) {
        policy.add(other.policy)
        if let addend = other.value { value?.add(addend) }
        statistics.add(other.statistics)
    }
}

extension UpdateStatistics {
    /// Adds `other`'s sums to these.
    mutating func add(_ other: UpdateStatistics) {
        policyLoss += other.policyLoss
        valueLoss += other.valueLoss
        entropy += other.entropy
        approximateKL += other.approximateKL
        clipFraction += other.clipFraction
    }
}
