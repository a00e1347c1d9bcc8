import AdLoadCore
import LinearAlgebra

/// A linear contextual bandit over φ = c ⊗ q: a ``RidgeModel`` plus the ``BanditAlgorithm``
/// that turns it into decisions.
///
/// `decide` scores every candidate plan of a context with the Kronecker structure of φ
/// (O(d² + K·|q|²) instead of O(K·d²)) and reports the propensity of its choice;
/// `probabilities` gives the whole distribution π(·|x) for off-policy evaluation; `update`
/// learns from one (context, chosen plan, reward) with an optional importance weight.
/// The value is `Sendable`: serve from one snapshot on many threads, each with its own
/// ``BanditScratch``, while a learner updates its own copy.
public struct LinearBandit: Sendable {
    /// |c|, the number of context features.
    public let contextCount: Int

    /// |q|, the number of plan descriptors.
    public let descriptorCount: Int

    /// How decisions are made from the model.
    public private(set) var algorithm: BanditAlgorithm

    /// The ridge model over φ = c ⊗ q, of dimension d = |c|·|q|.
    public private(set) var model: RidgeModel

    /// The models of the priced quantities (``BanditPricing``) when the bandit is priced:
    /// its decisions then follow the pacing prices. `nil` for an unpriced bandit, which
    /// ignores prices.
    package private(set) var pricing: BanditPricing?

    /// The valid range of the prior precision λ.
    static let lambdaRange: ClosedRange<Double> = 1e-12...1e12

    /// A bandit that has learned nothing yet (A = λI).
    /// - Parameters:
    ///   - contextCount: |c| (``FeatureSchema/contextCount``).
    ///   - descriptorCount: |q| (``FeatureSchema/descriptorCount``).
    ///   - algorithm: The decision rule and its hyper-parameters.
    ///   - lambda: The prior precision λ (ridge penalty), in `lambdaRange`.
    ///   - refreshInterval: Updates between LAPACK recomputations of the model.
    /// - Throws: `HyperparameterError` if a hyper-parameter or λ is out of range.
    /// - Complexity: O(d²); allocates the model.
    public init(
        contextCount: Int, descriptorCount: Int, algorithm: BanditAlgorithm, lambda: Double = 1,
        refreshInterval: Int = RidgeModel.defaultRefreshInterval
    ) throws(HyperparameterError) {
        guard Self.lambdaRange.contains(lambda) else {
            throw HyperparameterError(
                name: "lambda", value: JSONNumber.compact(lambda), problem: "out of range, expected a number in [1e-12, 1e12]")
        }
        try self.init(
            algorithm: algorithm,
            model: RidgeModel(dimension: contextCount * descriptorCount, lambda: lambda, refreshInterval: refreshInterval),
            contextCount: contextCount, descriptorCount: descriptorCount)
    }

    /// A bandit around an existing model (restored from a policy file, or fitted from logs).
    /// - Precondition: `model.dimension == contextCount * descriptorCount`.
    /// - Throws: `HyperparameterError` if a hyper-parameter is out of range.
    public init(algorithm: BanditAlgorithm, model: RidgeModel, contextCount: Int, descriptorCount: Int) throws(HyperparameterError) {
        try self.init(algorithm: algorithm, model: model, pricing: nil, contextCount: contextCount, descriptorCount: descriptorCount)
    }

    /// A bandit around an existing model and, when priced, its pricing models.
    /// - Precondition: `model.dimension == contextCount * descriptorCount`, and the pricing's too.
    /// - Throws: `HyperparameterError` if a hyper-parameter is out of range.
    package init(
        algorithm: BanditAlgorithm, model: RidgeModel, pricing: BanditPricing?, contextCount: Int, descriptorCount: Int
    ) throws(HyperparameterError) {
        precondition(pricing.map { $0.b[0].count == model.dimension } ?? true, "LinearBandit: pricing of another dimension")
        precondition(contextCount >= 1 && descriptorCount >= 1, "LinearBandit: |c| = \(contextCount) and |q| = \(descriptorCount) must be positive")
        precondition(
            model.dimension == contextCount * descriptorCount,
            "LinearBandit: model dimension \(model.dimension) is not |c|·|q| = \(contextCount)·\(descriptorCount)"
        )
        try algorithm.validate()
        self.algorithm = algorithm
        self.model = model
        self.pricing = pricing
        self.contextCount = contextCount
        self.descriptorCount = descriptorCount
    }

    /// The feature dimension d = |c|·|q|.
    package var dimension: Int { model.dimension }

    /// The same model deciding with another algorithm (to evaluate a greedy version of a
    /// trained policy, say).
    /// - Throws: `HyperparameterError` if a hyper-parameter is out of range.
    public func with(algorithm: BanditAlgorithm) throws(HyperparameterError) -> LinearBandit {
        try LinearBandit(algorithm: algorithm, model: model, pricing: pricing, contextCount: contextCount, descriptorCount: descriptorCount)
    }

    /// Makes the bandit priced: from now on every update must bring the session's priced
    /// quantities, and decisions follow the prices they are given.
    /// - Precondition: nothing learned yet (the pricing models must see every observation A has).
    package mutating func enablePricing() {
        precondition(model.updateCount == 0, "LinearBandit.enablePricing: the bandit has already learned \(model.updateCount) observations")
        if pricing == nil { pricing = BanditPricing(dimension: model.dimension) }
    }

    /// Working memory for decisions among up to `maxCandidates` candidates.
    /// - Complexity: O(d + K·|q|); allocates.
    public func makeScratch(maxCandidates: Int) -> BanditScratch {
        BanditScratch(contextCount: contextCount, descriptorCount: descriptorCount, maxCandidates: maxCandidates)
    }

    /// Learns from one observation: the plan with descriptors q was shown in context c and earned `reward`.
    ///
    /// Forms φ = c ⊗ q inside the model and applies the ridge update.
    /// - Parameters:
    ///   - context: c, `contextCount` finite values.
    ///   - descriptors: q of the chosen plan, `descriptorCount` finite values.
    ///   - reward: The observed reward (finite).
    ///   - outcome: The session's priced quantities; required when the bandit is priced.
    ///   - weight: Importance weight w ≥ 0, such as π_target/π_logging when learning from logs.
    /// - Complexity: O(d²) amortized (see ``RidgeModel/update(features:reward:weight:)``), no allocation.
    public mutating func update(context: [Double], descriptors: [Double], reward: Double, outcome: PricedOutcome? = nil, weight: Double = 1) {
        precondition(context.count == contextCount, "LinearBandit.update: context has \(context.count) features, expected \(contextCount)")
        precondition(
            descriptors.count == descriptorCount,
            "LinearBandit.update: q has \(descriptors.count) values, expected \(descriptorCount)"
        )
        context.withUnsafeBufferPointer { c in
            descriptors.withUnsafeBufferPointer { q in
                model.stageKronecker(context: c, descriptors: q)
            }
        }
        applyStagedUpdate(reward: reward, outcome: outcome, weight: weight)
    }

    /// Learns from one observation of a candidate plan (see ``update(context:descriptors:reward:weight:)``).
    /// - Complexity: O(d²) amortized, no allocation.
    public mutating func update(context: [Double], descriptors: PlanDescriptors, reward: Double, outcome: PricedOutcome? = nil, weight: Double = 1) {
        precondition(context.count == contextCount, "LinearBandit.update: context has \(context.count) features, expected \(contextCount)")
        precondition(
            descriptorCount == PlanDescriptors.count,
            "LinearBandit.update: plans have \(PlanDescriptors.count) descriptors, the bandit expects \(descriptorCount)"
        )
        withUnsafeTemporaryAllocation(of: Double.self, capacity: PlanDescriptors.count) { q in
            for j in 0..<PlanDescriptors.count {
                q[j] = descriptors[j]
            }
            context.withUnsafeBufferPointer { c in
                model.stageKronecker(context: c, descriptors: UnsafeBufferPointer(q))
            }
        }
        applyStagedUpdate(reward: reward, outcome: outcome, weight: weight)
    }

    /// The ridge update for the staged φ, and the pricing models' with it.
    private mutating func applyStagedUpdate(reward: Double, outcome: PricedOutcome?, weight: Double) {
        model.applyStagedUpdate(reward: reward, weight: weight)
        guard pricing != nil else { return }
        guard let outcome else {
            preconditionFailure("LinearBandit.update: a priced bandit learns from the session's priced outcome too")
        }
        pricing?.update(after: model, outcome: outcome, weight: weight)
    }
}
