import AdLoadCore
import LinearAlgebra
@testable import Policies
import Testing

@Suite("ComponentRidgeModel: one A, one b per reward component")
struct ComponentRidgeModelTests {
    @Test("Σ c_k·θ_k equals a RidgeModel trained on Σ c_k·r_k, across refreshes, for any weights", arguments: [5, 64, Int.max])
    func weightedSumsMatch(refreshInterval: Int) {
        let d = 6
        let random = CounterRandom(seed: 11, domain: 3)
        var components = ComponentRidgeModel(dimension: d, components: 3, lambda: 0.5, refreshInterval: refreshInterval)
        let weightSets: [[Double]] = [[1, 0, 0], [0, 1, 0], [1, -0.4, 2.5], [0.3, 0.3, -1]]
        var plain = weightSets.map { _ in RidgeModel(dimension: d, lambda: 0.5, refreshInterval: refreshInterval) }
        for step in 0..<300 {
            let row = random.child(UInt64(step))
            let phi = (0..<d).map { 2 * row.uniform(UInt64($0)) - 1 }
            let rewards = [row.normal(100), phi[0] - 2 * phi[3] + 0.1 * row.normal(101), row.uniform(102) < 0.2 ? 1.0 : 0.0]
            let weight = step % 7 == 0 ? 0.5 : 1
            components.update(features: phi, rewards: rewards, weight: weight)
            for (index, weights) in weightSets.enumerated() {
                plain[index].update(features: phi, reward: zip(weights, rewards).reduce(0) { $0 + $1.0 * $1.1 }, weight: weight)
            }
        }
        for (index, weights) in weightSets.enumerated() {
            let combined = components.theta(weights: weights)
            let reference = plain[index].theta
            let scale = max(1, reference.reduce(0) { max($0, abs($1)) })
            for i in 0..<d {
                #expect(abs(combined[i] - reference[i]) <= 1e-9 * scale, "weights \(weights), θ[\(i)]: \(combined[i]) against \(reference[i])")
            }
            let b = components.b(weights: weights)
            for i in 0..<d { #expect(abs(b[i] - plain[index].b[i]) <= 1e-9 * max(1, abs(plain[index].b[i]))) }
        }
        #expect(components.shared.a == plain[0].a, "one shared A, as each plain model's")
    }

    @Test("a component learns its own known coefficients")
    func knownCoefficients() {
        let random = CounterRandom(seed: 12, domain: 3)
        var model = ComponentRidgeModel(dimension: 3, components: 2, lambda: 1e-3)
        for step in 0..<2_000 {
            let row = random.child(UInt64(step))
            let phi = (0..<3).map { 2 * row.uniform(UInt64($0)) - 1 }
            model.update(features: phi, rewards: [2 * phi[0] + 0.05 * row.normal(9), -phi[1] + 0.5 * phi[2] + 0.05 * row.normal(10)])
        }
        let second = model.theta(weights: [0, 1])
        #expect(abs(second[0]) < 0.02 && abs(second[1] + 1) < 0.02 && abs(second[2] - 0.5) < 0.02, "θ₂ = \(Array(second))")
        let first = model.theta(weights: [1, 0])
        #expect(abs(first[0] - 2) < 0.02 && abs(first[1]) < 0.02 && abs(first[2]) < 0.02, "θ₁ = \(Array(first))")
    }
}
