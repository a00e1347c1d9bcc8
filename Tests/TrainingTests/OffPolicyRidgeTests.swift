import AdLoadCore
import Testing
@testable import Training

/// n rows of d features uniform in [−1, 1], the first feature a constant 1, from a seeded generator.
private func randomFeatures(rows n: Int, columns d: Int, seed: UInt64) -> [[Double]] {
    let random = CounterRandom(seed: seed, domain: 0x7269_6467_6574_7374) // "ridgetst"
    return (0..<n).map { row in
        (0..<d).map { column in column == 0 ? 1 : 2 * random.uniform(UInt64(row * d + column)) - 1 }
    }
}

private func dot(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Solves A·x = b by Gaussian elimination with partial pivoting: an independent check on Cholesky.
private func gaussianSolve(_ a: [[Double]], _ b: [Double]) -> [Double] {
    var a = a, b = b
    let n = b.count
    for column in 0..<n {
        let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) } ?? column
        a.swapAt(column, pivot)
        b.swapAt(column, pivot)
        for row in (column + 1)..<n {
            let factor = a[row][column] / a[column][column]
            for k in column..<n {
                a[row][k] -= factor * a[column][k]
            }
            b[row] -= factor * b[column]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for row in stride(from: n - 1, through: 0, by: -1) {
        let rest = ((row + 1)..<n).reduce(0) { $0 + a[row][$1] * x[$1] }
        x[row] = (b[row] - rest) / a[row][row]
    }
    return x
}

@Suite("Ridge reward model")
struct OffPolicyRidgeTests {
    let truth = [0.5, -1.2, 2.0, 0.3, -0.7]

    @Test("recovers known coefficients from noiseless data (λ = 0 and λ = 1e-9)")
    func noiseless() throws {
        let features = randomFeatures(rows: 60, columns: truth.count, seed: 1)
        let rewards = features.map { dot($0, truth) }
        for regularization in [0, 1e-9] {
            let model = try RidgeRewardModel(features: features, rewards: rewards, regularization: regularization)
            #expect(model.featureCount == truth.count)
            for (fitted, expected) in zip(model.coefficients, truth) {
                #expect(abs(fitted - expected) < 1e-8, "λ = \(regularization): \(model.coefficients)")
            }
            #expect(abs(model.predict([1, 0.1, 0.2, 0.3, 0.4]) - dot([1, 0.1, 0.2, 0.3, 0.4], truth)) < 1e-8)
        }
    }

    @Test("matches the weighted normal equations (XᵀWX + λI)θ = XᵀWy on noisy data")
    func normalEquations() throws {
        let d = truth.count
        let features = randomFeatures(rows: 200, columns: d, seed: 2)
        let noise = CounterRandom(seed: 2, domain: 0x6E6F_6973_6500_0000)
        let rewards = features.indices.map { dot(features[$0], truth) + 0.5 * noise.normal(UInt64($0)) }
        let weights = features.indices.map { 0.1 + 2 * noise.uniform(UInt64(1_000 + $0)) }
        let lambda = 2.5
        let model = try RidgeRewardModel(features: features, rewards: rewards, weights: weights, regularization: lambda)

        var gram = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        var moment = [Double](repeating: 0, count: d)
        for (row, (x, y)) in zip(features, rewards).enumerated() {
            for i in 0..<d {
                moment[i] += weights[row] * x[i] * y
                for j in 0..<d {
                    gram[i][j] += weights[row] * x[i] * x[j]
                }
            }
        }
        for i in 0..<d {
            gram[i][i] += lambda
        }
        let expected = gaussianSolve(gram, moment)
        for (fitted, solved) in zip(model.coefficients, expected) {
            #expect(abs(fitted - solved) < 1e-10, "\(model.coefficients) vs \(expected)")
        }
        // The regularization pulls the fit away from the truth, but only a little at n = 200.
        #expect(zip(model.coefficients, truth).allSatisfy { abs($0 - $1) < 0.3 })
    }

    @Test("weighting a sample by an integer k equals repeating it k times")
    func integerWeightsRepeatSamples() throws {
        let features = randomFeatures(rows: 30, columns: 3, seed: 3)
        let rewards = features.map { $0[1] - $0[2] * $0[2] }
        let weights = features.indices.map { Double($0 % 3) }
        let weighted = try RidgeRewardModel(features: features, rewards: rewards, weights: weights, regularization: 0.5)
        let repeatedIndices = features.indices.flatMap { [Int](repeating: $0, count: $0 % 3) }
        let repeated = try RidgeRewardModel(
            features: repeatedIndices.map { features[$0] }, rewards: repeatedIndices.map { rewards[$0] }, regularization: 0.5
        )
        for (a, b) in zip(weighted.coefficients, repeated.coefficients) {
            #expect(abs(a - b) < 1e-12)
        }
    }

    @Test("invalid input is rejected with the sample and value")
    func errors() {
        let features = randomFeatures(rows: 4, columns: 2, seed: 4)
        let rewards = [0.0, 1, 0, 1]
        #expect(throws: RidgeRewardModelError.noSamples) { try RidgeRewardModel(features: [], rewards: []) }
        #expect(throws: RidgeRewardModelError.rewardCountMismatch(expected: 4, actual: 3)) {
            try RidgeRewardModel(features: features, rewards: [0, 1, 0])
        }
        #expect(throws: RidgeRewardModelError.featureCountMismatch(sample: 2, expected: 2, actual: 3)) {
            try RidgeRewardModel(features: [[1, 0], [1, 1], [1, 2, 3], [1, 3]], rewards: rewards)
        }
        #expect(throws: RidgeRewardModelError.invalidWeight(sample: 1, value: -1)) {
            try RidgeRewardModel(features: features, rewards: rewards, weights: [1, -1, 1, 1])
        }
        #expect(throws: RidgeRewardModelError.nonFiniteFeature(sample: 3, feature: 1, value: .infinity)) {
            try RidgeRewardModel(features: [[1, 0], [1, 1], [1, 2], [1, .infinity]], rewards: rewards)
        }
        #expect(throws: RidgeRewardModelError.invalidRegularization(-1)) {
            try RidgeRewardModel(features: features, rewards: rewards, regularization: -1)
        }
        // Two identical columns with λ = 0: XᵀX is singular.
        let collinear = features.map { [$0[1], $0[1]] }
        let error = #expect(throws: RidgeRewardModelError.self) {
            try RidgeRewardModel(features: collinear, rewards: rewards, regularization: 0)
        }
        guard case .notPositiveDefinite = error else {
            Issue.record("expected notPositiveDefinite, got \(String(describing: error))")
            return
        }
        // The same data with λ > 0 fits, splitting the weight evenly between the twins.
        let model = try? RidgeRewardModel(features: collinear, rewards: rewards, regularization: 0.1)
        #expect(model.map { abs($0.coefficients[0] - $0.coefficients[1]) < 1e-12 } == true)
    }
}
