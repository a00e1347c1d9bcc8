/// An error from a LAPACK routine, carrying the `info` value it returned.
public enum LinearAlgebraError: Error, Hashable, CustomStringConvertible {
    /// A Cholesky factorization failed: the leading minor of order `info` is not positive.
    ///
    /// The matrix is not symmetric positive definite, or holds a NaN or infinity;
    /// `info` is LAPACK `dpotrf`'s 1-based positive return value (for a non-finite
    /// input, the first row whose factor diagonal is not finite).
    case notPositiveDefinite(info: Int32)

    /// A triangular or Cholesky factor has an exact zero on its diagonal at 1-based position `info`.
    case singular(info: Int32)

    /// LAPACK rejected argument number `-info`, or could not allocate its workspace.
    ///
    /// The Swift wrappers check dimensions first, so this means a bug in the wrapper
    /// or an out-of-memory condition inside LAPACKE.
    case lapackFailure(routine: String, info: Int32)

    /// A sentence naming the failure and the LAPACK `info` value.
    public var description: String {
        switch self {
        case .notPositiveDefinite(let info):
            "Cholesky factorization failed: the matrix is not positive definite (leading minor of order \(info) is not positive; dpotrf info = \(info))"
        case .singular(let info):
            "Triangular factor is singular: diagonal element \(info) is exactly zero (info = \(info))"
        case .lapackFailure(let routine, let info):
            "LAPACK \(routine) failed with info = \(info)"
        }
    }
}
