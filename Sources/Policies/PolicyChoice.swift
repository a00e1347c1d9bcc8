/// One decision of a policy: the chosen candidate and the probability it had.
public struct PolicyChoice: Sendable, Equatable {
    /// Index of the chosen candidate in the list passed to `decide`.
    package let index: Int

    /// The probability π(index | context) of this choice (the propensity logged with the decision).
    package let probability: Double

    /// Whether `probability` is exact or a Monte Carlo estimate.
    package let propensityKind: PropensityKind

    /// Creates a choice.
    package init(index: Int, probability: Double, propensityKind: PropensityKind) {
        self.index = index
        self.probability = probability
        self.propensityKind = propensityKind
    }
}

/// How a reported propensity was obtained.
package enum PropensityKind: Sendable, Hashable {
    /// Computed in closed form from the policy's distribution.
    case exact
    /// Estimated by counting wins over `samples` posterior draws (Thompson sampling).
    case estimated(samples: Int)
}

extension PropensityKind {
    /// How decision logs and stream entries write it: "exact" or "estimated:<samples>".
    package var label: String {
        switch self {
        case .exact: "exact"
        case let .estimated(samples): "estimated:\(samples)"
        }
    }
}
