extension Kernels {
    /// Returns the dot product xᵀy with a plain Swift loop.
    ///
    /// Sums in four interleaved accumulators so the compiler can vectorize; the
    /// result may differ from `blasDot` in the last bits.
    /// - Precondition: `x.count == y.count`.
    /// - Complexity: O(n).
    public static func naiveDot(_ x: Vector, _ y: Vector) -> Double {
        checkSameCount(x, y, "dot")
        return x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                unrolledDot(xs, 0, ys, count: xs.count)
            }
        }
    }

    /// Computes y ← αx + y in place with a plain Swift loop.
    /// - Precondition: `x.count == y.count`.
    /// - Complexity: O(n).
    public static func naiveAxpy(alpha: Double, _ x: Vector, into y: inout Vector) {
        checkSameCount(x, y, "axpy")
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in
                for i in 0..<ys.count {
                    ys[i] += alpha * xs[i]
                }
            }
        }
    }

    /// Computes y ← α·op(A)·x + β·y in place with plain Swift loops.
    ///
    /// Same contract as `gemv(alpha:_:transposeA:_:beta:into:)`; `y` is not read when `beta` is zero.
    /// - Complexity: O(m × n).
    public static func naiveGemv(
        alpha: Double = 1, _ a: Matrix, transposeA: Bool = false, _ x: Vector, beta: Double = 0, into y: inout Vector
    ) {
        checkGemv(a, transposeA: transposeA, x, y)
        let m = a.rows
        let n = a.columns
        a.withUnsafeBufferPointer { As in
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    if transposeA {
                        scale(ys, by: beta)
                        for i in 0..<m {
                            let s = alpha * xs[i]
                            let row = i * n
                            for j in 0..<n {
                                ys[j] += s * As[row + j]
                            }
                        }
                    } else {
                        for i in 0..<m {
                            let product = alpha * unrolledDot(As, i * n, xs, count: n)
                            ys[i] = beta == 0 ? product : product + beta * ys[i]
                        }
                    }
                }
            }
        }
    }

    /// Computes A ← A + α·x·yᵀ in place with plain Swift loops.
    /// - Precondition: `a` is `x.count` × `y.count`.
    /// - Complexity: O(m × n).
    public static func naiveGer(alpha: Double = 1, _ x: Vector, _ y: Vector, into a: inout Matrix) {
        checkGer(x, y, a)
        let n = a.columns
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                a.withUnsafeMutableBufferPointer { As in
                    for i in 0..<xs.count {
                        let s = alpha * xs[i]
                        let row = i * n
                        for j in 0..<n {
                            As[row + j] += s * ys[j]
                        }
                    }
                }
            }
        }
    }

    /// Computes A ← A + α·x·xᵀ on `triangle` of A in place with plain Swift loops.
    ///
    /// Same contract as `syr(alpha:_:triangle:into:)`: the other triangle is not touched.
    /// - Complexity: O(n²).
    public static func naiveSyr(alpha: Double = 1, _ x: Vector, triangle: Triangle, into a: inout Matrix) {
        checkSyr(x, a)
        let n = a.columns
        x.withUnsafeBufferPointer { xs in
            a.withUnsafeMutableBufferPointer { As in
                for i in 0..<n {
                    let s = alpha * xs[i]
                    let row = i * n
                    let columns = triangle == .lower ? 0..<(i + 1) : i..<n
                    for j in columns {
                        As[row + j] += s * xs[j]
                    }
                }
            }
        }
    }

    /// Dot product of `count` elements of `a` starting at `offset` with the first `count` of `b`.
    @inline(__always)
    static func unrolledDot(
        _ a: UnsafeBufferPointer<Double>, _ offset: Int, _ b: UnsafeBufferPointer<Double>, count: Int
    ) -> Double {
        var s0 = 0.0
        var s1 = 0.0
        var s2 = 0.0
        var s3 = 0.0
        var j = 0
        while j + 4 <= count {
            s0 += a[offset + j] * b[j]
            s1 += a[offset + j + 1] * b[j + 1]
            s2 += a[offset + j + 2] * b[j + 2]
            s3 += a[offset + j + 3] * b[j + 3]
            j += 4
        }
        while j < count {
            s0 += a[offset + j] * b[j]
            j += 1
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// Sets y ← β·y, writing zeros without reading y when β is zero (as BLAS does).
    @inline(__always)
    static func scale(_ y: UnsafeMutableBufferPointer<Double>, by beta: Double) {
        if beta == 0 {
            y.update(repeating: 0)
        } else if beta != 1 {
            for j in 0..<y.count {
                y[j] *= beta
            }
        }
    }
}
