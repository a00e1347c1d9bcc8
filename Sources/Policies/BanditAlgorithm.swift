import AdLoadCore

/// How a ``LinearBandit`` turns its ridge model into a choice among candidate plans.
///
/// Every algorithm reports the probability of the plan it chose, so that logged decisions
/// can be evaluated off-policy: exactly for LinUCB, ε-greedy and softmax, estimated by
/// posterior sampling for Thompson sampling.
public enum BanditAlgorithm: Sendable, Hashable {
    /// Upper confidence bound: the argmax of θᵀφ + α·√(φᵀA⁻¹φ), replaced with probability
    /// `explorationFloor` by a uniformly random candidate so every plan keeps a propensity
    /// of at least `explorationFloor`/K.
    case linUCB(alpha: Double, explorationFloor: Double)

    /// Linear Thompson sampling: the argmax under θ̃ = θ + `scale`·L⁻ᵀz, z ~ N(0, I). The
    /// chosen plan's probability is estimated from `propensitySamples` further posterior draws.
    case thompson(scale: Double, propensitySamples: Int)

    /// The argmax of θᵀφ with probability 1 − ε, a uniformly random candidate with probability ε.
    case epsilonGreedy(epsilon: Double)

    /// Candidate k with probability (1 − `explorationFloor`)·exp(θᵀφ_k / temperature)/Z +
    /// `explorationFloor`/K: a Boltzmann choice mixed with a uniform one, so every plan keeps
    /// a propensity of at least `explorationFloor`/K however peaked the scores are.
    case softmax(temperature: Double, explorationFloor: Double = 0)

    /// The names used on the command line and in policy files, in declaration order.
    package static let names = ["linucb", "thompson", "egreedy", "softmax"]

    /// The name used on the command line and in policy files ("linucb", "thompson", "egreedy", "softmax").
    public var name: String {
        switch self {
        case .linUCB: "linucb"
        case .thompson: "thompson"
        case .epsilonGreedy: "egreedy"
        case .softmax: "softmax"
        }
    }

    /// The hyper-parameters as (file key, value) pairs, in the order policy files list them.
    package var hyperparameters: [(name: String, value: Double)] {
        switch self {
        case let .linUCB(alpha, floor): [("alpha", alpha), ("exploration_floor", floor)]
        case let .thompson(scale, samples): [("scale", scale), ("propensity_samples", Double(samples))]
        case let .epsilonGreedy(epsilon): [("epsilon", epsilon)]
        case let .softmax(temperature, floor): [("temperature", temperature), ("exploration_floor", floor)]
        }
    }

    /// A reasonable starting configuration for the algorithm called `name`, or `nil` for an unknown name.
    ///
    /// LinUCB α = 1 with a 5% exploration floor; Thompson scale 1 with 100 propensity samples
    /// (standard error of an estimated propensity p below √(p/100)); ε = 0.05; softmax
    /// temperature 0.01 with a 5% exploration floor.
    /// Chosen for how little the learned policy depends on the training seed (greedy, ratio
    /// to best-plan over training seeds 1–4, on the tuning seed 5; docs/bandits.md): at the
    /// strong ridge priors training uses LinUCB's confidence bonus is small, and with a 1%
    /// floor it gave 0.977–1.033×, with 5% 1.033–1.045×; softmax gave 0.991–1.013× at
    /// temperature 0.1, 0.995–1.015× at 0.05, and with a 5% floor 0.997–1.012× at 0.05,
    /// 1.001–1.020× at 0.02 and 1.003–1.015× at 0.01.
    public static func defaults(named name: String) -> BanditAlgorithm? {
        switch name {
        case "linucb": .linUCB(alpha: 1, explorationFloor: 0.05)
        case "thompson": .thompson(scale: 1, propensitySamples: 100)
        case "egreedy": .epsilonGreedy(epsilon: 0.05)
        case "softmax": .softmax(temperature: 0.01, explorationFloor: 0.05)
        default: nil
        }
    }

    /// Builds the algorithm called `name` from its hyper-parameters, keyed as in policy files.
    /// - Throws: `HyperparameterError` for an unknown name, a missing or unknown key, or a value out of range.
    public init(name: String, hyperparameters: [String: Double]) throws(HyperparameterError) {
        guard let specs = Self.specs(named: name) else {
            throw HyperparameterError(
                name: "algorithm", value: "\"\(name)\"", problem: "unknown algorithm (known: \(Self.names.joined(separator: ", ")))")
        }
        if let unknown = hyperparameters.keys.sorted().first(where: { key in !specs.contains { $0.key == key } }) {
            throw HyperparameterError(
                name: unknown, value: JSONNumber.compact(hyperparameters[unknown] ?? 0),
                problem: "unknown hyper-parameter for \(name) (allowed: \(specs.map(\.key).joined(separator: ", ")))")
        }
        var values: [Double] = []
        for spec in specs {
            guard let value = hyperparameters[spec.key] else {
                throw HyperparameterError(name: spec.key, value: nil, problem: "is required by \(name)")
            }
            if let problem = spec.problem(with: value) {
                throw HyperparameterError(name: spec.key, value: JSONNumber.compact(value), problem: problem)
            }
            values.append(value)
        }
        switch name {
        case "linucb": self = .linUCB(alpha: values[0], explorationFloor: values[1])
        case "thompson": self = .thompson(scale: values[0], propensitySamples: Int(values[1]))
        case "egreedy": self = .epsilonGreedy(epsilon: values[0])
        default: self = .softmax(temperature: values[0], explorationFloor: values[1])
        }
    }

    /// Checks every hyper-parameter against its documented range.
    /// - Throws: `HyperparameterError` naming the first value out of range.
    public func validate() throws(HyperparameterError) {
        guard let specs = Self.specs(named: name) else { return }
        for (spec, entry) in zip(specs, hyperparameters) {
            if let problem = spec.problem(with: entry.value) {
                throw HyperparameterError(name: spec.key, value: JSONNumber.compact(entry.value), problem: problem)
            }
        }
    }

    /// The hyper-parameters of the algorithm called `name`, in file order, with their ranges.
    static func specs(named name: String) -> [HyperparameterSpec]? {
        switch name {
        case "linucb":
            [HyperparameterSpec(key: "alpha", range: 0...1000), HyperparameterSpec(key: "exploration_floor", range: 0...1)]
        case "thompson":
            [
                HyperparameterSpec(key: "scale", range: 0...1000),
                HyperparameterSpec(key: "propensity_samples", range: 1...1_000_000, isInteger: true),
            ]
        case "egreedy":
            [HyperparameterSpec(key: "epsilon", range: 0...1)]
        case "softmax":
            [HyperparameterSpec(key: "temperature", range: 1e-9...1e9), HyperparameterSpec(key: "exploration_floor", range: 0...1)]
        default:
            nil
        }
    }
}

/// A hyper-parameter's file key and valid range.
struct HyperparameterSpec: Sendable {
    let key: String
    let range: ClosedRange<Double>
    var isInteger = false

    /// Why `value` is invalid, or `nil` if it is valid.
    func problem(with value: Double) -> String? {
        if isInteger && (value != value.rounded() || !value.isFinite) {
            return "expected an integer in [\(JSONNumber.compact(range.lowerBound)), \(JSONNumber.compact(range.upperBound))]"
        }
        if !range.contains(value) {
            return "out of range, expected \(isInteger ? "an integer" : "a number") in [\(JSONNumber.compact(range.lowerBound)), \(JSONNumber.compact(range.upperBound))]"
        }
        return nil
    }

}

/// A bandit hyper-parameter (or the prior precision λ) that is missing, unknown or out of range.
public struct HyperparameterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The hyper-parameter's key, as in policy files ("alpha", "lambda").
    public let name: String
    /// The offending value as written, or `nil` when it is missing.
    public let value: String?
    /// What is wrong and what is expected.
    package let problem: String

    /// Creates an error for hyper-parameter `name` with `value`.
    package init(name: String, value: String?, problem: String) {
        self.name = name
        self.value = value
        self.problem = problem
    }

    /// One line naming the hyper-parameter, its value and the problem.
    public var description: String {
        guard let value else { return "hyper-parameter '\(name)' \(problem)" }
        return "hyper-parameter '\(name)' has value \(value): \(problem)"
    }
}
