import AdLoadCore
@testable import Policies
import Testing

/// A linear contextual bandit with a known answer: reward = θ*ᵀ(c ⊗ q_k) + N(0, σ²).
///
/// Contexts are c = (1, x₁…x₄) with x standard normal, redrawn until the best candidate
/// beats the second by at least `minimumGap` (so "picked the best" is well defined and a
/// learner that knows θ* up to a small error always finds it). K = 12 fixed candidates
/// with q = (1, u), u a random unit vector in R³ (equal norms, so no candidate is favoured by
/// the confidence widths of an untrained model); θ* has N(0, 0.5²) entries; σ = 0.5.
struct LinearProblem {
    let contextCount = 5
    let descriptorCount = 4
    let candidateCount = 12
    let noise = 0.5
    let minimumGap = 0.25
    let thetaStar: [Double]
    let descriptors: [Double]

    init(seed: UInt64) {
        var random = TestRandom(seed: seed)
        thetaStar = (0..<(contextCount * descriptorCount)).map { _ in 0.5 * random.normal() }
        var rows: [Double] = []
        for _ in 0..<candidateCount {
            let u = (1..<descriptorCount).map { _ in random.normal() }
            let norm = dot(u, u).squareRoot()
            rows += [1] + u.map { $0 / norm }
        }
        descriptors = rows
    }

    func expectedReward(_ c: [Double], _ k: Int) -> Double {
        dot(thetaStar, kronecker(c, descriptorRow(descriptors, k, count: descriptorCount)))
    }

    /// The best candidate, its expected reward, and the mean expected reward over all candidates.
    func best(_ c: [Double]) -> (index: Int, reward: Double, gap: Double, mean: Double) {
        let rewards = (0..<candidateCount).map { expectedReward(c, $0) }
        let sorted = rewards.sorted(by: >)
        let index = rewards.firstIndex(of: sorted[0]) ?? 0
        return (index, sorted[0], sorted[0] - sorted[1], rewards.reduce(0, +) / Double(candidateCount))
    }

    func context(using random: inout TestRandom) -> [Double] {
        while true {
            let c = [1.0] + (1..<contextCount).map { _ in random.normal() }
            if best(c).gap >= minimumGap {
                return c
            }
        }
    }
}

/// What a run of a chooser on a `LinearProblem` achieved.
struct RunSummary {
    /// Fraction of the last 20% of rounds that chose the best candidate.
    var lateBestRate = 0.0
    /// Expected regret Σ_k π(k|c)·(best − reward_k) of the policy's distribution π at each
    /// round, minus the known cost of its forced exploration (ε or the LinUCB floor times the
    /// regret of a uniform choice), summed over the first and the second half of the rounds.
    /// This is the regret of what the learner believes; it is computed from π, so it carries
    /// no sampling noise from the choices themselves.
    var firstHalfLearningRegret = 0.0
    var secondHalfLearningRegret = 0.0
    /// Expected regret of π over the second half, forced exploration included.
    var secondHalfRegret = 0.0
    /// The expected regret a uniform chooser would have had over the second half.
    var secondHalfUniformRegret = 0.0
}

/// Who chooses: a bandit (learning or frozen), or a uniform random chooser.
enum Chooser: CustomStringConvertible {
    case bandit(BanditAlgorithm, learns: Bool)
    case uniform

    var description: String {
        switch self {
        case let .bandit(algorithm, learns): "\(learns ? "learning" : "frozen") \(algorithm.name)"
        case .uniform: "uniform"
        }
    }
}

func run(_ chooser: Chooser, on problem: LinearProblem, rounds: Int, seed: UInt64) throws -> RunSummary {
    var random = TestRandom(seed: seed)
    let algorithm: BanditAlgorithm
    let learns: Bool
    var explorationFloor = 0.0
    switch chooser {
    case let .bandit(chosen, learning):
        algorithm = chosen
        learns = learning
        switch chosen {
        case let .linUCB(_, floor): explorationFloor = floor
        case let .epsilonGreedy(epsilon): explorationFloor = epsilon
        default: break
        }
    case .uniform:
        // Uniform choice is all exploration, but it is the control: count all of its regret.
        algorithm = .epsilonGreedy(epsilon: 1)
        learns = false
    }
    var bandit = try LinearBandit(
        contextCount: problem.contextCount, descriptorCount: problem.descriptorCount, algorithm: algorithm, lambda: 1)
    var scratch = bandit.makeScratch(maxCandidates: problem.candidateCount)
    var probabilities: [Double] = []
    var summary = RunSummary()
    let lateStart = rounds - rounds / 5
    var lateBest = 0
    for round in 0..<rounds {
        let c = problem.context(using: &random)
        let stream = random.stream()
        let choice = bandit.decide(context: c, descriptors: problem.descriptors, random: stream, scratch: &scratch)
        bandit.probabilities(
            context: c, descriptors: problem.descriptors, random: stream, scratch: &scratch, into: &probabilities)
        let best = problem.best(c)
        var expectedRegret = 0.0
        for k in 0..<problem.candidateCount {
            expectedRegret += probabilities[k] * (best.reward - problem.expectedReward(c, k))
        }
        let learningRegret = expectedRegret - explorationFloor * (best.reward - best.mean)
        if round < rounds / 2 {
            summary.firstHalfLearningRegret += learningRegret
        } else {
            summary.secondHalfLearningRegret += learningRegret
            summary.secondHalfRegret += expectedRegret
            summary.secondHalfUniformRegret += best.reward - best.mean
        }
        if round >= lateStart && choice.index == best.index {
            lateBest += 1
        }
        if learns {
            let reward = problem.expectedReward(c, choice.index) + problem.noise * random.normal()
            bandit.update(
                context: c, descriptors: descriptorRow(problem.descriptors, choice.index, count: problem.descriptorCount),
                reward: reward)
        }
    }
    summary.lateBestRate = Double(lateBest) / Double(rounds - lateStart)
    return summary
}

/// Each algorithm, learning online, finds the known best plan and its regret flattens out.
///
/// Criteria, over 4000 rounds:
/// 1. the best candidate is chosen in at least 95% of the last 800 rounds. A uniform chooser
///    manages about 1/12; a frozen model about the same (θ = 0 ties every candidate). For
///    ε-greedy the forced exploration alone costs ε·11/12 = 2.75% of this.
/// 2. regret grows sublinearly: the expected regret of π beyond its forced exploration (the
///    "learning regret", see `RunSummary`) over the second half is at most 25% of the first
///    half's. A policy with linear regret, like any non-learner, has a ratio near 1.
/// 3. the second half's expected regret, exploration included, is at most 10% of what a
///    uniform chooser would lose there.
/// Checked beyond the fixed seeds used here on 6 other problems × 2 run seeds (ε-greedy: 12 × 2):
/// every algorithm met every criterion (lowest late best rate 0.96, largest learning-regret ratio 0.21; ε-greedy
/// with ε = 0.02 missed criterion 2 once, hence ε = 0.03). `controlsFail` runs the same
/// criteria on a uniform chooser and on frozen bandits, which fail all three by far.
@Suite("Synthetic linear bandit with a known best plan")
struct SyntheticBanditTests {
    static let problem = LinearProblem(seed: 0xB4D17)
    static let rounds = 4000

    static let algorithms: [BanditAlgorithm] = [
        .linUCB(alpha: 0.5, explorationFloor: 0.01),
        .thompson(scale: 0.5, propensitySamples: 20),
        .epsilonGreedy(epsilon: 0.03),
        .softmax(temperature: 0.05),
    ]

    @Test("learns the best plan with sublinear regret", arguments: algorithms)
    func learnsBestPlan(algorithm: BanditAlgorithm) throws {
        let summary = try run(.bandit(algorithm, learns: true), on: Self.problem, rounds: Self.rounds, seed: 0x5EED)
        #expect(summary.lateBestRate >= 0.95, "\(algorithm.name): \(summary)")
        #expect(summary.secondHalfLearningRegret <= 0.25 * summary.firstHalfLearningRegret, "\(algorithm.name): \(summary)")
        #expect(summary.secondHalfRegret <= 0.1 * summary.secondHalfUniformRegret, "\(algorithm.name): \(summary)")
    }

    @Test("a uniform chooser and frozen (never updated) bandits fail the same criteria")
    func controlsFail() throws {
        var controls: [Chooser] = [.uniform]
        controls += Self.algorithms.map { .bandit($0, learns: false) }
        for control in controls {
            let summary = try run(control, on: Self.problem, rounds: Self.rounds, seed: 0x5EED)
            #expect(summary.lateBestRate < 0.5, "\(control): \(summary)")
            #expect(summary.secondHalfLearningRegret > 0.25 * summary.firstHalfLearningRegret, "\(control): \(summary)")
            #expect(summary.secondHalfRegret > 0.1 * summary.secondHalfUniformRegret, "\(control): \(summary)")
        }
    }
}
