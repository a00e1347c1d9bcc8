import AdLoadCore

/// The linear bandits (LinUCB, Thompson sampling, ε-greedy, softmax) under the policy contract.
extension LinearBanditPolicy: DecisionPolicy {
    package var algorithm: String { bandit.algorithm.name }

    package var hyperparameters: [(name: String, value: Double)] { bandit.algorithm.hyperparameters }

    /// The same model deciding greedily (ε-greedy with ε = 0): exact probabilities, no exploration.
    package func conservative() -> any DecisionPolicy {
        var greedy = self
        do {
            greedy.bandit = try bandit.with(algorithm: .epsilonGreedy(epsilon: 0))
        } catch {
            preconditionFailure("ε = 0 is a valid ε-greedy setting: \(error)")
        }
        return greedy
    }

    package func makeWorkspace(maxCandidates: Int) -> PolicyWorkspace {
        LinearBanditWorkspace(bandit: bandit, maxCandidates: maxCandidates)
    }

    package func decide(_ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace) -> PolicyChoice {
        let workspace = Self.own(workspace)
        return bandit.decide(
            context: workspace.context, candidates: candidates, prices: workspace.prices, random: random, scratch: &workspace.scratch)
    }

    package func probabilities(
        _ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace, into probabilities: inout [Double]
    ) -> PropensityKind {
        let workspace = Self.own(workspace)
        bandit.probabilities(
            context: workspace.context, candidates: candidates, prices: workspace.prices, random: random, scratch: &workspace.scratch,
            into: &probabilities)
        if case let .thompson(_, samples) = bandit.algorithm { return .estimated(samples: samples) }
        return .exact
    }

    package func explain(_ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace) -> PolicyExplanation {
        let own = Self.own(workspace)
        let choice = decide(candidates, random: random, workspace: own)
        let ranked = own.scratch.scores
        var probabilities: [Double] = []
        let kind = self.probabilities(candidates, random: random, workspace: own, into: &probabilities)
        bandit.scores(context: own.context, candidates: candidates, prices: own.prices, scratch: &own.scratch)
        let pricedMeans = own.scratch.means
        let widths = own.scratch.widths
        bandit.scores(context: own.context, candidates: candidates, scratch: &own.scratch)
        let means = own.scratch.means
        let rule: String
        var bonus: (Int) -> Double = { _ in 0 }
        switch bandit.algorithm {
        case let .linUCB(alpha, floor):
            bonus = { alpha * widths[$0] }
            rule = "the highest score (value + \(JSONNumber.compact(alpha)) × confidence width) with probability \(JSONNumber.compact(1 - floor)), a uniform plan otherwise"
        case let .thompson(_, samples):
            bonus = { ranked[$0] - pricedMeans[$0] }
            rule = "the highest score under one posterior draw (bonus = draw − mean); probabilities estimated from \(samples) further draws"
        case let .epsilonGreedy(epsilon):
            rule = "the highest value with probability \(JSONNumber.compact(1 - epsilon)), a uniform plan otherwise"
        case let .softmax(temperature, floor):
            rule = floor > 0
                ? "with probability \(JSONNumber.compact(1 - floor)) a plan drawn ∝ exp(value / \(JSONNumber.compact(temperature))), a uniform plan otherwise"
                : "a plan drawn with probability ∝ exp(value / \(JSONNumber.compact(temperature)))"
        }
        let plans = candidates.indices.map { k in
            PolicyExplanation.Plan(value: means[k], bonus: bonus(k), price: pricedMeans[k] - means[k], probability: probabilities[k])
        }
        return PolicyExplanation(plans: plans, choice: choice, probabilityKind: kind, rule: rule)
    }

    /// The workspace as this kind's, which ``makeWorkspace(maxCandidates:)`` made.
    private static func own(_ workspace: PolicyWorkspace) -> LinearBanditWorkspace {
        workspace.owned(by: "LinearBanditPolicy")
    }
}

/// A linear bandit's working memory: the encoded context and the bandit's scratch.
/// `@unchecked Sendable` for the reason ``PolicyWorkspace`` gives (one thread at a time).
final class LinearBanditWorkspace: PolicyWorkspace, @unchecked Sendable {
    var scratch: BanditScratch

    init(bandit: LinearBandit, maxCandidates: Int) {
        scratch = bandit.makeScratch(maxCandidates: max(1, maxCandidates))
        super.init(contextCount: bandit.contextCount)
    }
}
