import AdLoadCore
import Foundation
import Networks
import Testing

@Suite("FastExp: the training's exponential")
struct FastExpTests {
    @Test("within 4 ulp of libm's exp from −708 to 709, on a fine grid and near the reduction's boundaries")
    func matchesLibm() {
        var points: [Double] = stride(from: -708.0, through: 709.0, by: 0.0137).map { $0 }
        let halfLn2 = log(2.0) / 2
        for k in -20...20 {
            for offset in [-1e-12, 0, 1e-12] { points.append((Double(k) + 0.5) * 2 * halfLn2 + offset) }
        }
        points += [0, -0, 1e-300, -1e-300, 1, -1, 709, -708]
        var worst = 0.0
        var worstAt = 0.0
        for x in points {
            let expected = exp(x)
            let error = abs(FastExp.exp(x) - expected) / expected.ulp
            if error > worst { (worst, worstAt) = (error, x) }
        }
        #expect(worst <= 4, "largest error \(worst) ulp at x = \(worstAt)")
    }

    @Test("0 below −708, infinity past the largest finite exponential, NaN for NaN, within 4 ulp just below it")
    func edges() {
        #expect(FastExp.exp(-709) == 0)
        #expect(FastExp.exp(-Double.infinity) == 0)
        #expect(FastExp.exp(710) == .infinity)
        #expect(FastExp.exp(.infinity) == .infinity)
        #expect(FastExp.exp(.nan).isNaN)
        for x in [709.5, 709.78] {
            #expect(abs(FastExp.exp(x) - exp(x)) / exp(x).ulp <= 4, "x = \(x)")
        }
    }

    @Test("the batched form gives the scalar form's bits, in range, at the edges and for NaN and infinities")
    func batchedMatchesScalar() {
        let random = CounterRandom(seed: 7, domain: 1)
        var values = (0..<1_003).map { -40 + 80 * random.uniform(UInt64($0)) }
        var edges: [Double] = [-708, -708.000001, 709.43, 709.4300001, 709.78, 710, .nan, .infinity, -.infinity, 0, -0.0, 1e-300]
        edges += (0..<8).map { -700 + Double($0) }
        for batch in [values, edges, Array(values.prefix(13)), Array(values.prefix(8)) + [-800], []] {
            var batched = batch
            batched.withUnsafeMutableBufferPointer { FastExp.exp($0) }
            for (x, y) in zip(batch, batched) {
                let expected = FastExp.exp(x)
                #expect(y.bitPattern == expected.bitPattern || (y.isNaN && expected.isNaN), "x = \(x): \(y) against \(expected)")
            }
        }
        values = values.map { $0 / 2 }
        var batched = values + [25, -25, 20, -20, .nan]
        let inputs = batched
        batched.withUnsafeMutableBufferPointer { MLP.tanh($0) }
        for (x, y) in zip(inputs, batched) {
            let expected = Self.tanh(x)
            #expect(y.bitPattern == expected.bitPattern || (y.isNaN && expected.isNaN), "tanh(\(x)): \(y) against \(expected)")
        }
    }

    /// tanh one value at a time, as the batched form defines it: saturated beyond |x| > 20,
    /// 1 − 2/(e^{2x} + 1) through the scalar `FastExp.exp` otherwise.
    static func tanh(_ x: Double) -> Double {
        if x > 20 { return 1 }
        if x < -20 { return -1 }
        return 1 - 2 / (FastExp.exp(2 * x) + 1)
    }
}
