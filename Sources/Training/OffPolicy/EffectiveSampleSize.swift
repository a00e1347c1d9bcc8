/// Kish's effective sample size (Σw)² / Σw² of a set of non-negative weights.
///
/// Equals the count when every weight is the same (any positive value) and shrinks as
/// a few weights dominate; it is invariant to scaling all weights. All-zero weights
/// (or an empty collection) give 0.
/// - Complexity: O(n).
func effectiveSampleSize(weights: some Sequence<Double>) -> Double {
    var sum = 0.0
    var sumOfSquares = 0.0
    for weight in weights {
        sum += weight
        sumOfSquares += weight * weight
    }
    return sumOfSquares > 0 ? sum * sum / sumOfSquares : 0
}
