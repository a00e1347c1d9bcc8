/// Why an off-policy estimate could not be computed; each case names the offending value.
///
/// Decision indices are 0-based positions in the array passed to the estimator.
/// Cases carrying a `Double` may carry NaN, which never compares equal: match the case
/// and test the value with `isNaN` rather than comparing whole errors.
package enum OffPolicyError: Error, Hashable, CustomStringConvertible {
    /// The log holds no decisions.
    case emptyLog

    /// A logging propensity is NaN, ≤ 0 or > 1.
    case invalidPropensity(index: Int, value: Double)

    /// A target probability is NaN or outside [0, 1].
    case invalidTargetProbability(index: Int, value: Double)

    /// A reward is NaN or infinite.
    case nonFiniteReward(index: Int, value: Double)

    /// A reward-model prediction (`field` is `predictedLogged` or `predictedTarget`) is NaN
    /// or infinite; checked only by the model-based estimators.
    case nonFinitePrediction(index: Int, field: String, value: Double)

    /// The switch-DR threshold τ is NaN or negative (`.infinity` is allowed).
    case invalidSwitchThreshold(Double)

    /// The bootstrap needs at least 2 replicates for a standard error.
    case invalidReplicateCount(Int)

    /// A sentence naming the problem and the value that caused it.
    package var description: String {
        switch self {
        case .emptyLog:
            "The decision log is empty: off-policy estimates need at least one logged decision"
        case .invalidPropensity(let index, let value):
            "Decision \(index) has logging propensity \(value); it must be in (0, 1]"
        case .invalidTargetProbability(let index, let value):
            "Decision \(index) has target probability \(value); it must be in [0, 1]"
        case .nonFiniteReward(let index, let value):
            "Decision \(index) has reward \(value); it must be finite"
        case .nonFinitePrediction(let index, let field, let value):
            "Decision \(index) has \(field) \(value); reward-model predictions must be finite"
        case .invalidSwitchThreshold(let value):
            "Switch-DR threshold \(value) is invalid; it must be ≥ 0 (use .infinity to never switch)"
        case .invalidReplicateCount(let count):
            "Bootstrap replicate count \(count) is invalid; it must be at least 2"
        }
    }
}
