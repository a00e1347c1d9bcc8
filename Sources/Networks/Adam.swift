import Foundation
import LinearAlgebra

/// Adam (Kingma & Ba, 2015) for an ``MLP``: per-parameter first and second moment
/// estimates with bias correction, and an optional clip of the gradient's global norm.
package struct Adam: Sendable, Equatable {
    package var learningRate: Double
    package let beta1: Double
    package let beta2: Double
    package let epsilon: Double
    /// Gradients with a larger global norm are scaled down to it first (`nil`: no clipping).
    package let maxGradientNorm: Double?
    /// Updates taken.
    package private(set) var step = 0
    var firstMoment: MLP.Gradients
    var secondMoment: MLP.Gradients

    package init(
        for network: MLP, learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        maxGradientNorm: Double? = nil
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.maxGradientNorm = maxGradientNorm
        firstMoment = MLP.Gradients(zeroFor: network)
        secondMoment = MLP.Gradients(zeroFor: network)
    }

    /// The first and second moment estimates, for checkpoints.
    package var moments: (first: MLP.Gradients, second: MLP.Gradients) { (firstMoment, secondMoment) }

    /// Puts back a checkpointed state: the step count and both moments (of the same
    /// network shape), so training resumes exactly where it stopped.
    package mutating func restore(step: Int, first: MLP.Gradients, second: MLP.Gradients) {
        self.step = step
        firstMoment = first
        secondMoment = second
    }

    /// One descent step on `network` along `gradients` (of a loss to minimize); clips
    /// `gradients` in place when their norm is above ``maxGradientNorm``.
    /// - Returns: the gradient norm before clipping.
    @discardableResult
    package mutating func update(_ network: inout MLP, gradients: inout MLP.Gradients) -> Double {
        let norm = gradients.norm
        if let maxGradientNorm, norm > maxGradientNorm { gradients.scale(by: maxGradientNorm / norm) }
        step += 1
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = 1 - pow(beta2, Double(step))
        let (beta1, beta2, epsilon, rate) = (beta1, beta2, epsilon, learningRate)
        func apply(
            _ parameters: UnsafeMutableBufferPointer<Double>, _ gradient: UnsafeBufferPointer<Double>,
            _ first: UnsafeMutableBufferPointer<Double>, _ second: UnsafeMutableBufferPointer<Double>
        ) {
            for index in parameters.indices {
                let g = gradient[index]
                first[index] = beta1 * first[index] + (1 - beta1) * g
                second[index] = beta2 * second[index] + (1 - beta2) * g * g
                let mHat = first[index] / correction1
                let vHat = second[index] / correction2
                parameters[index] -= rate * mHat / (vHat.squareRoot() + epsilon)
            }
        }
        for layer in network.layers.indices {
            network.layers[layer].weights.withUnsafeMutableBufferPointer { parameters in
                gradients.layers[layer].weights.withUnsafeBufferPointer { gradient in
                    firstMoment.layers[layer].weights.withUnsafeMutableBufferPointer { first in
                        secondMoment.layers[layer].weights.withUnsafeMutableBufferPointer { second in
                            apply(parameters, gradient, first, second)
                        }
                    }
                }
            }
            network.layers[layer].bias.withUnsafeMutableBufferPointer { parameters in
                gradients.layers[layer].bias.withUnsafeBufferPointer { gradient in
                    firstMoment.layers[layer].bias.withUnsafeMutableBufferPointer { first in
                        secondMoment.layers[layer].bias.withUnsafeMutableBufferPointer { second in
                            apply(parameters, gradient, first, second)
                        }
                    }
                }
            }
        }
        return norm
    }
}
