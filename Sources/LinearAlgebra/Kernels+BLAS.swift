import COpenBLAS

extension Kernels {
    /// Returns the dot product xᵀy computed by `cblas_ddot`.
    /// - Precondition: `x.count == y.count`.
    /// - Complexity: O(n).
    public static func blasDot(_ x: Vector, _ y: Vector) -> Double {
        checkSameCount(x, y, "dot")
        _ = pinnedToOneThread
        return x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                cblas_ddot(blasInt(xs.count), xs.baseAddress, 1, ys.baseAddress, 1)
            }
        }
    }

    /// Computes y ← αx + y in place with `cblas_daxpy`.
    /// - Precondition: `x.count == y.count`.
    /// - Complexity: O(n).
    public static func blasAxpy(alpha: Double, _ x: Vector, into y: inout Vector) {
        checkSameCount(x, y, "axpy")
        _ = pinnedToOneThread
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in
                cblas_daxpy(blasInt(xs.count), alpha, xs.baseAddress, 1, ys.baseAddress, 1)
            }
        }
    }

    /// Computes y ← α·op(A)·x + β·y in place with `cblas_dgemv` (row-major).
    ///
    /// Same contract as `gemv(alpha:_:transposeA:_:beta:into:)`; `y` is not read when `beta` is zero.
    /// - Complexity: O(m × n).
    public static func blasGemv(
        alpha: Double = 1, _ a: Matrix, transposeA: Bool = false, _ x: Vector, beta: Double = 0, into y: inout Vector
    ) {
        checkGemv(a, transposeA: transposeA, x, y)
        _ = pinnedToOneThread
        a.withUnsafeBufferPointer { As in
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    cblas_dgemv(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                        blasInt(a.rows), blasInt(a.columns), alpha,
                        As.baseAddress, leadingDimension(a), xs.baseAddress, 1,
                        beta, ys.baseAddress, 1
                    )
                }
            }
        }
    }

    /// Computes A ← A + α·x·yᵀ in place with `cblas_dger` (row-major).
    /// - Precondition: `a` is `x.count` × `y.count`.
    /// - Complexity: O(m × n).
    public static func blasGer(alpha: Double = 1, _ x: Vector, _ y: Vector, into a: inout Matrix) {
        checkGer(x, y, a)
        _ = pinnedToOneThread
        let lda = leadingDimension(a)
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                a.withUnsafeMutableBufferPointer { As in
                    cblas_dger(
                        CblasRowMajor, blasInt(xs.count), blasInt(ys.count), alpha,
                        xs.baseAddress, 1, ys.baseAddress, 1, As.baseAddress, lda
                    )
                }
            }
        }
    }

    /// Computes A ← A + α·x·xᵀ on `triangle` of A in place with `cblas_dsyr` (row-major).
    ///
    /// Same contract as `syr(alpha:_:triangle:into:)`: the other triangle is not touched.
    /// - Complexity: O(n²).
    public static func blasSyr(alpha: Double = 1, _ x: Vector, triangle: Triangle, into a: inout Matrix) {
        checkSyr(x, a)
        _ = pinnedToOneThread
        let lda = leadingDimension(a)
        x.withUnsafeBufferPointer { xs in
            a.withUnsafeMutableBufferPointer { As in
                cblas_dsyr(CblasRowMajor, cblasUplo(triangle), blasInt(xs.count), alpha, xs.baseAddress, 1, As.baseAddress, lda)
            }
        }
    }

    /// Computes C ← α·op(A)·op(B) + β·C in place with `cblas_dgemm` (row-major).
    ///
    /// op(X) is X or Xᵀ. When `beta` is zero, `c` is not read. There is no naive
    /// path: gemm is for batched work (training over many observations at once).
    /// - Parameters:
    ///   - alpha: Scale of the product.
    ///   - a: op(A) must be m × k.
    ///   - transposeA: Whether to use Aᵀ.
    ///   - b: op(B) must be k × n.
    ///   - transposeB: Whether to use Bᵀ.
    ///   - beta: Scale of the previous `c`.
    ///   - c: An m × n matrix, overwritten with the result.
    /// - Complexity: O(m × n × k).
    package static func gemm(
        alpha: Double = 1, _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        beta: Double = 0, into c: inout Matrix
    ) {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        precondition(
            k == kb && c.rows == m && c.columns == n,
            "gemm: op(A) is \(m)×\(k), op(B) is \(kb)×\(n), C is \(c.rows)×\(c.columns)"
        )
        _ = pinnedToOneThread
        let ldc = leadingDimension(c)
        a.withUnsafeBufferPointer { As in
            b.withUnsafeBufferPointer { Bs in
                c.withUnsafeMutableBufferPointer { Cs in
                    cblas_dgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        blasInt(m), blasInt(n), blasInt(k), alpha,
                        As.baseAddress, leadingDimension(a), Bs.baseAddress, leadingDimension(b),
                        beta, Cs.baseAddress, ldc
                    )
                }
            }
        }
    }

    /// Solves op(A)·x = b in place for triangular A with `cblas_dtrsv` (row-major).
    ///
    /// On entry `x` holds b; on return it holds the solution. Only `triangle` of `a`
    /// is read. `cblas_dtrsv` does not test for singularity, so the diagonal is checked
    /// first (unless `unitDiagonal`): a zero throws instead of producing infinities.
    /// - Parameters:
    ///   - a: A square triangular matrix.
    ///   - triangle: Which triangle of `a` holds the matrix.
    ///   - transposeA: Whether to solve Aᵀ·x = b.
    ///   - unitDiagonal: Whether to assume ones on the diagonal without reading it.
    ///   - x: The right-hand side on entry, the solution on return.
    /// - Throws: `LinearAlgebraError.singular(info:)` with the 1-based index of the first zero diagonal element.
    /// - Complexity: O(n²).
    static func trsv(
        _ a: Matrix, triangle: Triangle, transposeA: Bool = false, unitDiagonal: Bool = false, solving x: inout Vector
    ) throws(LinearAlgebraError) {
        precondition(
            a.isSquare && a.rows == x.count,
            "trsv: A must be \(x.count)×\(x.count) to match x, got \(a.rows)×\(a.columns)"
        )
        let n = a.rows
        if !unitDiagonal {
            let zero: Int? = a.withUnsafeBufferPointer { As in
                (0..<n).first { As[$0 * n + $0] == 0 }
            }
            if let zero {
                throw .singular(info: Int32(zero + 1))
            }
        }
        uncheckedTrsv(a, triangle: triangle, transposeA: transposeA, unitDiagonal: unitDiagonal, solving: &x)
    }

    /// `trsv` without the dimension and diagonal checks, for factors known to be nonsingular.
    static func uncheckedTrsv(
        _ a: Matrix, triangle: Triangle, transposeA: Bool, unitDiagonal: Bool, solving x: inout Vector
    ) {
        _ = pinnedToOneThread
        let lda = leadingDimension(a)
        a.withUnsafeBufferPointer { As in
            x.withUnsafeMutableBufferPointer { xs in
                cblas_dtrsv(
                    CblasRowMajor, cblasUplo(triangle), transposeA ? CblasTrans : CblasNoTrans,
                    unitDiagonal ? CblasUnit : CblasNonUnit, blasInt(xs.count), As.baseAddress, lda, xs.baseAddress, 1
                )
            }
        }
    }

    /// Converts a dimension to CBLAS's `blasint` (a C `int` in Debian's OpenBLAS).
    @inline(__always)
    static func blasInt(_ value: Int) -> Int32 {
        Int32(value)
    }

    /// The row stride of a row-major matrix, at least 1 as BLAS requires even when empty.
    @inline(__always)
    static func leadingDimension(_ a: Matrix) -> Int32 {
        Int32(max(1, a.columns))
    }

    @inline(__always)
    static func cblasUplo(_ triangle: Triangle) -> CBLAS_UPLO {
        triangle == .lower ? CblasLower : CblasUpper
    }
}
