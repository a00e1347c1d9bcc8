@testable import LinearAlgebra
@testable import Policies
import Testing

/// The incremental ridge model against fits computed from scratch.
///
/// Observations are φ = c ⊗ q with c, q as the bandit sees them (bias, one-hot and normal
/// context features; descriptors in [-1, 1]) and weights uniform in [0.2, 3] (10% zero).
/// After n updates A has eigenvalues between λ = 1 and a few thousand. Sherman–Morrison and the
/// Cholesky update each lose O(ε·κ) per step in the worst case; measured, 1500 updates leave
/// relative errors near 1e-14 (A⁻¹, L, θ; A itself near 1e-16). The tolerance, 1e-11 relative
/// to each matrix's largest element, leaves a thousandfold margin for other platforms' BLAS,
/// while a wrong update (a missing weight, a transposed factor, a stale θ) misses it by
/// many orders of magnitude.
@Suite("Ridge model: rank-one updates")
struct RidgeModelTests {
    static let tolerance = 1e-11

    /// Random weighted observations of φ = c ⊗ q.
    static func observations(count: Int, contextCount nc: Int, descriptorCount nq: Int, seed: UInt64) -> [RidgeObservation] {
        var random = TestRandom(seed: seed)
        return (0..<count).map { _ in
            let c = randomContext(nc, using: &random)
            let q = randomDescriptors(candidates: 1, descriptorCount: nq, using: &random)
            let weight = random.uniform() < 0.1 ? 0 : random.uniform(in: 0.2...3)
            return RidgeObservation(features: kronecker(c, q), reward: random.normal() + dot(c, c), weight: weight)
        }
    }

    /// A, A⁻¹, L and θ of `model` agree with `reference` within `tolerance` relative to each one's largest element.
    static func expectClose(_ model: RidgeModel, _ reference: RidgeModel, _ label: String) {
        let a = maxAbs(reference.a.elements)
        #expect(maxAbsDifference(model.a.elements, reference.a.elements) <= tolerance * a, "\(label): A")
        let inverse = maxAbs(reference.inverse.elements)
        #expect(maxAbsDifference(model.inverse.elements, reference.inverse.elements) <= tolerance * inverse, "\(label): A⁻¹")
        let factor = maxAbs(reference.choleskyFactor.elements)
        #expect(
            maxAbsDifference(model.choleskyFactor.elements, reference.choleskyFactor.elements) <= tolerance * factor,
            "\(label): L")
        let theta = max(1, maxAbs(reference.theta))
        #expect(maxAbsDifference(model.theta, reference.theta) <= tolerance * theta, "\(label): θ")
        #expect(model.b == reference.b || maxAbsDifference(model.b, reference.b) <= tolerance * maxAbs(reference.b), "\(label): b")
        #expect(model.updateCount == reference.updateCount, "\(label): update count")
    }

    @Test("1500 weighted rank-one updates equal refitting from scratch (no refresh)", arguments: [(4, 4), (16, 4), (5, 3)])
    func incrementalEqualsRefit(contextCount: Int, descriptorCount: Int) throws {
        let d = contextCount * descriptorCount
        let data = Self.observations(count: 1500, contextCount: contextCount, descriptorCount: descriptorCount, seed: UInt64(d))
        var model = RidgeModel(dimension: d, lambda: 1, refreshInterval: Int.max)
        for observation in data {
            model.update(features: observation.features, reward: observation.reward, weight: observation.weight)
        }
        let refit = try RidgeModel.refit(dimension: d, lambda: 1, observations: data)
        Self.expectClose(model, refit, "d = \(d)")
    }

    @Test("the refit itself matches an independent normal-equations solution")
    func refitMatchesNormalEquations() throws {
        let d = 12
        let data = Self.observations(count: 300, contextCount: 4, descriptorCount: 3, seed: 0xF17)
        let refit = try RidgeModel.refit(dimension: d, lambda: 2.5, observations: data)

        var a = Matrix.identity(d)
        for i in 0..<d {
            a[i, i] = 2.5
        }
        var b = Vector.zeros(d)
        for observation in data {
            for i in 0..<d {
                b[i] += observation.weight * observation.reward * observation.features[i]
                for j in 0..<d {
                    a[i, j] += observation.weight * observation.features[i] * observation.features[j]
                }
            }
        }
        let cholesky = try Cholesky(a)
        let theta = try cholesky.solve(b)
        let inverse = try cholesky.inverse()
        #expect(maxAbsDifference(refit.a.elements, a.elements) <= 1e-12 * maxAbs(a.elements))
        #expect(maxAbsDifference(refit.theta, theta) <= 1e-10 * max(1, maxAbs(theta)))
        #expect(maxAbsDifference(refit.inverse.elements, inverse.elements) <= 1e-10 * maxAbs(inverse.elements))
        // A·θ = b and L·Lᵀ = A, checked by plain loops.
        let l = refit.choleskyFactor
        for i in 0..<d {
            var row = 0.0
            for j in 0..<d {
                row += a[i, j] * refit.theta[j]
                var product = 0.0
                for k in 0..<d {
                    product += l[i, k] * l[j, k]
                }
                #expect(abs(product - a[i, j]) <= 1e-10 * maxAbs(a.elements))
            }
            #expect(abs(row - b[i]) <= 1e-9 * max(1, maxAbs(b)))
        }
    }

    @Test("with a refresh every 64 updates the model stays equal to the refit, and is exact right after a refresh")
    func periodicRefresh() throws {
        let d = 32
        let data = Self.observations(count: 640, contextCount: 8, descriptorCount: 4, seed: 0x4EF)
        var model = RidgeModel(dimension: d, lambda: 1, refreshInterval: 64)
        var counted = 0
        for observation in data {
            model.update(features: observation.features, reward: observation.reward, weight: observation.weight)
            if observation.weight > 0 {
                counted += 1
            }
            if counted > 0 && counted % 64 == 0 && observation.weight > 0 {
                // Just refreshed: A⁻¹, L and θ are what LAPACK computes from this A and b.
                let restored = try RidgeModel(lambda: 1, a: model.a, b: model.b, updateCount: model.updateCount)
                #expect(model.inverse == restored.inverse)
                #expect(model.choleskyFactor == restored.choleskyFactor)
                #expect(model.theta == restored.theta)
            }
        }
        #expect(model.updateCount == counted)
        let refit = try RidgeModel.refit(dimension: d, lambda: 1, observations: data)
        Self.expectClose(model, refit, "refreshing")
    }

    @Test("a zero weight changes nothing; A stays exactly symmetric")
    func zeroWeightAndSymmetry() {
        let data = Self.observations(count: 200, contextCount: 6, descriptorCount: 4, seed: 0x2E0)
        var model = RidgeModel(dimension: 24, lambda: 0.5)
        for observation in data {
            model.update(features: observation.features, reward: observation.reward, weight: observation.weight)
        }
        let before = model
        model.update(features: data[0].features, reward: 100, weight: 0)
        #expect(model.a == before.a && model.inverse == before.inverse && model.theta == before.theta)
        #expect(model.updateCount == before.updateCount)
        #expect(model.a == model.a.transposed())
    }
}
