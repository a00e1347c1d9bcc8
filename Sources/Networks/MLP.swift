import AdLoadCore
import Foundation
import LinearAlgebra

/// A small fully connected network: tanh hidden layers and a linear output layer, the
/// policy and value networks of the policy-gradient trainer.
///
/// Training runs whole batches through it (``forward(_:cache:)`` and
/// ``backward(_:gradients:)``, each layer one `gemm`); serving runs one observation at a
/// time (``infer(_:scratch:)``) through preallocated buffers, allocating nothing.
package struct MLP: Sendable, Equatable {
    /// One dense layer: y = W·x + b, W of shape outputs × inputs.
    package struct Layer: Sendable, Equatable {
        package var weights: Matrix
        package var bias: Vector

        package init(weights: Matrix, bias: Vector) {
            precondition(bias.count == weights.rows, "a layer's bias has one entry per output")
            self.weights = weights
            self.bias = bias
        }

        package var inputs: Int { weights.columns }
        package var outputs: Int { weights.rows }
    }

    package var layers: [Layer]

    /// Layer widths, input first: `[observations, hidden…, outputs]`.
    package var sizes: [Int] { [layers[0].inputs] + layers.map(\.outputs) }

    /// A network with the given widths, weights drawn from N(0, gain²/fan-in) with
    /// `random` (reproducible), biases zero. The output layer's gain is `outputGain`
    /// (small for a policy head, so that the first policy is near uniform).
    /// - Precondition: at least two sizes, all positive.
    package init(sizes: [Int], random: CounterRandom, hiddenGain: Double = 1, outputGain: Double = 1) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 > 0 }, "MLP sizes must be at least two positive widths, got \(sizes)")
        var layers: [Layer] = []
        var counter: UInt64 = 0
        for index in 1..<sizes.count {
            let (inputs, outputs) = (sizes[index - 1], sizes[index])
            let gain = index == sizes.count - 1 ? outputGain : hiddenGain
            let scale = gain / Double(inputs).squareRoot()
            var elements = [Double](repeating: 0, count: inputs * outputs)
            for element in elements.indices {
                elements[element] = scale * random.normal(counter)
                counter += 1
            }
            layers.append(Layer(weights: Matrix(rows: outputs, columns: inputs, elements: elements), bias: .zeros(outputs)))
        }
        self.layers = layers
    }

    /// A network with these layers.
    /// - Precondition: consecutive layers fit (each one's outputs are the next one's inputs).
    package init(layers: [Layer]) {
        precondition(!layers.isEmpty, "an MLP needs a layer")
        for index in 1..<max(1, layers.count) {
            precondition(layers[index].inputs == layers[index - 1].outputs, "MLP layer \(index) takes \(layers[index].inputs) inputs, the previous one gives \(layers[index - 1].outputs)")
        }
        self.layers = layers
    }

    /// The number of weights and biases.
    package var parameterCount: Int { layers.reduce(0) { $0 + $1.weights.elements.count + $1.bias.count } }

    // MARK: Batched training

    /// Every layer's output for a batch, kept for ``backward(_:gradients:)``.
    package struct Cache: Sendable {
        /// `activations[0]` is the input batch; `activations[l]` is layer l's output
        /// (tanh applied for hidden layers, linear for the last).
        package var activations: [Matrix] = []

        package init() {}

        /// The network's output for the batch.
        package var output: Matrix { activations[activations.count - 1] }
    }

    /// Runs a batch (one observation per row) forward; the output is `cache.output`.
    /// Reuses the cache's matrices when the batch size is unchanged.
    package func forward(_ batch: Matrix, cache: inout Cache) {
        precondition(batch.columns == layers[0].inputs, "MLP takes \(layers[0].inputs) inputs, the batch has \(batch.columns)")
        let rows = batch.rows
        if cache.activations.count != layers.count + 1 || cache.activations[0].rows != rows {
            cache.activations = [batch] + layers.map { Matrix.zeros(rows: rows, columns: $0.outputs) }
        } else {
            cache.activations[0].assign(batch)
        }
        for (index, layer) in layers.enumerated() {
            var output = cache.activations[index + 1]
            cache.activations[index + 1] = Matrix.zeros(rows: 0, columns: 0)  // keep `output` uniquely referenced
            Kernels.gemm(cache.activations[index], layer.weights, transposeB: true, into: &output)
            let hidden = index < layers.count - 1
            layer.bias.withUnsafeBufferPointer { bias in
                output.withUnsafeMutableBufferPointer { values in
                    for row in 0..<rows {
                        let base = row * layer.outputs
                        for column in 0..<layer.outputs { values[base + column] += bias[column] }
                    }
                    if hidden { MLP.tanh(values) }
                }
            }
            cache.activations[index + 1] = output
        }
    }

    /// Gradients of a scalar loss with respect to every weight and bias, shaped like the layers.
    package struct Gradients: Sendable, Equatable {
        package var layers: [Layer]

        /// Zero gradients for `network`.
        package init(zeroFor network: MLP) {
            layers = network.layers.map { Layer(weights: .zeros(rows: $0.outputs, columns: $0.inputs), bias: .zeros($0.outputs)) }
        }

        /// The Euclidean norm over every component.
        package var norm: Double {
            var sum = 0.0
            for layer in layers {
                for value in layer.weights.elements { sum += value * value }
                for index in 0..<layer.bias.count { sum += layer.bias[index] * layer.bias[index] }
            }
            return sum.squareRoot()
        }

        /// Adds `other` (shaped like these) component by component.
        package mutating func add(_ other: Gradients) {
            for index in layers.indices {
                layers[index].weights.withUnsafeMutableBufferPointer { values in
                    other.layers[index].weights.withUnsafeBufferPointer { addends in
                        for element in values.indices { values[element] += addends[element] }
                    }
                }
                layers[index].bias.withUnsafeMutableBufferPointer { values in
                    other.layers[index].bias.withUnsafeBufferPointer { addends in
                        for element in values.indices { values[element] += addends[element] }
                    }
                }
            }
        }

        /// Multiplies every component by `factor`.
        package mutating func scale(by factor: Double) {
            for index in layers.indices {
                layers[index].weights.withUnsafeMutableBufferPointer { values in
                    for element in values.indices { values[element] *= factor }
                }
                layers[index].bias.withUnsafeMutableBufferPointer { values in
                    for element in values.indices { values[element] *= factor }
                }
            }
        }
    }

    /// Back-propagates `outputGradient` (∂loss/∂output, one row per batch row, as `cache`
    /// holds) and writes ∂loss/∂parameters into `gradients` (overwriting them).
    package func backward(_ outputGradient: Matrix, cache: Cache, gradients: inout Gradients) {
        precondition(cache.activations.count == layers.count + 1, "backward needs the cache of a forward pass")
        precondition(outputGradient.rows == cache.output.rows && outputGradient.columns == cache.output.columns,
                     "the output gradient must be shaped like the output")
        var delta = outputGradient  // ∂loss/∂z of the current layer
        for index in stride(from: layers.count - 1, through: 0, by: -1) {
            let input = cache.activations[index]
            Kernels.gemm(delta, transposeA: true, input, into: &gradients.layers[index].weights)
            gradients.layers[index].bias.withUnsafeMutableBufferPointer { bias in
                delta.withUnsafeBufferPointer { values in
                    let columns = delta.columns
                    for column in 0..<columns { bias[column] = 0 }
                    for row in 0..<delta.rows {
                        for column in 0..<columns { bias[column] += values[row * columns + column] }
                    }
                }
            }
            guard index > 0 else { break }
            var previous = Matrix.zeros(rows: delta.rows, columns: layers[index].inputs)
            Kernels.gemm(delta, layers[index].weights, into: &previous)
            // The previous layer is a tanh layer: ∂z = ∂a ⊙ (1 − a²).
            input.withUnsafeBufferPointer { activations in
                previous.withUnsafeMutableBufferPointer { values in
                    for element in values.indices {
                        let a = activations[element]
                        values[element] *= 1 - a * a
                    }
                }
            }
            delta = previous
        }
    }

    // MARK: Single-observation inference

    /// Buffers for ``infer(_:scratch:)``: one per layer output, made once per network shape.
    package struct Scratch: Sendable {
        package var values: [Vector]

        package init(for network: MLP) {
            values = network.layers.map { Vector.zeros($0.outputs) }
        }

        /// The last ``MLP/infer(_:scratch:)``'s output.
        package var output: Vector { values[values.count - 1] }
    }

    /// Runs one observation forward into `scratch` (its last buffer holds the output).
    /// Allocates nothing once `scratch` exists.
    ///
    /// The layers and the scratch buffers are reached in place (by index, through the scratch
    /// array's own buffer), not copied out: copying a layer or a buffer out of its array
    /// retained and released its storage, about 6% of a training rollout's time (perf).
    package func infer(_ input: Vector, scratch: inout Scratch) {
        precondition(input.count == layers[0].inputs, "MLP takes \(layers[0].inputs) inputs, got \(input.count)")
        precondition(scratch.values.count == layers.count, "the scratch has \(scratch.values.count) buffers for \(layers.count) layers")
        let last = layers.count - 1
        scratch.values.withUnsafeMutableBufferPointer { outputs in
            for index in 0...last {
                outputs[index].assign(layers[index].bias)
                if index == 0 {
                    Kernels.gemv(layers[index].weights, input, beta: 1, into: &outputs[index])
                } else {
                    Kernels.gemv(layers[index].weights, outputs[index - 1], beta: 1, into: &outputs[index])
                }
                if index < last {
                    outputs[index].withUnsafeMutableBufferPointer { MLP.tanh($0) }
                }
            }
        }
    }

    /// tanh of every element, in place, as 1 − 2/(e^{2x} + 1) through ``FastExp``: glibc's
    /// `tanh` (through `expm1`) was a third of a training run's time. x is clamped to
    /// [−20, 20], where that formula is already exactly ±1, so the clamp is the saturation;
    /// the exponentials go through the batched ``FastExp/exp(_:)-(UnsafeMutableBufferPointer<Double>)``.
    package static func tanh(_ values: UnsafeMutableBufferPointer<Double>) {
        for index in values.indices { values[index] = 2 * Swift.min(Swift.max(values[index], -20), 20) }
        FastExp.exp(values)
        for index in values.indices { values[index] = 1 - 2 / (values[index] + 1) }
    }
}
