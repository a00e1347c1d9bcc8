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
}
