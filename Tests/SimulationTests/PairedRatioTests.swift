import AdLoadCore
import Foundation
@testable import Simulation
import Testing

@Suite("Paired ratios on common random numbers")
struct PairedRatioTests {
    @Test("a candidate that is an exact multiple of the reference gets that ratio with no width")
    func exactMultiple() throws {
        let reference = (1...50).map { Double($0) }
        let paired = try #require(PairedRatio(reference: reference, candidate: reference.map { 1.25 * $0 }))
        #expect(abs(paired.ratio - 1.25) < 1e-12 && paired.standardError < 1e-12)
        #expect(PairedRatio(reference: [0, 0, 0], candidate: [1, 2, 3]) == nil)
        #expect(PairedRatio(reference: [1, 2], candidate: [1]) == nil)
    }

    @Test("the 95% interval covers the true ratio about 95% of the time, and pairing narrows it")
    func coverage() {
        // Users with a shared, widely spread value (what common random numbers share) times a
        // known ratio, plus a small noise of each policy's own: true ratio 1.05.
        let trueRatio = 1.05
        var covered = 0
        var pairedWidth = 0.0, unpairedWidth = 0.0
        let replications = 400, users = 300
        for replication in 0..<replications {
            let random = CounterRandom(seed: 2024, domain: 1).child(UInt64(replication))
            var reference: [Double] = [], candidate: [Double] = []
            for user in 0..<users {
                let shared = exp(random.normal(UInt64(user) * 3))
                reference.append(shared * (1 + 0.1 * random.normal(UInt64(user) * 3 + 1)))
                candidate.append(trueRatio * shared * (1 + 0.1 * random.normal(UInt64(user) * 3 + 2)))
            }
            guard let paired = PairedRatio(reference: reference, candidate: candidate) else { continue }
            let (low, high) = paired.interval95
            if low <= trueRatio && trueRatio <= high { covered += 1 }
            pairedWidth += high - low
            func relativeError(_ values: [Double]) -> Double {
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
                return (variance / Double(values.count)).squareRoot() / mean
            }
            unpairedWidth += 2 * 1.96 * paired.ratio
                * (relativeError(reference) * relativeError(reference) + relativeError(candidate) * relativeError(candidate)).squareRoot()
        }
        let coverage = Double(covered) / Double(replications)
        #expect(coverage > 0.92 && coverage < 0.98, "coverage \(coverage)")
        #expect(pairedWidth < 0.5 * unpairedWidth, "paired \(pairedWidth / 400), unpaired \(unpairedWidth / 400)")
    }
}

@Suite("PairedDifference: paced − alternative, of a mean or a ratio of sums")
struct PairedDifferenceTests {
    @Test("the 95% interval of a ratio-of-sums difference covers the true difference about 95% of the time")
    func ratioCoverage() throws {
        // Per user: sessions s ~ 1 + Poisson-like, items a = r·s + noise, with r = 50 for the
        // reference and 52 for the candidate, sharing each user's sessions (common random numbers).
        let trueDifference = 2.0
        var covered = 0
        let replications = 400, users = 400
        for replication in 0..<replications {
            let random = CounterRandom(seed: 77, domain: 2).child(UInt64(replication))
            var reference: (numerators: [Double], denominators: [Double]) = ([], [])
            var candidate: (numerators: [Double], denominators: [Double]) = ([], [])
            for user in 0..<users {
                let base = UInt64(user) * 4
                let sessions = 1 + (20 * random.uniform(base)).rounded(.down)
                reference.denominators.append(sessions)
                candidate.denominators.append(sessions)
                reference.numerators.append(50 * sessions + 5 * sessions.squareRoot() * random.normal(base + 1))
                candidate.numerators.append(52 * sessions + 5 * sessions.squareRoot() * random.normal(base + 2))
            }
            let paired = try #require(PairedDifference(reference: reference, candidate: candidate))
            let (low, high) = paired.interval95
            if low <= trueDifference && trueDifference <= high { covered += 1 }
        }
        let coverage = Double(covered) / Double(replications)
        #expect(coverage > 0.92 && coverage < 0.98, "coverage \(coverage)")
    }

    @Test("a mean difference is exact with no spread, and its interval covers the truth about 95% of the time")
    func meanDifference() throws {
        let shifted = try #require(PairedDifference(reference: [1, 2, 3, 4], candidate: [1.5, 2.5, 3.5, 4.5]))
        #expect(shifted.difference == 0.5 && shifted.standardError == 0 && shifted.reference == 2.5)
        var covered = 0
        for replication in 0..<400 {
            let random = CounterRandom(seed: 78, domain: 2).child(UInt64(replication))
            let reference = (0..<300).map { random.uniform(UInt64($0) * 2) < 0.9 ? 1.0 : 0.0 }
            let candidate = reference.indices.map { reference[$0] == 1 && random.uniform(UInt64($0) * 2 + 1) < 0.05 ? 0.0 : reference[$0] }
            // The true difference is −0.9·0.05 = −0.045.
            let paired = try #require(PairedDifference(reference: reference, candidate: candidate))
            if paired.interval95.low <= -0.045 && -0.045 <= paired.interval95.high { covered += 1 }
        }
        #expect(Double(covered) / 400 > 0.92 && Double(covered) / 400 < 0.98, "coverage \(Double(covered) / 400)")
        #expect(PairedDifference(reference: [1], candidate: [1]) == nil)
        #expect(PairedDifference(reference: ([1, 2], [0, 0]), candidate: ([1, 2], [1, 1])) == nil)
    }
}
