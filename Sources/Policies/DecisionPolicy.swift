import AdLoadCore

/// The one policy contract: serving, simulation, training, off-policy evaluation and
/// inspection decide through it, whatever kind of policy is behind it.
///
/// A policy sees only what the service sees: the observable context, encoded with the
/// policy's own ``schema`` into ``PolicyWorkspace/context``, and the valid plans of that
/// context (the placement rules act as a mask: an invalid plan is never offered). For those
/// plans it gives the chosen one with its probability, the whole distribution, and a
/// per-plan explanation. A new kind of policy is one type conforming to this protocol plus
/// one case in ``PolicyFile/parse(_:file:expectedSchema:)``.
///
/// Deciding is a pure function of (policy, context, plans, random stream): the same inputs
/// give the same choice, so a logged decision can be recomputed.
package protocol DecisionPolicy: Sendable {
    /// The file's `algorithm` name ("linucb", "thompson", "egreedy", "softmax", …): it names
    /// the policy's kind and decision rule.
    var algorithm: String { get }

    /// The decision rule's hyper-parameters as (file key, value) pairs, in file order.
    var hyperparameters: [(name: String, value: Double)] { get }

    /// The context encoding the policy reads (categories, history features, descriptors).
    var schema: FeatureSchema { get }

    /// The family the valid plans come from.
    var planFamily: PlanFamily { get }

    /// The reward weights the policy was trained with.
    var reward: [String: Double] { get }

    /// Where the policy came from.
    var provenance: PolicyProvenance { get }

    /// The same policy deciding without exploration, with exact probabilities: what the
    /// service decides with when a user's state is missing (a fallback).
    /// It decides with workspaces this policy makes.
    func conservative() -> any DecisionPolicy

    /// Working memory for decisions among up to `maxCandidates` plans (one per thread, or
    /// taken from a pool per decision), so that deciding allocates nothing in steady state.
    func makeWorkspace(maxCandidates: Int) -> PolicyWorkspace

    /// Chooses one of `candidates` for the context in `workspace.context`.
    /// - Parameters:
    ///   - candidates: The valid plans (at least one).
    ///   - random: The decision's random stream.
    ///   - workspace: Made by this policy's ``makeWorkspace(maxCandidates:)``, its context filled.
    /// - Returns: The chosen index and the probability it had (the propensity a decision logs).
    func decide(_ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace) -> PolicyChoice

    /// Writes π(k | context) for every candidate into `probabilities` (the distribution
    /// ``decide(_:random:workspace:)`` samples from, for off-policy evaluation and inspection).
    /// - Returns: Whether the values are exact or estimated.
    func probabilities(
        _ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace, into probabilities: inout [Double]
    ) -> PropensityKind

    /// Every candidate's score and its parts, its probability, and the decision
    /// ``decide(_:random:workspace:)`` makes for the same inputs.
    func explain(_ candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace) -> PolicyExplanation

    /// The policy file's text (checksum included); loading it gives the same policy.
    /// - Throws: `ConfigError` naming the field that cannot be written.
    func rendered() throws(ConfigError) -> String
}

extension DecisionPolicy {
    /// Encodes `context` with the policy's schema and decides (see ``decide(_:random:workspace:)``).
    package func decide(
        _ context: DecisionContext, candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace
    ) -> PolicyChoice {
        workspace.encode(context, schema: schema)
        return decide(candidates, random: random, workspace: workspace)
    }

    /// Encodes `context` and explains the decision (see ``explain(_:random:workspace:)``).
    func explain(
        _ context: DecisionContext, candidates: [CandidatePlan], random: CounterRandom, workspace: PolicyWorkspace
    ) -> PolicyExplanation {
        workspace.encode(context, schema: schema)
        return explain(candidates, random: random, workspace: workspace)
    }
}

/// Working memory of a decision: the encoded context, plus whatever the policy's kind needs.
///
/// `@unchecked Sendable`: a workspace is mutable and used by one thread at a time: the
/// decision service takes one from a pool under its mutex for one decision and returns it;
/// a simulation or training thread keeps its own. Kinds subclass it inside Policies.
package class PolicyWorkspace: @unchecked Sendable {
    /// The context encoded with the policy's schema: what a decision logs as its features.
    package final var context: [Double]

    /// The pacing prices of the context being decided (the defaults unless a paced run or
    /// the service's pacing set them); a priced policy decides by them.
    package final var prices = PacingPrices.defaults

    init(contextCount: Int) {
        context = Array(repeating: 0, count: contextCount)
    }

    /// Encodes `decision` with `schema` into ``context``.
    /// - Complexity: O(|c|), no allocation.
    package final func encode(_ decision: DecisionContext, schema: FeatureSchema) {
        precondition(schema.contextCount == context.count, "PolicyWorkspace: schema has \(schema.contextCount) features, workspace \(context.count)")
        context.withUnsafeMutableBufferPointer { schema.encodeContext(decision, into: $0) }
        prices = decision.prices
    }

    /// This workspace as the kind `W` whose `makeWorkspace(maxCandidates:)` made it.
    /// - Precondition: it is one (a policy decides only with workspaces it made).
    final func owned<W: PolicyWorkspace>(by kind: String, as _: W.Type = W.self) -> W {
        guard let own = self as? W else {
            preconditionFailure("\(kind): the workspace was made by another kind of policy (\(type(of: self)))")
        }
        return own
    }

    /// Copies already encoded features (a logged decision's) and its prices into the workspace.
    /// - Precondition: `features` has as many values as the policy's context.
    package final func load(features: [Double], prices: PacingPrices = .defaults) {
        precondition(features.count == context.count, "PolicyWorkspace: \(features.count) features, the policy reads \(context.count)")
        self.prices = prices
        for index in features.indices {
            context[index] = features[index]
        }
    }
}

/// Why a policy would choose each plan: the parts of every candidate's score.
package struct PolicyExplanation: Sendable {
    /// One candidate's score and probability.
    package struct Plan: Sendable, Equatable {
        /// The policy's estimate of the plan's reward (θᵀφ for a linear bandit).
        package let value: Double
        /// The exploration term added to the value (LinUCB's α·width, Thompson's posterior
        /// draw minus the mean; 0 for rules that explore by randomizing instead).
        package let bonus: Double
        /// Priced terms (revenue, guardrail and supply prices; 0 for unpriced policies).
        package let price: Double
        /// What the rule ranks or weighs: value + bonus + price.
        package var score: Double { value + bonus + price }
        /// π(plan | context).
        package let probability: Double

        /// Creates one plan's explanation.
        package init(value: Double, bonus: Double, price: Double, probability: Double) {
            self.value = value
            self.bonus = bonus
            self.price = price
            self.probability = probability
        }
    }

    /// Per candidate, in the order they were offered.
    package let plans: [Plan]
    /// What ``DecisionPolicy/decide(_:random:workspace:)`` chooses for the same inputs.
    package let choice: PolicyChoice
    /// Whether the probabilities in ``plans`` are exact or estimated.
    package let probabilityKind: PropensityKind
    /// One sentence on how the rule turns scores into a choice.
    package let rule: String

    /// Creates an explanation.
    init(plans: [Plan], choice: PolicyChoice, probabilityKind: PropensityKind, rule: String) {
        self.plans = plans
        self.choice = choice
        self.probabilityKind = probabilityKind
        self.rule = rule
    }
}
