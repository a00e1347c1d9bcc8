@testable import AdLoadCore
@testable import LinearAlgebra
@testable import Policies
import Testing

/// Scores computed with the Kronecker structure (w = Θᵀc, G = Cᵀ·A⁻¹·C) against the same
/// quantities computed on the full φ = c ⊗ q by plain loops.
///
/// Shapes cover the |q| = 4 SIMD path (16 × 4 = the production d = 64, and 3 × 4) and the
/// generic path (6 × 3, 5 × 5), with contexts that mix zeros (skipped by the kernels) and
/// dense values. Tolerance: 1e-10 relative to the largest score; the two computations only
/// sum in different orders (d ≤ 64 terms of size ≤ 1e2).
@Suite("Kronecker scoring equals scoring on the full φ")
struct KroneckerScoringTests {
    static let shapes = [(16, 4), (3, 4), (6, 3), (5, 5)]

    @Test("means θᵀφ and widths √(φᵀA⁻¹φ)", arguments: shapes)
    func meansAndWidths(contextCount: Int, descriptorCount: Int) throws {
        var random = TestRandom(seed: UInt64(100 * contextCount + descriptorCount))
        let bandit = try trainedBandit(
            contextCount: contextCount, descriptorCount: descriptorCount, algorithm: .epsilonGreedy(epsilon: 0.1),
            updates: 400, using: &random)
        var scratch = bandit.makeScratch(maxCandidates: 8)
        for _ in 0..<20 {
            let c = randomContext(contextCount, using: &random)
            let k = 1 + random.index(below: 40)
            let descriptors = randomDescriptors(candidates: k, descriptorCount: descriptorCount, using: &random)
            bandit.scores(context: c, descriptors: descriptors, scratch: &scratch)
            let means = scratch.means
            let widths = scratch.widths
            try #require(means.count == k && widths.count == k)
            for index in 0..<k {
                let phi = kronecker(c, descriptorRow(descriptors, index, count: descriptorCount))
                let mean = dot(bandit.model.theta.elements, phi)
                let width = quadraticForm(bandit.model.inverse, phi).squareRoot()
                #expect(abs(means[index] - mean) <= 1e-10 * max(1, abs(mean)))
                #expect(abs(widths[index] - width) <= 1e-10 * max(1, width))
            }
        }
    }

    @Test("LinUCB ranks by θᵀφ + α·√(φᵀA⁻¹φ)", arguments: shapes)
    func upperConfidenceBound(contextCount: Int, descriptorCount: Int) throws {
        var random = TestRandom(seed: UInt64(200 * contextCount + descriptorCount))
        let alpha = 0.7
        let bandit = try trainedBandit(
            contextCount: contextCount, descriptorCount: descriptorCount,
            algorithm: .linUCB(alpha: alpha, explorationFloor: 0), updates: 300, using: &random)
        var scratch = bandit.makeScratch(maxCandidates: 16)
        for _ in 0..<20 {
            let c = randomContext(contextCount, using: &random)
            let descriptors = randomDescriptors(candidates: 16, descriptorCount: descriptorCount, using: &random)
            let choice = bandit.decide(context: c, descriptors: descriptors, random: random.stream(), scratch: &scratch)
            let naive = (0..<16).map { index in
                let phi = kronecker(c, descriptorRow(descriptors, index, count: descriptorCount))
                return dot(bandit.model.theta.elements, phi) + alpha * quadraticForm(bandit.model.inverse, phi).squareRoot()
            }
            #expect(maxAbsDifference(scratch.scores, naive) <= 1e-10 * max(1, maxAbs(naive)))
            let best = naive.indices.max { naive[$0] < naive[$1] } ?? 0
            #expect(choice.index == best)
            #expect(choice.probability == 1 && choice.propensityKind == .exact)
        }
    }

    @Test("Thompson scores are θ̃ᵀφ for θ̃ = θ + v·L⁻ᵀz, z_i = random.normal(i)", arguments: shapes)
    func thompsonSample(contextCount: Int, descriptorCount: Int) throws {
        var random = TestRandom(seed: UInt64(300 * contextCount + descriptorCount))
        let scale = 0.8
        let bandit = try trainedBandit(
            contextCount: contextCount, descriptorCount: descriptorCount,
            algorithm: .thompson(scale: scale, propensitySamples: 10), updates: 300, using: &random)
        // An independent factor of A from LAPACK, not the model's incrementally updated one.
        let cholesky = try Cholesky(bandit.model.a)
        let d = bandit.dimension
        var scratch = bandit.makeScratch(maxCandidates: 12)
        for _ in 0..<20 {
            let c = randomContext(contextCount, using: &random)
            let descriptors = randomDescriptors(candidates: 12, descriptorCount: descriptorCount, using: &random)
            let stream = random.stream()
            let choice = bandit.decide(context: c, descriptors: descriptors, random: stream, scratch: &scratch)

            var sample = Vector((0..<d).map { stream.normal(UInt64($0)) })
            cholesky.solveLowerTransposedInPlace(&sample)
            let theta = (0..<d).map { bandit.model.theta[$0] + scale * sample[$0] }
            let naive = (0..<12).map { dot(theta, kronecker(c, descriptorRow(descriptors, $0, count: descriptorCount))) }
            #expect(maxAbsDifference(scratch.scores, naive) <= 1e-9 * max(1, maxAbs(naive)))
            let best = naive.indices.max { naive[$0] < naive[$1] } ?? 0
            #expect(choice.index == best)
            #expect(choice.propensityKind == .estimated(samples: 10))
            #expect(choice.probability >= 1.0 / 11 && choice.probability <= 1)
        }
    }

    @Test("candidate plans from a catalog score like their descriptor rows")
    func candidatePlans() throws {
        var random = TestRandom(seed: 0xCA7)
        let catalog = PlanCatalog(
            family: .standard,
            rules: [try PlacementRules(firstSlot: 3, minGap: 2, maxShare: 0.5, maxAdsPerSession: 12, dailyCap: nil)])
        let candidates = catalog.byRegion[0]
        let bandit = try trainedBandit(
            contextCount: 6, descriptorCount: PlanDescriptors.count, algorithm: .softmax(temperature: 0.2), updates: 200,
            using: &random)
        var scratch = bandit.makeScratch(maxCandidates: 4)
        let c = randomContext(6, using: &random)
        let rows = candidates.flatMap { candidate in (0..<PlanDescriptors.count).map { candidate.descriptors[$0] } }
        let stream = random.stream()
        let fromPlans = bandit.decide(context: c, candidates: candidates, random: stream, scratch: &scratch)
        let planScores = scratch.scores
        let fromRows = bandit.decide(context: c, descriptors: rows, random: stream, scratch: &scratch)
        #expect(fromPlans == fromRows)
        #expect(planScores == scratch.scores)
        #expect(planScores.count == candidates.count)
    }
}
