/// BLAS-level operations on `Vector` and `Matrix`, each writing into a preallocated output.
///
/// The hot level-1 and level-2 operations (`dot`, `axpy`, `gemv`, `ger`, `syr`) come
/// in three forms: `naiveX` is a plain Swift loop, `blasX` calls OpenBLAS through
/// CBLAS, and `x` picks one by dimension against `Crossover.x`. Below the crossover
/// OpenBLAS is dominated by call overhead; above it the tuned kernel wins. Both paths
/// are public so a benchmark can measure the crossover.
///
/// Outputs are `inout` and updated in place: no call allocates, provided the output's
/// storage is uniquely referenced. Dimension mismatches are programming errors and
/// stop the program with a precondition failure naming the dimensions.
public enum Kernels {
    /// The dimension at and above which the dispatching kernels call OpenBLAS.
    ///
    /// Measured by `Benchmarks/KernelBenchmarks` on the 2-core AMD EPYC VM (OpenBLAS 0.3.21,
    /// one thread), n ∈ {4, 8, 16, 24, 32, 48, 64, 96, 128, 256}: each value is the smallest n
    /// from which `blasX` beat `naiveX`, at that n and every larger one, in at least five of
    /// six runs. The figures are ns per call, naive vs BLAS (medians of the six runs), at the
    /// crossover and the size below it. Rerun the benchmark and update these on other hardware.
    enum Crossover {
        /// Vector length at which `dot` switches to `cblas_ddot`: 49 vs 36 ns at n = 256; a tie
        /// at 128 (25 vs 25 ns), and the naive loop wins below (13 vs 22 ns at 64).
        static let dot = 256
        /// Vector length at which `axpy` switches to `cblas_daxpy`: 53 vs 41 ns at n = 256; from
        /// 48 to 128 the two are within a few ns of each other, either way (32 vs 29 ns at 128).
        static let axpy = 256
        /// Larger matrix dimension at which `gemv` switches to `cblas_dgemv`: 85 vs 64 ns at
        /// n = 16, 34 vs 51 ns at 8.
        static let gemv = 16
        /// Larger matrix dimension at which `ger` switches to `cblas_dger`: 107 vs 96 ns at
        /// n = 16, 34 vs 64 ns at 8.
        static let ger = 16
        /// Matrix dimension at which `syr` switches to `cblas_dsyr`: 475 vs 437 ns at n = 48;
        /// a tie at 32 (226 vs 230 ns).
        static let syr = 48
    }

    /// Returns the dot product xᵀy, by the naive or BLAS path depending on `x.count`.
    /// - Precondition: `x.count == y.count`.
    /// - Complexity: O(n).
    public static func dot(_ x: Vector, _ y: Vector) -> Double {
        x.count >= Crossover.dot ? blasDot(x, y) : naiveDot(x, y)
    }

    /// Computes y ← αx + y in place, by the naive or BLAS path depending on `x.count`.
    /// - Precondition: `x.count == y.count`.
    /// - Complexity: O(n).
    public static func axpy(alpha: Double, _ x: Vector, into y: inout Vector) {
        if x.count >= Crossover.axpy {
            blasAxpy(alpha: alpha, x, into: &y)
        } else {
            naiveAxpy(alpha: alpha, x, into: &y)
        }
    }

    /// Computes y ← α·op(A)·x + β·y in place, where op(A) is A or Aᵀ.
    ///
    /// Uses BLAS when `max(a.rows, a.columns) >= Crossover.gemv`. When `beta` is zero,
    /// `y` is not read, so it may hold anything (even NaN).
    /// - Parameters:
    ///   - alpha: Scale of the product.
    ///   - a: An m × n matrix.
    ///   - transposeA: Whether to use Aᵀ instead of A.
    ///   - x: Length n (length m if `transposeA`).
    ///   - beta: Scale of the previous `y`.
    ///   - y: Length m (length n if `transposeA`); overwritten with the result.
    /// - Complexity: O(m × n).
    public static func gemv(
        alpha: Double = 1, _ a: Matrix, transposeA: Bool = false, _ x: Vector, beta: Double = 0, into y: inout Vector
    ) {
        if max(a.rows, a.columns) >= Crossover.gemv {
            blasGemv(alpha: alpha, a, transposeA: transposeA, x, beta: beta, into: &y)
        } else {
            naiveGemv(alpha: alpha, a, transposeA: transposeA, x, beta: beta, into: &y)
        }
    }

    /// Computes the rank-one update A ← A + α·x·yᵀ in place.
    ///
    /// Uses BLAS when `max(a.rows, a.columns) >= Crossover.ger`.
    /// - Precondition: `a` is `x.count` × `y.count`.
    /// - Complexity: O(m × n).
    public static func ger(alpha: Double = 1, _ x: Vector, _ y: Vector, into a: inout Matrix) {
        if max(a.rows, a.columns) >= Crossover.ger {
            blasGer(alpha: alpha, x, y, into: &a)
        } else {
            naiveGer(alpha: alpha, x, y, into: &a)
        }
    }

    /// Computes the symmetric rank-one update A ← A + α·x·xᵀ on one triangle of A, in place.
    ///
    /// Only `triangle` (diagonal included) is written; the other triangle is left as
    /// it was. That is all `Cholesky.factor` reads; call `Matrix.symmetrize(from:)` to
    /// get the full matrix, or pass x twice to `ger(alpha:_:_:into:)` to update both triangles.
    /// Uses BLAS when `a.rows >= Crossover.syr`.
    /// - Precondition: `a` is square with `x.count` rows.
    /// - Complexity: O(n²), about half the work of `ger`.
    static func syr(alpha: Double = 1, _ x: Vector, triangle: Triangle, into a: inout Matrix) {
        if a.rows >= Crossover.syr {
            blasSyr(alpha: alpha, x, triangle: triangle, into: &a)
        } else {
            naiveSyr(alpha: alpha, x, triangle: triangle, into: &a)
        }
    }
}

extension Kernels {
    static func checkSameCount(_ x: Vector, _ y: Vector, _ operation: StaticString) {
        precondition(x.count == y.count, "\(operation): vector lengths \(x.count) and \(y.count) differ")
    }

    static func checkGemv(_ a: Matrix, transposeA: Bool, _ x: Vector, _ y: Vector) {
        let (m, n) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        precondition(
            x.count == n && y.count == m,
            "gemv: op(A) is \(m)×\(n), so x needs \(n) and y needs \(m) elements; got x \(x.count), y \(y.count)"
        )
    }

    static func checkGer(_ x: Vector, _ y: Vector, _ a: Matrix) {
        precondition(
            a.rows == x.count && a.columns == y.count,
            "ger: A is \(a.rows)×\(a.columns) but x has \(x.count) and y has \(y.count) elements"
        )
    }

    static func checkSyr(_ x: Vector, _ a: Matrix) {
        precondition(
            a.isSquare && a.rows == x.count,
            "syr: A must be \(x.count)×\(x.count) to match x, got \(a.rows)×\(a.columns)"
        )
    }
}
