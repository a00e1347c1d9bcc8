import AdLoadCore
import Foundation
import LinearAlgebra
@testable import Networks
import Testing

@Suite("Networks: MLP and Adam")
struct MLPTests {
    /// A batch of `rows` observations with entries in (−1, 1).
    func batch(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        let random = CounterRandom(seed: seed, domain: 7)
        return Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { 2 * random.uniform(UInt64($0)) - 1 })
    }

    /// loss = Σ c ⊙ y + ½ Σ y², a loss with a nonlinear dependence on the output.
    func loss(_ network: MLP, input: Matrix, weights: Matrix) -> Double {
        var cache = MLP.Cache()
        network.forward(input, cache: &cache)
        var total = 0.0
        for (y, c) in zip(cache.output.elements, weights.elements) { total += c * y + 0.5 * y * y }
        return total
    }

    @Test("back-propagated gradients equal central finite differences for every weight and bias")
    func gradientsMatchFiniteDifferences() {
        let network = MLP(sizes: [5, 8, 6, 3], random: CounterRandom(seed: 11, domain: 1), hiddenGain: 1.5, outputGain: 0.7)
        let input = batch(rows: 7, columns: 5, seed: 2)
        let weights = batch(rows: 7, columns: 3, seed: 3)
        var cache = MLP.Cache()
        network.forward(input, cache: &cache)
        let outputGradient = Matrix(
            rows: 7, columns: 3, elements: zip(cache.output.elements, weights.elements).map { $1 + $0 })
        var gradients = MLP.Gradients(zeroFor: network)
        network.backward(outputGradient, cache: cache, gradients: &gradients)

        let h = 1e-6
        var worst = 0.0
        var checked = 0
        for layer in network.layers.indices {
            for element in network.layers[layer].weights.elements.indices {
                var plus = network, minus = network
                plus.layers[layer].weights.withUnsafeMutableBufferPointer { $0[element] += h }
                minus.layers[layer].weights.withUnsafeMutableBufferPointer { $0[element] -= h }
                let numeric = (loss(plus, input: input, weights: weights) - loss(minus, input: input, weights: weights)) / (2 * h)
                let analytic = gradients.layers[layer].weights.elements[element]
                worst = max(worst, abs(numeric - analytic) / max(1e-3, abs(numeric) + abs(analytic)))
                checked += 1
            }
            for element in 0..<network.layers[layer].bias.count {
                var plus = network, minus = network
                plus.layers[layer].bias.withUnsafeMutableBufferPointer { $0[element] += h }
                minus.layers[layer].bias.withUnsafeMutableBufferPointer { $0[element] -= h }
                let numeric = (loss(plus, input: input, weights: weights) - loss(minus, input: input, weights: weights)) / (2 * h)
                let analytic = gradients.layers[layer].bias[element]
                worst = max(worst, abs(numeric - analytic) / max(1e-3, abs(numeric) + abs(analytic)))
                checked += 1
            }
        }
        #expect(checked == network.parameterCount)
        #expect(worst < 1e-6, "largest relative difference \(worst)")
    }

    @Test("single-observation inference equals the batched forward pass, row by row")
    func inferenceMatchesBatch() {
        let network = MLP(sizes: [4, 16, 16, 5], random: CounterRandom(seed: 5, domain: 1))
        let input = batch(rows: 9, columns: 4, seed: 8)
        var cache = MLP.Cache()
        network.forward(input, cache: &cache)
        var scratch = MLP.Scratch(for: network)
        for row in 0..<input.rows {
            network.infer(input.row(row), scratch: &scratch)
            for column in 0..<5 {
                #expect(abs(scratch.output[column] - cache.output[row, column]) < 1e-12)
            }
        }
    }

    @Test("the same seed gives the same network; another seed another")
    func seededInitialization() {
        let a = MLP(sizes: [3, 4, 2], random: CounterRandom(seed: 9, domain: 1))
        #expect(a == MLP(sizes: [3, 4, 2], random: CounterRandom(seed: 9, domain: 1)))
        #expect(a != MLP(sizes: [3, 4, 2], random: CounterRandom(seed: 10, domain: 1)))
    }

    @Test("Adam fits a known smooth function: mean squared error falls below 1% of the target's variance")
    func adamFitsAFunction() {
        let input = batch(rows: 128, columns: 2, seed: 21)
        let target = (0..<input.rows).map { sin(2 * input[$0, 0]) + 0.5 * input[$0, 1] }
        var network = MLP(sizes: [2, 16, 1], random: CounterRandom(seed: 4, domain: 1))
        var adam = Adam(for: network, learningRate: 0.01, maxGradientNorm: 10)
        var cache = MLP.Cache()
        var gradients = MLP.Gradients(zeroFor: network)
        func meanSquaredError() -> Double {
            network.forward(input, cache: &cache)
            return (0..<input.rows).map { pow(cache.output[$0, 0] - target[$0], 2) }.reduce(0, +) / Double(input.rows)
        }
        let mean = target.reduce(0, +) / Double(target.count)
        let variance = target.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(target.count)
        let initial = meanSquaredError()
        for _ in 0..<1500 {
            network.forward(input, cache: &cache)
            let residual = Matrix(rows: input.rows, columns: 1, elements: (0..<input.rows).map {
                2 * (cache.output[$0, 0] - target[$0]) / Double(input.rows)
            })
            network.backward(residual, cache: cache, gradients: &gradients)
            adam.update(&network, gradients: &gradients)
        }
        let final = meanSquaredError()
        #expect(final < 0.01 * variance, "MSE \(initial) → \(final), target variance \(variance)")
        #expect(adam.step == 1500)
    }

    @Test("gradient-norm clipping scales the step's gradient to the bound")
    func clipping() {
        var network = MLP(sizes: [2, 3, 1], random: CounterRandom(seed: 1, domain: 1))
        var gradients = MLP.Gradients(zeroFor: network)
        gradients.layers[0].weights.withUnsafeMutableBufferPointer { $0[0] = 30; $0[1] = 40 }
        var adam = Adam(for: network, learningRate: 1e-3, maxGradientNorm: 5)
        let norm = adam.update(&network, gradients: &gradients)
        #expect(norm == 50)
        #expect(abs(gradients.norm - 5) < 1e-12)
    }
}
