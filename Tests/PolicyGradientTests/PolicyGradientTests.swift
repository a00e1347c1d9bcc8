import AdLoadCore
import Foundation
import LinearAlgebra
import Networks
@testable import PolicyGradient
import Testing

/// A problem where the myopic action is wrong: in a fresh state, action 0 ("many ads")
/// pays 1 now and spoils the state for good (every later step pays 0.1); action 1 ("few
/// ads") pays 0.3 and keeps it fresh. The agent sees the state but no clock, so the best
/// policy is patience throughout: 3.0 over 10 steps, where temptation first earns 1.9 (and a
/// policy that grabs with a small probability q per step loses 2q to first order).
/// Action 2 is never allowed.
struct TemptationProblem: EpisodicEnvironment {
    let observationCount = 2
    let actionCount = 3
    let horizon = 10
    var spoiled = false
    var time = 0

    func observe() -> EpisodeStep {
        EpisodeStep(observation: [1, spoiled ? 1 : 0], mask: [true, true, false])
    }

    mutating func reset(episode: Int) -> EpisodeStep? {
        spoiled = false
        time = 0
        return observe()
    }

    mutating func step(_ action: Int) -> StepResult {
        precondition(action != 2, "a masked action was taken")
        let reward = spoiled ? 0.1 : (action == 0 ? 1.0 : 0.3)
        if action == 0 { spoiled = true }
        time += 1
        let done = time == horizon
        return StepResult(reward: reward, elapsed: 1, terminated: false, truncated: done, next: done ? nil : observe())
    }
}

/// Action 0 pays 1 at once; action 1 pays nothing now and 3 at the episode's last step,
/// whatever happens in between. The observation never changes, so a policy's later choices
/// do not depend on earlier ones, and with γ = 1 action 1 is worth exactly 2 more than
/// action 0 at every step.
struct DeferredPayoffProblem: EpisodicEnvironment {
    let observationCount = 1
    let actionCount = 2
    let horizon = 6
    var pending = 0.0
    var time = 0

    mutating func reset(episode: Int) -> EpisodeStep? {
        pending = 0
        time = 0
        return EpisodeStep(observation: [1], mask: [true, true])
    }

    mutating func step(_ action: Int) -> StepResult {
        var reward = action == 0 ? 1.0 : 0
        if action == 1 { pending += 3 }
        time += 1
        let done = time == horizon
        if done { reward += pending }
        return StepResult(reward: reward, elapsed: 1, terminated: false, truncated: done, next: done ? nil : EpisodeStep(observation: [1], mask: [true, true]))
    }
}

/// Action 0 ("many ads") pays 1 and ends the episode (churn, terminal); action 1 pays 0 and
/// goes on. Each step lasts a day and the observation is the step's index, so branches cut
/// after one day stop at a known state (or at the episode's end after the sixth step).
struct ChurnProblem: EpisodicEnvironment {
    let observationCount = 1
    let actionCount = 2
    var time = 0

    mutating func reset(episode: Int) -> EpisodeStep? {
        time = 0
        return EpisodeStep(observation: [0], mask: [true, true])
    }

    mutating func step(_ action: Int) -> StepResult {
        time += 1
        if action == 0 { return StepResult(reward: 1, elapsed: 1, terminated: true, truncated: false, next: nil) }
        let done = time == 6
        return StepResult(reward: 0, elapsed: 1, terminated: false, truncated: done, next: done ? nil : EpisodeStep(observation: [Double(time)], mask: [true, true]))
    }
}

/// ``DeferredPayoffProblem`` whose steps last `stepDays` (step by step) and whose
/// observation is the step's start time, so a branch point's samples say where in the
/// episode they were measured.
struct TimedDeferredPayoffProblem: EpisodicEnvironment {
    var inner = DeferredPayoffProblem()
    let stepDays: [Double]
    var time = 0.0
    var observationCount: Int { 1 }
    var actionCount: Int { 2 }

    mutating func reset(episode: Int) -> EpisodeStep? {
        _ = inner.reset(episode: episode)
        time = 0
        return EpisodeStep(observation: [0], mask: [true, true])
    }

    mutating func step(_ action: Int) -> StepResult {
        let days = stepDays[inner.time]
        let result = inner.step(action)
        time += days
        return StepResult(
            reward: result.reward, elapsed: days, terminated: result.terminated, truncated: result.truncated,
            next: result.next.map { _ in EpisodeStep(observation: [time], mask: [true, true]) })
    }
}

@Suite("Policy gradient: PPO and REINFORCE")
struct PolicyGradientTests {
    func softmax(_ logits: [Double], mask: [Bool]) -> [Double] {
        var probabilities = [Double](repeating: 0, count: logits.count)
        _ = logits.withUnsafeBufferPointer { ActorCritic.softmax($0, mask: mask[...], into: &probabilities) }
        return probabilities
    }

    /// The surrogate of `logits` as the update evaluates it (softmax, then the loss).
    func surrogate(
        _ logits: [Double], mask: [Bool], action: Int, oldProbability: Double, advantage: Double, gradient: inout [Double]
    ) -> (loss: Double, ratio: Double, clipped: Bool, entropy: Double) {
        var probabilities = [Double](repeating: 0, count: logits.count)
        return logits.withUnsafeBufferPointer { z in
            let logPartition = ActorCritic.softmax(z, mask: mask[...], into: &probabilities)
            return probabilities.withUnsafeBufferPointer { probabilities in
                gradient.withUnsafeMutableBufferPointer { gradient in
                    SurrogateLoss.evaluate(
                        probabilities: probabilities, logits: z, logPartition: logPartition, action: action,
                        oldProbability: oldProbability, advantage: advantage, clip: 0.2, entropyCoefficient: 0.05, gradient: gradient)
                }
            }
        }
    }

    @Test("the surrogate's gradient with respect to the logits equals finite differences, clipped or not",
          arguments: [(0.9, 1.3), (0.9, -0.7), (0.05, 2.0), (0.05, -2.0)])
    func surrogateGradient(oldProbability: Double, advantage: Double) {
        let logits = [0.3, -0.2, 0.8, 0.1]
        let mask = [true, true, false, true]
        let action = 1
        func loss(_ z: [Double]) -> Double {
            var unused = [Double](repeating: 0, count: z.count)
            return surrogate(z, mask: mask, action: action, oldProbability: oldProbability, advantage: advantage, gradient: &unused).loss
        }
        var gradient = [Double](repeating: 0, count: 4)
        let result = surrogate(logits, mask: mask, action: action, oldProbability: oldProbability, advantage: advantage, gradient: &gradient)
        for j in 0..<4 {
            var plus = logits, minus = logits
            plus[j] += 1e-6
            minus[j] -= 1e-6
            let numeric = (loss(plus) - loss(minus)) / 2e-6
            #expect(abs(numeric - gradient[j]) < 1e-6, "∂/∂z\(j): numeric \(numeric), analytic \(gradient[j]) (clipped: \(result.clipped))")
        }
        #expect(gradient[2] == 0, "a masked action's logit gets no gradient")
    }

    @Test("GAE: λ = 1 gives discounted returns minus values, λ = 0 one-step errors, truncation bootstraps")
    func advantages() {
        var batch = RolloutBatch()
        batch.rewards = [1, 2, 3]
        batch.values = [0.5, 0.5, 0.5]
        batch.discounts = [0.9, 0.9, 0.9]
        batch.episodeEnds = [false, false, true]
        batch.terminals = [false, false, true]
        batch.bootstrapValues = [0, 0, 0]
        batch.actions = [0, 0, 0]
        let monteCarlo = AdvantageEstimation.compute(batch, lambda: 1)
        for (value, expected) in zip(monteCarlo.advantages, [5.23 - 0.5, 4.7 - 0.5, 3 - 0.5]) { #expect(abs(value - expected) < 1e-12) }
        for (value, expected) in zip(monteCarlo.returns, [5.23, 4.7, 3.0]) { #expect(abs(value - expected) < 1e-12) }
        let oneStep = AdvantageEstimation.compute(batch, lambda: 0)
        for (value, expected) in zip(oneStep.advantages, [0.95, 1.95, 2.5]) { #expect(abs(value - expected) < 1e-12) }
        batch.terminals[2] = false
        batch.bootstrapValues[2] = 2
        let truncated = AdvantageEstimation.compute(batch, lambda: 0)
        #expect(abs(truncated.advantages[2] - (3 + 0.9 * 2 - 0.5)) < 1e-12)
    }

    @Test("paired rollouts: a step's advantage is its return minus its partners' returns from the same time on")
    func pairedAdvantages() {
        // γ = 0.5 per unit of time. Episodes A (times 0, 1; rewards 1, 2) and B (times 0, 2;
        // rewards 3, 4) are partners; C (one step, reward 5, value 1) has none.
        var batch = RolloutBatch()
        batch.rewards = [1, 2, 3, 4, 5]
        batch.values = [9, 9, 9, 9, 1]
        batch.discounts = [0.5, 1, 0.25, 1, 1]
        batch.times = [0, 1, 0, 2, 0]
        batch.episodeEnds = [false, true, false, true, true]
        batch.terminals = [false, true, false, true, true]
        batch.bootstrapValues = [0, 0, 0, 0, 0]
        batch.actions = [0, 0, 0, 0, 0]
        batch.episodeGroups = [7, 7, 8]
        let paired = AdvantageEstimation.paired(batch, gamma: 0.5)
        // Returns: A 2, 2; B 4, 4; C 5.
        for (value, expected) in zip(paired.returns, [2.0, 2, 4, 4, 5]) { #expect(abs(value - expected) < 1e-12) }
        // A at τ 0 against B's 4; A at τ 1 against B's step at 2 discounted by one unit (2);
        // B at τ 0 against A's 2; B at τ 2 after A ended (0); C against its value.
        for (value, expected) in zip(paired.advantages, [-2.0, 0, 2, 4, 4]) { #expect(abs(value - expected) < 1e-12) }
    }

    /// A fresh (near-uniform) trainer for ``DeferredPayoffProblem`` with γ = 1, so an action's
    /// advantage there is exactly ±2.
    func deferredPayoffTrainer() -> PolicyGradientTrainer {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [4]
        configuration.gamma = 1
        return PolicyGradientTrainer(observationCount: 1, actionCount: 2, configuration: configuration, seed: 5)
    }

    @Test("branches: each tried action's advantage is its return minus the other's on the same luck and later draws")
    func branchedAdvantages() {
        let trainer = deferredPayoffTrainer()
        var problem = DeferredPayoffProblem()
        var distinct = 0
        for episode in 0..<20 {
            let batch = trainer.collectBranched(&problem, episode: episode, random: CounterRandom(seed: 5, domain: 1), branching: Branching(points: 4, actions: 2))
            #expect(batch.count == 8 && batch.advantages.count == 8, "4 points × 2 actions")
            #expect(batch.simulatedSteps >= 6 && batch.simulatedSteps <= 6 + 4 * 6)
            let pairsCompared = stride(from: 0, to: batch.count, by: 2).filter { batch.actions[$0] != batch.actions[$0 + 1] }.count
            #expect(batch.branchPoints == 4 && batch.branchPlans == 4 + pairsCompared, "a point with one action tried counts one plan")
            for point in stride(from: 0, to: batch.count, by: 2) {
                let (a, b) = (batch.actions[point], batch.actions[point + 1])
                let expected = a == b ? 0.0 : (a == 1 ? 2.0 : -2.0)
                #expect(abs(batch.advantages[point] - expected) < 1e-12, "actions \(a), \(b): \(batch.advantages[point])")
                #expect(abs(batch.advantages[point] + batch.advantages[point + 1]) < 1e-12)
                #expect(batch.probabilities[point] > 0.3 && batch.probabilities[point] < 0.7, "a fresh policy is near uniform")
                if a != b { distinct += 1 }
            }
        }
        #expect(distinct > 10, "the branches draw other actions than the rollout's (\(distinct) of 80 points)")
        // The same keys give the same batch.
        let again = trainer.collectBranched(&problem, episode: 3, random: CounterRandom(seed: 5, domain: 1), branching: Branching(points: 4, actions: 2))
        let first = trainer.collectBranched(&problem, episode: 3, random: CounterRandom(seed: 5, domain: 1), branching: Branching(points: 4, actions: 2))
        #expect(again.actions == first.actions && again.advantages == first.advantages)
    }

    @Test("branches with a horizon count a plan's return only over the steps that start within it from the point",
          arguments: [([1.0, 1, 1, 1, 1, 1], 2.0), ([1.0, 2, 1, 2, 1, 2], 3.5)])
    func branchHorizon(stepDays: [Double], horizon: Double) throws {
        let trainer = deferredPayoffTrainer()
        var problem = TimedDeferredPayoffProblem(stepDays: stepDays)
        let starts = stepDays.indices.map { stepDays[..<$0].reduce(0, +) }
        let whole = Branching(points: 6, actions: 2)
        var comparedAt = Set<Int>(), shortSteps = 0, wholeSteps = 0
        for episode in 0..<20 {
            let random = CounterRandom(seed: 5, domain: 1)
            let short = trainer.collectBranched(&problem, episode: episode, random: random, branching: Branching(points: 6, actions: 2, horizon: horizon))
            let long = trainer.collectBranched(&problem, episode: episode, random: random, branching: Branching(points: 6, actions: 2, horizon: 100))
            let untruncated = trainer.collectBranched(&problem, episode: episode, random: random, branching: whole)
            #expect(long.advantages == untruncated.advantages && long.actions == untruncated.actions, "a horizon past the episode's end changes nothing")
            #expect(short.actions == untruncated.actions, "the horizon does not change which plans are drawn")
            #expect(short.simulatedSteps <= untruncated.simulatedSteps)
            shortSteps += short.simulatedSteps
            wholeSteps += untruncated.simulatedSteps
            for point in stride(from: 0, to: short.count, by: 2) {
                let start = short.observations[point]
                let index = try #require(starts.firstIndex(of: start))
                let (a, b) = (short.actions[point], short.actions[point + 1])
                // The deferred 3 arrives at the last step; it counts from a point only when
                // that step starts less than the horizon after it. Otherwise the patient
                // action only forgoes the 1 (the later steps' actions are shared).
                let patientGain = starts[5] - start < horizon ? 2.0 : -1.0
                let expected = a == b ? 0.0 : (a == 1 ? patientGain : -patientGain)
                #expect(abs(short.advantages[point] - expected) < 1e-12, "step \(index), actions \(a), \(b): \(short.advantages[point])")
                if a != b { comparedAt.insert(index) }
            }
        }
        #expect(comparedAt == Set(0..<6), "every step compared two plans in some episode: \(comparedAt.sorted())")
        #expect(shortSteps < wholeSteps, "branches stop at their horizon")
    }

    @Test("branches valued at their cut: a plan that keeps the user gets the critic's value of the state and time reached, discounted; none past the episode's end or after churn")
    func branchValuedAtCut() throws {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [4]
        configuration.gamma = 0.9
        configuration.branching = Branching(points: 6, actions: 2, horizon: 1, valuedAtCut: true)
        let trainer = PolicyGradientTrainer(observationCount: 1, actionCount: 2, configuration: configuration, seed: 5)
        var scratch = MLP.Scratch(for: trainer.model.value)
        /// The critic sees the observation (the step's index) and the time, in 100 days.
        func value(at time: Double) -> Double {
            trainer.model.value.infer(Vector([time, time / 100]), scratch: &scratch)
            return scratch.output[0]
        }
        #expect(abs(value(at: 1) - value(at: 3)) > 1e-3, "the fresh critic tells the states apart")
        var problem = ChurnProblem()
        var compared = Set<Int>(), sampledSteps = 0
        for episode in 0..<200 {
            let random = CounterRandom(seed: 5, domain: 1)
            let valued = trainer.collectBranched(&problem, episode: episode, random: random, branching: try #require(configuration.branching))
            let plain = trainer.collectBranched(&problem, episode: episode, random: random, branching: Branching(points: 6, actions: 2, horizon: 1))
            #expect(valued.actions == plain.actions, "the critic does not change which plans are drawn")
            #expect(plain.valueTargets.isEmpty, "without the critic at the cut no samples are kept for it")
            for point in stride(from: 0, to: valued.count, by: 2) {
                let time = valued.observations[point]
                let (a, b) = (valued.actions[point], valued.actions[point + 1])
                // Churn pays 1 and ends the episode; staying pays 0 and, before the last step,
                // reaches the next step's state after one day, where the cut is.
                let stay = time < 5 ? 0.9 * value(at: time + 1) : 0
                let expected = a == b ? 0.0 : (a == 1 ? stay - 1 : 1 - stay)
                #expect(abs(valued.advantages[point] - expected) < 1e-12, "step \(time), actions \(a), \(b): \(valued.advantages[point]) against \(expected)")
                #expect(abs(plain.advantages[point] - (a == b ? 0 : a == 1 ? -1 : 1)) < 1e-12, "no value without the flag")
                if a != b { compared.insert(Int(time)) }
            }
            // Every rollout step is a critic sample (fewer than 64), with its return to the end.
            let steps = valued.valueTargets.count
            sampledSteps += steps
            let rows: [Double] = (0..<steps).flatMap { (step: Int) -> [Double] in [Double(step), Double(step) / 100] }
            #expect(valued.valueObservations == rows, "the rollout's states and times in order")
            let churned = valued.episodeReturns[0] == 1
            let discounts = (0..<steps).map { churned ? pow(0.9, Double(steps - 1 - $0)) : 0 }
            for (target, expected) in zip(valued.valueTargets, discounts) {
                #expect(abs(target - expected) < 1e-12, "episode \(episode): \(valued.valueTargets) against \(discounts)")
            }
        }
        #expect(compared == Set(0..<6), "the last step's plans were compared too: \(compared.sorted())")
        #expect(sampledSteps > 300, "a near-uniform policy churns half the time: about two steps per episode")
    }

    @Test("the critic's fit: passes over a known regression bring its squared error down to near zero")
    func valueFit() {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [8]
        configuration.minibatchSize = 32
        var trainer = PolicyGradientTrainer(observationCount: 1, actionCount: 2, configuration: configuration, seed: 3)
        let inputs = (0..<200).map { Double($0) / 100 - 1 }
        let targets = inputs.map { 2 * $0 - 1 }
        let first = trainer.fitValue(observations: inputs, targets: targets, random: CounterRandom(seed: 1, domain: 0))
        var last = first
        for pass in 1..<300 { last = trainer.fitValue(observations: inputs, targets: targets, random: CounterRandom(seed: 1, domain: UInt64(pass))) }
        #expect(first > 0.3, "a fresh critic does not know the answer: \(first)")
        #expect(last < 0.01, "the fitted critic does: \(last)")
        var scratch = MLP.Scratch(for: trainer.model.value)
        trainer.model.value.infer(Vector([0.5]), scratch: &scratch)
        #expect(abs(scratch.output[0] - 0) < 0.1, "V(0.5) = 2·0.5 − 1 = 0: \(scratch.output[0])")
    }

    @Test("distinct branch plans: Gumbel-top-k draws distinct actions, the first in proportion to π, with unbiased inclusion weights")
    func distinctDraws() {
        let probabilities = [0.5, 0.2, 0, 0.15, 0.1, 0.04, 0.01]
        let values = [1.0, -2.0, 50, 3.0, 7.0, -20.0, 100.0]
        let exact = zip(probabilities, values).reduce(0) { $0 + $1.0 * $1.1 }  // 2.2
        var actions = [Int](repeating: 0, count: 3), weights = [Double](repeating: 0, count: 3), keys = [Double](repeating: 0, count: 4)
        var firstCounts = [Double](repeating: 0, count: probabilities.count)
        var horvitzThompson = 0.0
        let draws = 40_000
        for draw in 0..<draws {
            let random = CounterRandom(seed: UInt64(draw), domain: 7)
            let drawn = PolicyGradientTrainer.drawDistinct(probabilities, count: 3, random: random, actions: &actions, weights: &weights, keys: &keys)
            #expect(drawn == 3)
            #expect(Set(actions).count == 3 && !actions.contains(2), "distinct allowed actions: \(actions)")
            #expect(abs(weights.reduce(0, +) - 1) < 1e-12)
            firstCounts[actions[0]] += 1 / Double(draws)
            // The unnormalized estimate Σ π(a)/q(a)·f(a) over the drawn actions is unbiased for
            // Σ π·f; q from the largest key not drawn, which the scratch holds after the drawn ones.
            let total = (0..<3).reduce(0.0) { $0 + weights[$1] * values[actions[$1]] }
            let inclusion = { (action: Int) -> Double in
                let threshold = keys[3]
                return -expm1(-exp(log(probabilities[action]) - threshold))
            }
            let unnormalized = (0..<3).reduce(0.0) { $0 + probabilities[actions[$1]] / inclusion(actions[$1]) * values[actions[$1]] }
            let sum = (0..<3).reduce(0.0) { $0 + probabilities[actions[$1]] / inclusion(actions[$1]) }
            #expect(abs(total - unnormalized / sum) < 1e-9, "the weights are π/q over their sum")
            horvitzThompson += unnormalized / Double(draws)
        }
        for (action, p) in probabilities.enumerated() {
            #expect(abs(firstCounts[action] - p) < 0.01, "the first drawn is a draw from π: \(action) \(firstCounts[action]) vs \(p)")
        }
        // The estimate's spread per draw is about 8 here, so its standard error over 40,000 draws about 0.04.
        #expect(abs(horvitzThompson - exact) < 0.15, "E[Σ π/q·f] = \(horvitzThompson), Σ π·f = \(exact)")
        // With room for every allowed action, all are drawn and the weights are π itself.
        var all = [Int](repeating: 0, count: 8), allWeights = [Double](repeating: 0, count: 8), allKeys = [Double](repeating: 0, count: 9)
        let drawn = PolicyGradientTrainer.drawDistinct(
            probabilities, count: 8, random: CounterRandom(seed: 1, domain: 7), actions: &all, weights: &allWeights, keys: &allKeys)
        #expect(drawn == 6)
        for k in 0..<drawn { #expect(abs(allWeights[k] - probabilities[all[k]]) < 1e-12) }
    }

    @Test("distinct branch plans: a point's advantages are returns minus their weighted mean")
    func distinctBranches() {
        let fresh = deferredPayoffTrainer()
        var deferred = DeferredPayoffProblem()
        for episode in 0..<10 {
            let batch = fresh.collectBranched(
                &deferred, episode: episode, random: CounterRandom(seed: 5, domain: 1), branching: Branching(points: 4, actions: 2, distinct: true))
            #expect(batch.count == 8 && batch.weights.count == 8 && batch.branchPoints == 4 && batch.branchPlans == 8)
            for point in stride(from: 0, to: batch.count, by: 2) {
                let (a, b) = (batch.actions[point], batch.actions[point + 1])
                #expect(a != b, "both actions at every point")
                // Both drawn: the sample weights are 2π, so the advantages, ±2 times the other's π,
                // are ± the other's sample weight.
                let patient = a == 1 ? point : point + 1
                let grabbing = a == 1 ? point + 1 : point
                #expect(abs(batch.weights[patient] + batch.weights[grabbing] - 2) < 1e-12)
                #expect(abs(batch.advantages[patient] - batch.weights[grabbing]) < 1e-9, "\(batch.advantages[patient])")
                #expect(abs(batch.advantages[grabbing] + batch.weights[patient]) < 1e-9)
                #expect(abs(batch.weights[point] * batch.advantages[point] + batch.weights[point + 1] * batch.advantages[point + 1]) < 1e-9)
            }
        }
    }

    @Test("PPO with branched advantages learns the long-run best action where the myopic one is wrong, plans drawn with replacement or distinct",
          arguments: [false, true])
    func branchedPPOFindsPatience(distinct: Bool) {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [16]
        configuration.gamma = 1
        configuration.learningRate = 3e-3
        configuration.minibatchSize = 64
        configuration.maxGradientNorm = 1
        var trainer = PolicyGradientTrainer(observationCount: 2, actionCount: 3, configuration: configuration, seed: 3)
        var problem = TemptationProblem()
        let random = CounterRandom(seed: 3, domain: 99)
        for iteration in 0..<40 {
            var batch = RolloutBatch()
            for episode in (iteration * 16)..<((iteration + 1) * 16) {
                batch.append(trainer.collectBranched(
                    &problem, episode: episode, random: random.child(UInt64(iteration)), branching: Branching(points: 4, actions: 2, distinct: distinct)))
            }
            #expect(!batch.actions.contains(2))
            #expect(batch.weights.isEmpty != distinct)
            _ = trainer.update(batch, random: random.child(UInt64(1_000_000 + iteration)))
        }
        var scratch = MLP.Scratch(for: trainer.model.policy)
        var probabilities = [Double](repeating: 0, count: 3)
        trainer.model.policy.infer(.init(problem.reset(episode: 0)!.observation), scratch: &scratch)
        _ = scratch.output.withUnsafeBufferPointer { ActorCritic.softmax($0, mask: [true, true, false][...], into: &probabilities) }
        #expect(probabilities[1] > 0.9, "P(patient action | fresh) = \(probabilities[1])")
    }

    /// Trains on the temptation problem and returns the greedy policy's return and the
    /// probability of the patient action in the fresh first state.
    /// With `pairs` above 1, each iteration runs 32 / `pairs` episodes `pairs` times each, with
    /// their own action draws, and the update uses the paired-rollout advantages.
    func train(
        _ algorithm: PolicyGradientConfiguration.Algorithm, iterations: Int, seed: UInt64, pairs: Int = 1
    ) -> (greedyReturn: Double, patience: Double) {
        var configuration = PolicyGradientConfiguration()
        configuration.algorithm = algorithm
        configuration.hidden = [16]
        configuration.gamma = 1
        configuration.learningRate = 3e-3
        configuration.minibatchSize = 64
        configuration.maxGradientNorm = 1
        var trainer = PolicyGradientTrainer(observationCount: 2, actionCount: 3, configuration: configuration, seed: seed)
        var problem = TemptationProblem()
        let random = CounterRandom(seed: seed, domain: 99)
        for iteration in 0..<iterations {
            let distinct = 32 / pairs
            let episodes = (iteration * distinct)..<((iteration + 1) * distinct)
            var batch = RolloutBatch()
            for episode in episodes {
                for replica in 0..<pairs {
                    let draws = pairs > 1 ? random.child(UInt64(iteration)).child(UInt64(1 << 40) + UInt64(replica)) : random.child(UInt64(iteration))
                    var run = trainer.collect(&problem, episodes: episode..<(episode + 1), random: draws)
                    if pairs > 1 { run.episodeGroups = Array(repeating: episode, count: run.episodeReturns.count) }
                    batch.append(run)
                }
            }
            #expect(!batch.actions.contains(2))
            _ = trainer.update(batch, random: random.child(UInt64(1_000_000 + iteration)))
        }
        var scratch = MLP.Scratch(for: trainer.model.policy)
        var probabilities = [Double](repeating: 0, count: 3)
        var step: EpisodeStep? = problem.reset(episode: 0)
        var total = 0.0
        var patience = 0.0
        var first = true
        while let current = step {
            trainer.model.policy.infer(.init(current.observation), scratch: &scratch)
            _ = scratch.output.withUnsafeBufferPointer { ActorCritic.softmax($0, mask: current.mask[...], into: &probabilities) }
            if first { patience = probabilities[1]; first = false }
            let result = problem.step(probabilities[0] > probabilities[1] ? 0 : 1)
            total += result.reward
            step = result.next
        }
        return (total, patience)
    }

    @Test("PPO learns the long-run best action where the myopic one is wrong")
    func ppoFindsPatience() {
        let result = train(.ppo, iterations: 40, seed: 3)
        #expect(abs(result.greedyReturn - 3.0) < 1e-9, "greedy return \(result.greedyReturn) (patience earns 3.0, temptation 1.9)")
        #expect(result.patience > 0.9, "P(patient action | fresh) = \(result.patience)")
    }

    @Test("PPO with paired-rollout advantages learns it too")
    func pairedPPOFindsPatience() {
        let result = train(.ppo, iterations: 40, seed: 3, pairs: 4)
        #expect(abs(result.greedyReturn - 3.0) < 1e-9, "greedy return \(result.greedyReturn) (patience earns 3.0, temptation 1.9)")
        #expect(result.patience > 0.9, "P(patient action | fresh) = \(result.patience)")
    }

    @Test("REINFORCE with a baseline learns it too")
    func reinforceFindsPatience() {
        let result = train(.reinforce, iterations: 150, seed: 3)
        #expect(abs(result.greedyReturn - 3.0) < 1e-9, "greedy return \(result.greedyReturn)")
        #expect(result.patience > 0.8, "P(patient action | fresh) = \(result.patience); an untrained policy gives about 0.5")
    }

    /// One-step episodes on observations (±1, ±1): the teacher takes action 0 when x₀ > 0
    /// and action 1 otherwise (action 2 is masked), and the reward is 2·x₁. Cloned with
    /// smoothing 0.1 over the two allowed actions, the policy should give the teacher's action
    /// 0.9 + 0.1/2 = 0.95 and the value network should predict 2·x₁.
    @Test("behaviour cloning reaches the smoothed teacher target, and fits the returns only when advantages use a critic",
          arguments: [1, 4])
    func imitation(pairedRollouts: Int) {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [16]
        configuration.minibatchSize = 64
        configuration.pairedRollouts = pairedRollouts
        let critic = pairedRollouts == 1
        var trainer = PolicyGradientTrainer(observationCount: 2, actionCount: 3, configuration: configuration, seed: 5)
        let random = CounterRandom(seed: 5, domain: 7)
        var batch = RolloutBatch()
        for sample in 0..<2_000 {
            let x = [random.uniform(UInt64(2 * sample)) < 0.5 ? -1.0 : 1, random.uniform(UInt64(2 * sample + 1)) < 0.5 ? -1.0 : 1]
            batch.observations += x
            batch.masks += [true, true, false]
            batch.actions.append(x[0] > 0 ? 0 : 1)
            batch.probabilities.append(1)
            batch.rewards.append(2 * x[1])
            batch.discounts.append(1)
            batch.values.append(0)
            batch.episodeEnds.append(true)
            batch.terminals.append(true)
            batch.bootstrapValues.append(0)
        }
        let untrainedValue = trainer.model.value
        let statistics = trainer.imitate(batch, epochs: 30, smoothing: 0.1, learningRate: 3e-3, random: random.child(1))
        #expect(statistics.agreement > 1 - 1e-9, "agreement \(statistics.agreement)")
        if critic {
            #expect(statistics.valueLoss < 0.01, "value loss \(statistics.valueLoss)")
        } else {
            #expect(statistics.valueLoss == 0 && trainer.model.value == untrainedValue, "paired rollouts need no critic: it stays untrained")
        }
        var policyScratch = MLP.Scratch(for: trainer.model.policy)
        var valueScratch = MLP.Scratch(for: trainer.model.value)
        for x in [[1.0, 1], [1, -1], [-1, 1], [-1, -1]] {
            trainer.model.policy.infer(.init(x), scratch: &policyScratch)
            let probabilities = policyScratch.output.withUnsafeBufferPointer { logits in
                softmax(Array(logits), mask: [true, true, false])
            }
            #expect(abs(probabilities[x[0] > 0 ? 0 : 1] - 0.95) < 0.02, "π(teacher | \(x)) = \(probabilities)")
            #expect(probabilities[2] == 0)
            if critic {
                trainer.model.value.infer(.init(x), scratch: &valueScratch)
                #expect(abs(valueScratch.output[0] - 2 * x[1]) < 0.15, "V(\(x)) = \(valueScratch.output[0])")
            }
        }
    }

    @Test("the same seed and data give the same networks")
    func determinism() {
        let a = train(.ppo, iterations: 3, seed: 8)
        let b = train(.ppo, iterations: 3, seed: 8)
        #expect(a.patience == b.patience)
    }

    @Test("an update asked for 1, 2, 3 or 4 threads gives the same networks and statistics, with and without a critic",
          arguments: [1, 3])
    func updateIgnoresThreads(pairs: Int) {
        var configuration = PolicyGradientConfiguration()
        configuration.epochs = 3
        configuration.minibatchSize = 13  // the last minibatch of each epoch is ragged
        configuration.pairedRollouts = pairs
        let trainer = PolicyGradientTrainer(observationCount: 2, actionCount: 3, configuration: configuration, seed: 4)
        var problem = TemptationProblem()
        let random = CounterRandom(seed: 4, domain: 98)
        var batch = RolloutBatch()
        for episode in 0..<6 {
            for replica in 0..<pairs {
                var run = trainer.collect(&problem, episodes: episode..<(episode + 1), random: random.child(UInt64(replica)))
                if pairs > 1 { run.episodeGroups = Array(repeating: episode, count: run.episodeReturns.count) }
                batch.append(run)
            }
        }
        #expect(batch.count % configuration.minibatchSize != 0)
        var results: [(model: ActorCritic, statistics: UpdateStatistics)] = []
        for threads in 1...4 {
            var copy = trainer
            let statistics = copy.update(batch, random: random.child(100), threads: threads)
            results.append((copy.model, statistics))
        }
        #expect(results[0].model != trainer.model)
        for result in results.dropFirst() {
            #expect(result.model == results[0].model)
            #expect(result.statistics.policyLoss == results[0].statistics.policyLoss)
            #expect(result.statistics.approximateKL == results[0].statistics.approximateKL)
        }
    }
}
