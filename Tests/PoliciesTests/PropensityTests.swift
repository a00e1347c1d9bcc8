import AdLoadCore
@testable import Policies
import Testing

/// The probabilities a bandit reports: they form a distribution, `decide` reports the entry of
/// its choice, and the choices it makes follow that distribution.
@Suite("Propensities: reported probabilities match the choices")
struct PropensityTests {
    static let algorithms: [BanditAlgorithm] = [
        .linUCB(alpha: 1, explorationFloor: 0.1),
        .thompson(scale: 1, propensitySamples: 50),
        .epsilonGreedy(epsilon: 0.2),
        .softmax(temperature: 0.5),
        .softmax(temperature: 0.05, explorationFloor: 0.2),
    ]

    @Test("π sums to one, decide reports π of its choice, and the same stream gives the same choice", arguments: algorithms)
    func distribution(algorithm: BanditAlgorithm) throws {
        var random = TestRandom(seed: 0x5E7 &+ UInt64(algorithm.name.utf8.count))
        var probabilities: [Double] = []
        for state in 0..<40 {
            let nc = 2 + random.index(below: 6)
            let nq = 2 + random.index(below: 3)
            let bandit = try trainedBandit(
                contextCount: nc, descriptorCount: nq, algorithm: algorithm, updates: state * 5, using: &random)
            var scratch = bandit.makeScratch(maxCandidates: 4)
            for _ in 0..<5 {
                let c = randomContext(nc, using: &random)
                let k = 1 + random.index(below: 30)
                var descriptors = randomDescriptors(candidates: k, descriptorCount: nq, using: &random)
                if k > 2 {
                    // An exact tie: candidate 1 repeated at the end.
                    descriptors.replaceSubrange(((k - 1) * nq)..<(k * nq), with: descriptorRow(descriptors, 1, count: nq))
                }
                let stream = random.stream()
                let choice = bandit.decide(context: c, descriptors: descriptors, random: stream, scratch: &scratch)
                bandit.probabilities(context: c, descriptors: descriptors, random: stream, scratch: &scratch, into: &probabilities)

                try #require(probabilities.count == k)
                #expect(abs(probabilities.reduce(0, +) - 1) <= 1e-12)
                #expect(probabilities.allSatisfy { $0 >= 0 && $0 <= 1 })
                #expect(choice.probability > 0 && choice.probability <= 1)
                switch algorithm {
                case let .thompson(_, samples):
                    // (wins + 1)/(M + 1) over the same M draws that `probabilities` counts (wins/M).
                    #expect(choice.propensityKind == .estimated(samples: samples))
                    let wins = probabilities[choice.index] * Double(samples)
                    #expect(abs(choice.probability - (wins + 1) / Double(samples + 1)) <= 1e-12)
                default:
                    #expect(choice.propensityKind == .exact)
                    #expect(choice.probability == probabilities[choice.index])
                }
                let again = bandit.decide(context: c, descriptors: descriptors, random: stream, scratch: &scratch)
                #expect(again == choice)
            }
        }
    }

    @Test("an untrained bandit spreads the greedy mass over the exact ties")
    func ties() throws {
        var scratch = BanditScratch(contextCount: 3, descriptorCount: 2, maxCandidates: 5)
        var probabilities: [Double] = []
        let c = [1.0, 0.5, -2]
        let descriptors = [1.0, 0.1, 1, 0.2, 1, 0.3, 1, 0.4, 1, 0.5]
        let greedy = try LinearBandit(contextCount: 3, descriptorCount: 2, algorithm: .epsilonGreedy(epsilon: 0.1))
        greedy.probabilities(context: c, descriptors: descriptors, random: CounterRandom(key: 1), scratch: &scratch, into: &probabilities)
        #expect(probabilities.allSatisfy { abs($0 - 0.2) <= 1e-15 })

        // LinUCB at A = λI: the widths ∝ ‖q‖ differ, so only the last candidate is the argmax.
        let ucb = try LinearBandit(contextCount: 3, descriptorCount: 2, algorithm: .linUCB(alpha: 1, explorationFloor: 0.1))
        ucb.probabilities(context: c, descriptors: descriptors, random: CounterRandom(key: 1), scratch: &scratch, into: &probabilities)
        #expect(abs(probabilities[4] - (0.9 + 0.02)) <= 1e-15)
        #expect(probabilities[0..<4].allSatisfy { abs($0 - 0.02) <= 1e-15 })
    }

    /// A bandit in a state where most candidates have a non-trivial probability, its context,
    /// and ten candidates of which the last repeats the most probable one (an exact tie at the top).
    static func spreadState(algorithm: BanditAlgorithm, seed: UInt64) throws -> (LinearBandit, [Double], [Double]) {
        var random = TestRandom(seed: seed)
        let bandit = try trainedBandit(contextCount: 5, descriptorCount: 4, algorithm: algorithm, updates: 40, using: &random)
        let c = randomContext(5, using: &random)
        var descriptors = randomDescriptors(candidates: 9, descriptorCount: 4, using: &random)
        var scratch = bandit.makeScratch(maxCandidates: 10)
        var probabilities: [Double] = []
        bandit.probabilities(context: c, descriptors: descriptors, random: CounterRandom(key: 3), scratch: &scratch, into: &probabilities)
        let top = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
        descriptors += descriptorRow(descriptors, top, count: 4)
        return (bandit, c, descriptors)
    }

    /// Pearson's test at the 0.1% level, df = cells − 1 (cells with expected count < 5 pooled).
    @Test(
        "choice frequencies of the exact algorithms pass a chi-square goodness-of-fit test against π",
        arguments: [
            BanditAlgorithm.linUCB(alpha: 1, explorationFloor: 0.4),
            .epsilonGreedy(epsilon: 0.5),
            .softmax(temperature: 0.3),
            .softmax(temperature: 0.3, explorationFloor: 0.3),
        ])
    func exactFrequencies(algorithm: BanditAlgorithm) throws {
        let (bandit, c, descriptors) = try Self.spreadState(algorithm: algorithm, seed: 0xC4151)
        var scratch = bandit.makeScratch(maxCandidates: 10)
        var expected: [Double] = []
        bandit.probabilities(context: c, descriptors: descriptors, random: CounterRandom(key: 0), scratch: &scratch, into: &expected)
        // The state must be informative: no candidate has more than 90% of the mass.
        try #require(expected.max() ?? 1 < 0.9)

        let draws = 20_000
        let root = CounterRandom(seed: 0xD2A5, domain: 1)
        var counts = [Int](repeating: 0, count: expected.count)
        for draw in 0..<draws {
            let choice = bandit.decide(context: c, descriptors: descriptors, random: root.child(UInt64(draw)), scratch: &scratch)
            counts[choice.index] += 1
            #expect(choice.probability == expected[choice.index])
        }
        let test = chiSquare(observed: counts, expected: expected)
        let critical = chiSquareCritical(degrees: test.degrees, upperTailZ: zForOneInAThousand)
        #expect(test.statistic <= critical, "χ² = \(test.statistic) with \(test.degrees) df, critical \(critical); counts \(counts), π \(expected)")
    }

    /// Thompson's choices come from one draw in the full d-space (θ̃ = θ + v·L⁻ᵀz), its
    /// probabilities from draws of w̃ = Θ̃ᵀc in the |q|-space; the two must be the same
    /// distribution. The reference π is itself estimated from M = 100 000 draws, so the
    /// Pearson statistic of N choices against it is (1 + N/M)·χ² distributed (two-sample
    /// homogeneity); the criterion divides by that factor and tests at the 0.1% level. The
    /// estimated propensity `decide` reports with 2 000 samples must be within five standard
    /// errors of the reference.
    @Test("Thompson choice frequencies match its estimated probabilities")
    func thompsonFrequencies() throws {
        let (bandit, c, descriptors) = try Self.spreadState(algorithm: .thompson(scale: 1.5, propensitySamples: 1), seed: 0x7505)
        var scratch = bandit.makeScratch(maxCandidates: 10)
        let referenceSamples = 100_000
        let reference = try bandit.with(algorithm: .thompson(scale: 1.5, propensitySamples: referenceSamples))
        var expected: [Double] = []
        reference.probabilities(context: c, descriptors: descriptors, random: CounterRandom(key: 9), scratch: &scratch, into: &expected)
        try #require(expected.max() ?? 1 < 0.9)

        let draws = 20_000
        let root = CounterRandom(seed: 0x7A5, domain: 2)
        var counts = [Int](repeating: 0, count: expected.count)
        for draw in 0..<draws {
            counts[bandit.decide(context: c, descriptors: descriptors, random: root.child(UInt64(draw)), scratch: &scratch).index] += 1
        }
        let test = chiSquare(observed: counts, expected: expected)
        let inflation = 1 + Double(draws) / Double(referenceSamples)
        let critical = chiSquareCritical(degrees: test.degrees, upperTailZ: zForOneInAThousand)
        #expect(test.statistic / inflation <= critical, "χ² = \(test.statistic) with \(test.degrees) df; counts \(counts), π̂ \(expected)")

        let estimating = try bandit.with(algorithm: .thompson(scale: 1.5, propensitySamples: 2000))
        for draw in 0..<20 {
            let choice = estimating.decide(context: c, descriptors: descriptors, random: root.child(UInt64(draws + draw)), scratch: &scratch)
            let p = expected[choice.index]
            let standardError = (p * (1 - p) / 2000).squareRoot()
            #expect(abs(choice.probability - p) <= 5 * standardError + 1.0 / 2001, "reported \(choice.probability), reference \(p)")
        }
    }
}
