import COpenBLAS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Cholesky factorization A = L·Lᵀ of a symmetric positive definite matrix, via LAPACK.
///
/// Instances are convenient and allocate; the static `…InPlace` functions do the
/// same work on caller-owned storage for hot paths (copy A into a preallocated
/// workspace with `Matrix.assign(_:)`, then factor and solve in place).
///
/// Row-major storage and LAPACK: a row-major buffer read as column-major is the
/// transpose, and for a symmetric A the row-major lower triangle is the column-major
/// upper triangle. So these wrappers call LAPACK in column-major layout with `'U'`,
/// which needs no transposed copy; the factor U = Lᵀ that LAPACK writes reads back,
/// row-major, as the lower-triangular L.
package struct Cholesky: Sendable, Hashable {
    /// The lower-triangular factor L (row-major, zeros above the diagonal, positive diagonal).
    package let factor: Matrix

    /// The dimension n of the n × n matrix.
    package var dimension: Int { factor.rows }

    /// Factors a symmetric positive definite matrix (LAPACK `dpotrf`).
    ///
    /// Only the lower triangle of `a` (diagonal included) is read.
    /// - Throws: `LinearAlgebraError.notPositiveDefinite(info:)` if `a` is not positive definite.
    /// - Complexity: O(n³/3); allocates the factor.
    package init(_ a: Matrix) throws(LinearAlgebraError) {
        var l = a
        try Cholesky.factorInPlace(&l)
        factor = l
    }

    /// Returns x with A·x = b (LAPACK `dpotrs`).
    /// - Precondition: `b.count == dimension`.
    /// - Complexity: O(n²); allocates the result.
    package func solve(_ b: Vector) throws(LinearAlgebraError) -> Vector {
        var x = b
        try Cholesky.solveInPlace(factor: factor, &x)
        return x
    }

    /// Overwrites `b` with x such that A·x = b (LAPACK `dpotrs`), without allocating.
    /// - Precondition: `b.count == dimension`.
    /// - Complexity: O(n²).
    package func solveInPlace(_ b: inout Vector) throws(LinearAlgebraError) {
        try Cholesky.solveInPlace(factor: factor, &b)
    }

    /// Returns X with A·X = B for every column of B (LAPACK `dpotrs`).
    /// - Precondition: `b.rows == dimension`.
    /// - Complexity: O(n² × k) for k columns; allocates (LAPACKE transposes row-major operands).
    package func solve(_ b: Matrix) throws(LinearAlgebraError) -> Matrix {
        _ = pinnedToOneThread
        precondition(b.rows == dimension, "Cholesky.solve: B has \(b.rows) rows, expected \(dimension)")
        var x = b
        let n = Int32(dimension)
        let nrhs = Int32(b.columns)
        let info = factor.withUnsafeBufferPointer { l in
            x.withUnsafeMutableBufferPointer { xs in
                LAPACKE_dpotrs_work(
                    LAPACK_ROW_MAJOR, lapackUplo(.lower), n, nrhs,
                    l.baseAddress, max(1, n), xs.baseAddress, max(1, nrhs)
                )
            }
        }
        try check(info, routine: "dpotrs")
        return x
    }

    /// Overwrites `b` with L⁻¹·b: solves the lower-triangular system L·y = b (BLAS `dtrsv`).
    ///
    /// With `solveLowerTransposedInPlace` this splits `solveInPlace` in two; the second
    /// half alone turns standard normal z into a sample L⁻ᵀ·z with covariance A⁻¹.
    /// - Complexity: O(n²), no allocation.
    func solveLowerInPlace(_ b: inout Vector) {
        precondition(b.count == dimension, "Cholesky.solveLowerInPlace: b has \(b.count) elements, expected \(dimension)")
        Kernels.uncheckedTrsv(factor, triangle: .lower, transposeA: false, unitDiagonal: false, solving: &b)
    }

    /// Overwrites `b` with L⁻ᵀ·b: solves the upper-triangular system Lᵀ·x = b (BLAS `dtrsv`).
    /// - Complexity: O(n²), no allocation.
    func solveLowerTransposedInPlace(_ b: inout Vector) {
        precondition(
            b.count == dimension, "Cholesky.solveLowerTransposedInPlace: b has \(b.count) elements, expected \(dimension)"
        )
        Kernels.uncheckedTrsv(factor, triangle: .lower, transposeA: true, unitDiagonal: false, solving: &b)
    }

    /// Returns A⁻¹ as a full symmetric matrix (LAPACK `dpotri`).
    ///
    /// Prefer `solve` when only A⁻¹·b is needed: it is cheaper and more accurate.
    /// - Complexity: O(n³ × 2/3); allocates the result.
    package func inverse() throws(LinearAlgebraError) -> Matrix {
        var inverse = factor
        try Cholesky.invertInPlace(&inverse)
        return inverse
    }

    /// The natural logarithm of det A, computed as 2·Σ log Lᵢᵢ.
    /// - Complexity: O(n).
    var logDeterminant: Double {
        let n = dimension
        return factor.withUnsafeBufferPointer { l in
            var sum = 0.0
            for i in 0..<n {
                sum += log(l[i * n + i])
            }
            return 2 * sum
        }
    }
}

extension Cholesky {
    /// Replaces a symmetric positive definite `a` with its lower Cholesky factor L (LAPACK `dpotrf`).
    ///
    /// Only the lower triangle of `a` is read; on success the upper triangle is
    /// zeroed, so `a` holds exactly L. On failure `a` holds partial results and must be
    /// refilled before reuse. Allocates nothing.
    /// - Precondition: `a` is square.
    /// - Throws: `LinearAlgebraError.notPositiveDefinite(info:)` with LAPACK's `info`:
    ///   the order of the leading minor that is not positive, or the first row whose
    ///   factor diagonal came out NaN or infinite (a non-finite input).
    /// - Complexity: O(n³/3).
    package static func factorInPlace(_ a: inout Matrix) throws(LinearAlgebraError) {
        _ = pinnedToOneThread
        precondition(a.isSquare, "Cholesky needs a square matrix, got \(a.rows)×\(a.columns)")
        let n = a.rows
        let info = a.withUnsafeMutableBufferPointer { buffer in
            LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, lapackUplo(.upper), Int32(n), buffer.baseAddress, Int32(max(1, n)))
        }
        if info > 0 {
            throw .notPositiveDefinite(info: info)
        }
        try check(info, routine: "dpotrf")
        // OpenBLAS's dpotrf, unlike reference LAPACK, lets NaN through (its test is
        // `ajj <= 0`). A NaN or infinity in the lower triangle always reaches the
        // diagonal of its row, so an O(n) scan restores the reference behaviour.
        let nonFinite: Int? = a.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<n {
                for j in (i + 1)..<n {
                    buffer[i * n + j] = 0
                }
            }
            return (0..<n).first { !buffer[$0 * n + $0].isFinite }
        }
        if let nonFinite {
            throw .notPositiveDefinite(info: Int32(nonFinite + 1))
        }
    }

    /// Overwrites `b` with x such that L·Lᵀ·x = b, given the factor L (LAPACK `dpotrs`).
    ///
    /// Allocates nothing. Only the lower triangle of `factor` is read.
    /// - Precondition: `factor` is square with `b.count` rows.
    /// - Complexity: O(n²).
    package static func solveInPlace(factor: Matrix, _ b: inout Vector) throws(LinearAlgebraError) {
        _ = pinnedToOneThread
        precondition(
            factor.isSquare && factor.rows == b.count,
            "Cholesky.solveInPlace: factor is \(factor.rows)×\(factor.columns), b has \(b.count) elements"
        )
        let n = Int32(b.count)
        let info = factor.withUnsafeBufferPointer { l in
            b.withUnsafeMutableBufferPointer { xs in
                LAPACKE_dpotrs_work(
                    LAPACK_COL_MAJOR, lapackUplo(.upper), n, 1, l.baseAddress, max(1, n), xs.baseAddress, max(1, n)
                )
            }
        }
        try check(info, routine: "dpotrs")
    }

    /// Replaces the factor L with A⁻¹ = (L·Lᵀ)⁻¹, as a full symmetric matrix (LAPACK `dpotri`).
    ///
    /// Allocates nothing. Only the lower triangle of `factor` is read on entry.
    /// - Precondition: `factor` is square.
    /// - Throws: `LinearAlgebraError.singular(info:)` if a diagonal element of L is zero.
    /// - Complexity: O(n³ × 2/3).
    package static func invertInPlace(_ factor: inout Matrix) throws(LinearAlgebraError) {
        _ = pinnedToOneThread
        precondition(factor.isSquare, "Cholesky.invertInPlace needs a square matrix, got \(factor.rows)×\(factor.columns)")
        let n = Int32(factor.rows)
        let info = factor.withUnsafeMutableBufferPointer { buffer in
            LAPACKE_dpotri_work(LAPACK_COL_MAJOR, lapackUplo(.upper), n, buffer.baseAddress, max(1, n))
        }
        if info > 0 {
            throw .singular(info: info)
        }
        try check(info, routine: "dpotri")
        factor.symmetrize(from: .lower)
    }
}

/// LAPACK's `uplo` character for a triangle.
private func lapackUplo(_ triangle: Triangle) -> CChar {
    CChar(truncatingIfNeeded: triangle == .lower ? UInt8(ascii: "L") : UInt8(ascii: "U"))
}

/// Throws for any nonzero `info` that the caller has not already handled.
private func check(_ info: Int32, routine: String) throws(LinearAlgebraError) {
    if info != 0 {
        throw .lapackFailure(routine: routine, info: info)
    }
}
