/// The scoring kernels that exploit φ = c ⊗ q.
///
/// With θ reshaped as the |c| × |q| matrix Θ (element (i, j) is θ[i·|q| + j]):
/// - the mean of candidate k is θᵀ(c ⊗ q_k) = q_kᵀ·w with w = Θᵀc, O(d) once and O(|q|) per candidate;
/// - the variance is (c ⊗ q_k)ᵀA⁻¹(c ⊗ q_k) = q_kᵀ·G·q_k with G = Cᵀ·A⁻¹·C, where C is the
///   d × |q| matrix with C[(i, j), l] = c_i·δ_jl: O(d²) once and O(|q|²) per candidate;
/// - under a posterior draw θ̃ ~ N(θ, v²A⁻¹), w̃ = Θ̃ᵀc = Cᵀθ̃ is exactly N(w, v²G), so a
///   Thompson score vector can be drawn in O(|q|²) once G is known.
/// Zero context features (one-hot categories) are skipped, which makes G cheaper still.
enum KroneckerScoring {
    /// w = Θᵀc, written to `weights` (length |q|).
    /// - Complexity: O(d).
    static func contextWeights(
        theta: UnsafeBufferPointer<Double>, context: UnsafeMutableBufferPointer<Double>,
        into weights: UnsafeMutableBufferPointer<Double>
    ) {
        let nq = weights.count
        weights.update(repeating: 0)
        for i in 0..<context.count {
            let ci = context[i]
            if ci == 0 { continue }
            let row = i * nq
            for j in 0..<nq {
                weights[j] += ci * theta[row + j]
            }
        }
    }

    /// G = Cᵀ·A⁻¹·C, written row-major to `gram` (|q| × |q|); `partial` (length |q|) is workspace.
    ///
    /// G[j, l] = Σ_i c_i Σ_m c_m A⁻¹[(i, j), (m, l)]: for each row (i, j) of A⁻¹ with c_i ≠ 0,
    /// the inner sum walks the row once, contiguously.
    /// - Complexity: O(d²) (O(nnz(c)²·|q|²) for a sparse c).
    static func contextGram(
        inverse: UnsafeBufferPointer<Double>, context: UnsafeMutableBufferPointer<Double>,
        partial: UnsafeMutableBufferPointer<Double>, into gram: UnsafeMutableBufferPointer<Double>
    ) {
        let nc = context.count
        let nq = partial.count
        let d = nc * nq
        gram.update(repeating: 0)
        if nq == 4 {
            contextGram4(inverse: inverse, context: context, dimension: d, into: gram)
            return
        }
        for i in 0..<nc {
            let ci = context[i]
            if ci == 0 { continue }
            for j in 0..<nq {
                let row = (i * nq + j) * d
                partial.update(repeating: 0)
                for m in 0..<nc {
                    let cm = context[m]
                    if cm == 0 { continue }
                    let base = row + m * nq
                    for l in 0..<nq {
                        partial[l] += cm * inverse[base + l]
                    }
                }
                for l in 0..<nq {
                    gram[j * nq + l] += ci * partial[l]
                }
            }
        }
    }

    /// `contextGram` for |q| = 4 (the plan descriptors), with one SIMD lane per descriptor.
    private static func contextGram4(
        inverse: UnsafeBufferPointer<Double>, context: UnsafeMutableBufferPointer<Double>, dimension d: Int,
        into gram: UnsafeMutableBufferPointer<Double>
    ) {
        let nc = context.count
        var rows = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())
        for i in 0..<nc {
            let ci = context[i]
            if ci == 0 { continue }
            var partial = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())
            for m in 0..<nc {
                let cm = context[m]
                if cm == 0 { continue }
                let base = i * 4 * d + m * 4
                partial.0 += cm * load4(inverse, base)
                partial.1 += cm * load4(inverse, base + d)
                partial.2 += cm * load4(inverse, base + 2 * d)
                partial.3 += cm * load4(inverse, base + 3 * d)
            }
            rows.0 += ci * partial.0
            rows.1 += ci * partial.1
            rows.2 += ci * partial.2
            rows.3 += ci * partial.3
        }
        for l in 0..<4 {
            gram[l] = rows.0[l]
            gram[4 + l] = rows.1[l]
            gram[8 + l] = rows.2[l]
            gram[12 + l] = rows.3[l]
        }
    }

    @inline(__always)
    private static func load4(_ buffer: UnsafeBufferPointer<Double>, _ offset: Int) -> SIMD4<Double> {
        SIMD4(buffer[offset], buffer[offset + 1], buffer[offset + 2], buffer[offset + 3])
    }

    /// mean_k = q_kᵀ·w for the first `count` descriptor rows.
    /// - Complexity: O(K·|q|).
    static func means(
        descriptors: UnsafeMutableBufferPointer<Double>, weights: UnsafeMutableBufferPointer<Double>, count: Int,
        into means: UnsafeMutableBufferPointer<Double>
    ) {
        let nq = weights.count
        for k in 0..<count {
            var sum = 0.0
            for j in 0..<nq {
                sum += descriptors[k * nq + j] * weights[j]
            }
            means[k] = sum
        }
    }

    /// width_k = √(q_kᵀ·G·q_k), clamped at zero against rounding.
    /// - Complexity: O(K·|q|²).
    static func widths(
        descriptors: UnsafeMutableBufferPointer<Double>, gram: UnsafeMutableBufferPointer<Double>, descriptorCount nq: Int,
        count: Int, into widths: UnsafeMutableBufferPointer<Double>
    ) {
        for k in 0..<count {
            let q = k * nq
            var variance = 0.0
            for j in 0..<nq {
                var row = 0.0
                for l in 0..<nq {
                    row += gram[j * nq + l] * descriptors[q + l]
                }
                variance += descriptors[q + j] * row
            }
            widths[k] = max(0, variance).squareRoot()
        }
    }

    /// The index of the largest of the first `count` scores; the lowest index among exact ties.
    /// - Complexity: O(K).
    static func argmax(_ scores: UnsafeMutableBufferPointer<Double>, count: Int) -> Int {
        var best = 0
        for k in 1..<max(1, count) where scores[k] > scores[best] {
            best = k
        }
        return best
    }

    /// Overwrites `x` (holding z) with U⁻¹z for the upper-triangular row-major U = Lᵀ: a
    /// draw with covariance (L·Lᵀ)⁻¹ = A⁻¹ when z is standard normal.
    /// - Complexity: O(d²/2).
    static func solveUpper(_ upper: UnsafeBufferPointer<Double>, _ x: UnsafeMutableBufferPointer<Double>) {
        let n = x.count
        var i = n - 1
        while i >= 0 {
            let row = i * n
            var sum = x[i]
            for j in (i + 1)..<n {
                sum -= upper[row + j] * x[j]
            }
            x[i] = sum / upper[row + i]
            i -= 1
        }
    }

    /// The lower Cholesky factor of the positive semi-definite |q| × |q| matrix `gram`.
    ///
    /// A pivot at or below 1e-13 of the largest diagonal element is treated as zero, with its
    /// column zeroed, so a singular G (c = 0) gives a draw along its range instead of NaN.
    /// - Complexity: O(|q|³).
    static func semidefiniteCholesky(
        _ gram: UnsafeMutableBufferPointer<Double>, descriptorCount n: Int, into factor: UnsafeMutableBufferPointer<Double>
    ) {
        factor.update(repeating: 0)
        var largest = 0.0
        for j in 0..<n {
            largest = max(largest, gram[j * n + j])
        }
        let threshold = largest * 1e-13
        for j in 0..<n {
            var pivot = gram[j * n + j]
            for k in 0..<j {
                pivot -= factor[j * n + k] * factor[j * n + k]
            }
            guard pivot > threshold else { continue }
            let diagonal = pivot.squareRoot()
            factor[j * n + j] = diagonal
            for i in (j + 1)..<n {
                var sum = gram[i * n + j]
                for k in 0..<j {
                    sum -= factor[i * n + k] * factor[j * n + k]
                }
                factor[i * n + j] = sum / diagonal
            }
        }
    }
}
