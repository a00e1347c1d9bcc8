/// The exponential without a call into libm, for the training's inner loops: glibc's `exp`
/// was a fifth of a policy-gradient run (every tanh unit and every softmax weight of every
/// sample in every epoch).
///
/// exp(x) = 2^k · exp(r) with k = round(x / ln 2) and |r| ≤ ln 2 / 2 (Cody–Waite reduction,
/// fdlibm's split of ln 2), and exp(r) by its Taylor polynomial of degree 13 (truncation below
/// 5e-18), so the result is within a few units in the last place of the true value. The
/// body is straight-line arithmetic that the compiler inlines and can interleave or
/// vectorize across a loop (`@inlinable`, so it does so in other modules too).
package enum FastExp {
    /// e^x: within a few ulp on [−708, 709.78]; 0 below (where e^x is subnormal or smaller,
    /// which a softmax weight or a saturated tanh does not notice), infinity above, NaN for NaN.
    @inlinable @inline(__always)
    package static func exp(_ x: Double) -> Double {
        guard x >= -708, x <= 709.782712893384 else { return x.isNaN ? x : (x < -708 ? 0 : .infinity) }
        let k = (x * 1.4426950408889634).rounded(.toNearestOrEven)  // one instruction; `rounded()` calls libm
        let r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
        var p = 1.0 / 6_227_020_800  // 1/13!
        p = p * r + 1.0 / 479_001_600
        p = p * r + 1.0 / 39_916_800
        p = p * r + 1.0 / 3_628_800
        p = p * r + 1.0 / 362_880
        p = p * r + 1.0 / 40_320
        p = p * r + 1.0 / 5_040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^k in two factors when k = 1024 (x above 709.43), which has no Double of its own.
        let high = min(k, 1023)
        return p * Double(bitPattern: UInt64(Int64(high) + 1023) << 52) * (k > 1023 ? 2 : 1)
    }
}
