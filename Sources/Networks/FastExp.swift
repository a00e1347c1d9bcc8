/// The exponential without a call into libm, for the training's inner loops: glibc's `exp`
/// was a fifth of a policy-gradient run (every tanh unit and every softmax weight of every
/// sample in every epoch).
///
/// exp(x) = 2^k · exp(r) with k = round(x / ln 2) and |r| ≤ ln 2 / 2 (Cody–Waite reduction,
/// fdlibm's split of ln 2), and exp(r) by its Taylor polynomial of degree 13 (truncation below
/// 5e-18, Estrin's scheme), so the result is within a few units in the last place of the true value. The
/// body is straight-line arithmetic that the compiler inlines and can interleave or
/// vectorize across a loop (`@inlinable`, so it does so in other modules too).
package enum FastExp {
    /// e^x: within a few ulp on [−708, 709.78]; 0 below (where e^x is subnormal or smaller,
    /// which a softmax weight or a saturated tanh does not notice), infinity above, NaN for NaN.
    @inlinable @inline(__always)
    package static func exp(_ x: Double) -> Double {
        guard x >= -708, x <= 709.782712893384 else { return x.isNaN ? x : (x < -708 ? 0 : .infinity) }
        // k = round-half-even(x / ln 2) by adding and subtracting 1.5·2^52: exact for |k| < 2^51,
        // and branch-free (`rounded(.toNearestOrEven)` compiles to a call of libm's `rint` on
        // baseline x86-64). The sum's low mantissa bits are k itself, which gives 2^k below.
        let shifted = x * 1.4426950408889634 + 6_755_399_441_055_744.0
        let k = shifted - 6_755_399_441_055_744.0
        let r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
        // One lane of the vector form: the same operations, so the same bits as a batch.
        let p = polynomial(SIMD2(repeating: r))[0]
        let exponent = Int64(bitPattern: shifted.bitPattern) &- 0x4338_0000_0000_0000  // k as an integer
        let high = min(exponent, 1023)
        return p * Double(bitPattern: UInt64(bitPattern: (high &+ 1023) &<< 52)) * (exponent > 1023 ? 2 : 1)
    }

    /// e^x of every element of `values`, in place, with exactly the results of ``exp(_:)``.
    ///
    /// When every element lies in [−708, 709.43] (where the scalar version takes neither
    /// of its special branches) the elements go through the same arithmetic two at a time,
    /// four pairs interleaved, so that independent chains of multiply-adds keep the FPU busy.
    /// Otherwise (or for the last few elements) each goes through ``exp(_:)``.
    @inlinable
    package static func exp(_ values: UnsafeMutableBufferPointer<Double>) {
        let count = values.count
        guard let base = values.baseAddress else { return }
        var inRange = true
        for x in values where !(x >= -708 && x <= 709.43) {
            inRange = false
            break
        }
        var index = 0
        if inRange {
            let raw = UnsafeMutableRawPointer(base)
            while index + 8 <= count {
                let offset = index * MemoryLayout<Double>.stride
                let a = raw.loadUnaligned(fromByteOffset: offset, as: SIMD2<Double>.self)
                let b = raw.loadUnaligned(fromByteOffset: offset + 16, as: SIMD2<Double>.self)
                let c = raw.loadUnaligned(fromByteOffset: offset + 32, as: SIMD2<Double>.self)
                let d = raw.loadUnaligned(fromByteOffset: offset + 48, as: SIMD2<Double>.self)
                raw.storeBytes(of: pair(a), toByteOffset: offset, as: SIMD2<Double>.self)
                raw.storeBytes(of: pair(b), toByteOffset: offset + 16, as: SIMD2<Double>.self)
                raw.storeBytes(of: pair(c), toByteOffset: offset + 32, as: SIMD2<Double>.self)
                raw.storeBytes(of: pair(d), toByteOffset: offset + 48, as: SIMD2<Double>.self)
                index += 8
            }
        }
        while index < count {
            values[index] = exp(values[index])
            index += 1
        }
    }

    /// ``exp(_:)``'s arithmetic on two values in [−708, 709.43] (no special cases, and 2^k is
    /// one factor since k ≤ 1023).
    @inlinable @inline(__always)
    static func pair(_ x: SIMD2<Double>) -> SIMD2<Double> {
        let magic = SIMD2<Double>(repeating: 6_755_399_441_055_744.0)
        let shifted = x * 1.4426950408889634 + magic
        let k = shifted - magic
        let r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
        let p = polynomial(r)
        let exponent = unsafeBitCast(shifted, to: SIMD2<Int64>.self) &- SIMD2<Int64>(repeating: 0x4338_0000_0000_0000)
        return p * unsafeBitCast((exponent &+ 1023) &<< 52, to: SIMD2<Double>.self)
    }

    /// exp(r) for |r| ≤ ln 2 / 2 by its Taylor polynomial of degree 13, in Estrin's scheme:
    /// pairs of terms, then pairs of pairs with r², r⁴ and r⁸, a dependency chain of about 8
    /// operations where Horner's rule has 26 (the exponential's cost was that chain's latency).
    @inlinable @inline(__always)
    static func polynomial(_ r: SIMD2<Double>) -> SIMD2<Double> {
        let r2 = r * r, r4 = r2 * r2, r8 = r4 * r4
        let q0 = 1 + r
        let q1 = 0.5 + r * (1.0 / 6)
        let q2 = 1.0 / 24 + r * (1.0 / 120)
        let q3 = 1.0 / 720 + r * (1.0 / 5_040)
        let q4 = 1.0 / 40_320 + r * (1.0 / 362_880)
        let q5 = 1.0 / 3_628_800 + r * (1.0 / 39_916_800)
        let q6 = 1.0 / 479_001_600 + r * (1.0 / 6_227_020_800)
        let s0 = q0 + q1 * r2, s1 = q2 + q3 * r2, s2 = q4 + q5 * r2
        let t0 = s0 + s1 * r4, t1 = s2 + q6 * r4
        return t0 + t1 * r8
    }
}
