@testable import AdLoadCore
import Foundation
import Testing

@Suite("Counter-based random numbers")
struct CounterRandomTests {
    @Test("the same key and counter always give the same number; keys and domains separate streams")
    func reproducible() {
        let a = CounterRandom(seed: 7, domain: 1)
        let b = CounterRandom(seed: 7, domain: 1)
        #expect((0..<100).map { a.bits($0) } == (0..<100).map { b.bits($0) })
        #expect(a.bits(0) != CounterRandom(seed: 7, domain: 2).bits(0))
        #expect(a.bits(0) != CounterRandom(seed: 8, domain: 1).bits(0))
        #expect(a.child(1).bits(0) != a.child(2).bits(0))
    }

    @Test("uniforms lie in (0, 1) with mean 1/2 and variance 1/12")
    func uniformMoments() {
        let random = CounterRandom(seed: 1, domain: 9)
        let n = 200_000
        var sum = 0.0, squares = 0.0
        for counter in 0..<UInt64(n) {
            let u = random.uniform(counter)
            #expect(u > 0 && u < 1)
            sum += u
            squares += u * u
        }
        let mean = sum / Double(n)
        // Standard error of the mean is (1/12 / n)^(1/2) ≈ 6.5e-4: allow 4 of them.
        #expect(abs(mean - 0.5) < 4 * (1.0 / 12 / Double(n)).squareRoot())
        #expect(abs(squares / Double(n) - mean * mean - 1.0 / 12) < 0.002)
    }

    @Test("normals have mean 0, variance 1 and the right tail mass")
    func normalMoments() {
        let random = CounterRandom(seed: 2, domain: 9)
        let n = 200_000
        var sum = 0.0, squares = 0.0, beyond2 = 0
        for counter in 0..<UInt64(n) {
            let z = random.normal(counter)
            sum += z
            squares += z * z
            if abs(z) > 2 { beyond2 += 1 }
        }
        #expect(abs(sum / Double(n)) < 4 / Double(n).squareRoot())
        #expect(abs(squares / Double(n) - 1) < 0.015)
        // P(|Z| > 2) = 0.0455; binomial standard error ≈ 4.7e-4.
        #expect(abs(Double(beyond2) / Double(n) - 0.0455) < 0.002)
    }

    @Test("the inverse normal CDF matches known quantiles within its documented 2e-6")
    func quantiles() {
        let known: [(Double, Double)] = [(0.5, 0), (0.975, 1.959963984540054), (0.025, -1.959963984540054),
                                         (0.001, -3.090232306167813), (0.8413447460685429, 1.0)]
        for (p, z) in known {
            #expect(abs(CounterRandom.inverseNormalCDF(p) - z) < 2e-6, "quantile at \(p)")
        }
    }
}

@Suite("Behaviour history")
struct BehaviourHistoryTests {
    @Test("rolling counts decay with 7- and 30-day time constants")
    func decay() {
        var history = BehaviourHistory()
        #expect(history.daysSinceLastVisit(at: 3) == nil)
        history.record(time: 0, items: 10, ads: 2, clicks: 1, negatives: 0, dwell: 100, endedOnAd: false)
        history.record(time: 7, items: 20, ads: 2, clicks: 0, negatives: 1, dwell: 100, endedOnAd: false)
        #expect(abs(history.week.items - (10 * exp(-1) + 20)) < 1e-12)
        #expect(abs(history.month.ads - (2 * exp(-7.0 / 30) + 2)) < 1e-12)
        #expect(history.daysSinceLastVisit(at: 9.5) == 2.5)
        #expect(history.totalSessions == 2)
        #expect(abs(history.recentCTR - exp(-7.0 / 30) / (2 * exp(-7.0 / 30) + 2)) < 1e-12)
        #expect(abs(history.recentDwell - (0.8 * 10 + 0.2 * 5)) < 1e-12)
    }

    @Test("ad aversion: negatives and sessions ended on an ad per ad over 90 days, shrunk to 4 in 100")
    func adAversion() {
        var history = BehaviourHistory()
        #expect(history.adAversion == 0)
        history.record(time: 0, items: 10, ads: 0, clicks: 0, negatives: 0, dwell: 100, endedOnAd: true)
        #expect(history.adReactions == BehaviourHistory.AdReactions(), "a session without ads cannot end on one")
        history.record(time: 1, items: 30, ads: 3, clicks: 0, negatives: 2, dwell: 300, endedOnAd: true)
        history.record(time: 10, items: 40, ads: 4, clicks: 1, negatives: 0, dwell: 400, endedOnAd: false)
        let factor = exp(-9.0 / 90)
        #expect(abs(history.adReactions.ads - (3 * factor + 4)) < 1e-12)
        #expect(abs(history.adReactions.reactions - 3 * factor) < 1e-12)
        let expected = log((3 * factor + 4) / (3 * factor + 4 + 100)) - log(0.04)
        #expect(abs(history.adAversion - expected) < 1e-12)
        // Many ads with no reaction push it down, many reactions up; the prior bounds one event's effect.
        var calm = BehaviourHistory(), averse = BehaviourHistory(), once = BehaviourHistory()
        for day in 0..<60 {
            calm.record(time: Double(day), items: 50, ads: 4, clicks: 0, negatives: 0, dwell: 500, endedOnAd: false)
            averse.record(time: Double(day), items: 20, ads: 4, clicks: 0, negatives: 1, dwell: 200, endedOnAd: day % 2 == 0)
        }
        once.record(time: 0, items: 20, ads: 4, clicks: 0, negatives: 1, dwell: 200, endedOnAd: false)
        #expect(calm.adAversion < -1 && averse.adAversion > 1.5)
        #expect(abs(once.adAversion - log(5.0 / 104 / 0.04)) < 1e-12)
    }
}
