import AdLoadCore
import Foundation
import LinearAlgebra
import Networks

/// A policy-gradient policy (PPO or REINFORCE): an MLP from the normalized observable
/// context to one logit per plan spec of its action list; a session's valid plans are the
/// mask, and the policy draws among them with probability ∝ exp(logit) (exact propensities).
///
/// The file holds the shared header (``PolicyHeader``), the training settings as
/// `hyperparameters`, the action list (`actions`, `[first, every, max]` per network output),
/// the observation normalization (`normalization.mean`, `normalization.std`) and the
/// network (`network.sizes`, `network.weights`, `network.biases`). A priced policy
/// (``NetworkPricing``, the file's `pricing`) reads the four pacing prices as four more
/// inputs after the context's features.
package struct NetworkPolicy: Sendable {
    /// The file format version this kind writes and reads.
    package static let version = 1
    /// The `algorithm` names of this kind.
    package static let algorithms = ["ppo", "reinforce"]

    package var algorithm: String
    package var settings: [(name: String, value: Double)]
    package var header: PolicyHeader
    /// Network output k scores plan spec `actions[k]`.
    package var actions: [PlanSpec]
    package var mean: [Double]
    package var standardDeviation: [Double]
    package var network: MLP
    /// The prices' scales and ranges when the policy is priced (`nil`: it ignores prices).
    package var pricing: NetworkPricing?
    /// Whether the policy draws (as trained) or takes the most likely plan (`--exploit`, fallbacks).
    package var greedy = false
    let actionIndex: [PlanSpec: Int]

    /// Bundles a trained network with what it was trained for.
    /// - Precondition: the network reads ``inputCount(schema:pricing:)`` inputs and gives
    ///   `actions.count` outputs; the normalization has one entry per input.
    package init(
        algorithm: String, settings: [(name: String, value: Double)], header: PolicyHeader, actions: [PlanSpec],
        mean: [Double], standardDeviation: [Double], network: MLP, pricing: NetworkPricing? = nil
    ) {
        let inputs = Self.inputCount(schema: header.schema, pricing: pricing)
        precondition(network.sizes.first == inputs && network.sizes.last == actions.count,
                     "NetworkPolicy: network \(network.sizes), \(inputs) inputs and \(actions.count) actions expected")
        precondition(mean.count == inputs && standardDeviation.count == mean.count, "NetworkPolicy: normalization size")
        self.algorithm = algorithm
        self.settings = settings
        self.header = header
        self.actions = actions
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.network = network
        self.pricing = pricing
        actionIndex = Dictionary(actions.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The network's inputs: the context's features, then the four prices when priced.
    package static func inputCount(schema: FeatureSchema, pricing: NetworkPricing?) -> Int {
        schema.contextCount + (pricing == nil ? 0 : 4)
    }
}

extension NetworkPolicy: DecisionPolicy {
    package var hyperparameters: [(name: String, value: Double)] { settings }
    package var schema: FeatureSchema { header.schema }
    package var planFamily: PlanFamily { header.planFamily }
    package var reward: [String: Double] { header.reward }
    package var provenance: PolicyProvenance { header.provenance }

    /// The same network taking its most likely valid plan (probability 1).
    package func conservative() -> any DecisionPolicy {
        var greedy = self
        greedy.greedy = true
        return greedy
    }

    package func makeWorkspace(maxCandidates: Int) -> PolicyWorkspace {
        NetworkWorkspace(policy: self, maxCandidates: maxCandidates)
    }

    package func decide(_ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace) -> PolicyChoice {
        let own = Self.own(workspace)
        fill(candidates, workspace: own)
        if greedy {
            var best = 0
            for k in candidates.indices where own.probabilities[k] > own.probabilities[best] { best = k }
            return PolicyChoice(index: best, probability: 1, propensityKind: .exact)
        }
        let draw = random.uniform(0)
        var cumulative = 0.0
        var chosen = candidates.count - 1
        for k in candidates.indices {
            cumulative += own.probabilities[k]
            if draw < cumulative && own.probabilities[k] > 0 {
                chosen = k
                break
            }
        }
        return PolicyChoice(index: chosen, probability: own.probabilities[chosen], propensityKind: .exact)
    }

    package func probabilities(
        _ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace, into probabilities: inout [Double]
    ) -> PropensityKind {
        let own = Self.own(workspace)
        fill(candidates, workspace: own)
        if probabilities.count != candidates.count { probabilities = Array(repeating: 0, count: candidates.count) }
        if greedy {
            let choice = decide(candidates, random: random, workspace: own)
            for k in candidates.indices { probabilities[k] = k == choice.index ? 1 : 0 }
        } else {
            for k in candidates.indices { probabilities[k] = own.probabilities[k] }
        }
        return .exact
    }

    package func explain(_ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace) -> PolicyExplanation {
        let own = Self.own(workspace)
        var probabilities: [Double] = []
        _ = self.probabilities(candidates, random: random, workspace: own, into: &probabilities)
        let choice = decide(candidates, random: random, workspace: own)
        let plans = candidates.indices.map { k in
            PolicyExplanation.Plan(value: own.logits[k], bonus: 0, price: 0, probability: probabilities[k])
        }
        let prices = pricing == nil ? "" : " (the pacing prices are inputs of the network)"
        let rule = greedy
            ? "the valid plan with the highest network logit\(prices)"
            : "a valid plan drawn with probability ∝ exp(network logit)\(prices); plans outside the network's action list get none"
        return PolicyExplanation(plans: plans, choice: choice, probabilityKind: .exact, rule: rule)
    }

    /// Writes every candidate's logit and probability into the workspace. Candidates whose
    /// spec is not in the action list get probability 0; if none is in it, the first gets 1.
    func fill(_ candidates: [CandidatePlan], workspace: NetworkWorkspace) {
        workspace.normalize(mean: mean, standardDeviation: standardDeviation, pricing: pricing)
        network.infer(workspace.input, scratch: &workspace.scratch)
        let output = workspace.scratch.output
        var largest = -Double.infinity
        for k in candidates.indices {
            if let action = actionIndex[candidates[k].spec] {
                workspace.logits[k] = output[action]
                largest = max(largest, output[action])
            } else {
                workspace.logits[k] = -Double.infinity
            }
        }
        guard largest > -Double.infinity else {
            for k in candidates.indices { workspace.probabilities[k] = k == 0 ? 1 : 0 }
            return
        }
        var total = 0.0
        for k in candidates.indices {
            let weight = workspace.logits[k] == -Double.infinity ? 0 : exp(workspace.logits[k] - largest)
            workspace.probabilities[k] = weight
            total += weight
        }
        for k in candidates.indices { workspace.probabilities[k] /= total }
    }

    /// The workspace as this kind's, which ``makeWorkspace(maxCandidates:)`` made.
    private static func own(_ workspace: PolicyWorkspace) -> NetworkWorkspace {
        workspace.owned(by: "NetworkPolicy")
    }
}

/// A network policy's working memory: the normalized input, the network's buffers and the
/// candidates' logits and probabilities. `@unchecked Sendable` for the reason
/// ``PolicyWorkspace`` gives (one thread at a time).
final class NetworkWorkspace: PolicyWorkspace, @unchecked Sendable {
    var input: Vector
    var scratch: MLP.Scratch
    var logits: [Double]
    var probabilities: [Double]

    init(policy: NetworkPolicy, maxCandidates: Int) {
        input = .zeros(NetworkPolicy.inputCount(schema: policy.schema, pricing: policy.pricing))
        scratch = MLP.Scratch(for: policy.network)
        logits = Array(repeating: 0, count: max(1, maxCandidates))
        probabilities = Array(repeating: 0, count: max(1, maxCandidates))
        super.init(contextCount: policy.schema.contextCount)
    }

    /// `input = (context ++ prices − mean) / std`, the prices (clamped to their ranges) only
    /// when the policy is priced.
    /// - Complexity: O(|input|), no allocation.
    func normalize(mean: [Double], standardDeviation: [Double], pricing: NetworkPricing?) {
        input.withUnsafeMutableBufferPointer { values in
            let count = context.count
            for index in 0..<count { values[index] = context[index] }
            pricing?.writeInputs(prices, into: values, at: count)
            for index in values.indices { values[index] = (values[index] - mean[index]) / standardDeviation[index] }
        }
    }
}
