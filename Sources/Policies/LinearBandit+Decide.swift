import AdLoadCore

extension LinearBandit {
    /// Computes each candidate's mean θᵀφ_k and confidence width √(φ_kᵀA⁻¹φ_k) into
    /// `scratch.means` and `scratch.widths`, whatever the algorithm (for explanations).
    /// - Parameters:
    ///   - context: c, `contextCount` values.
    ///   - descriptors: K candidates' q, row after row (K·`descriptorCount` values).
    ///   - scratch: Working memory from ``makeScratch(maxCandidates:)``.
    /// - Complexity: O(d² + K·|q|²), no allocation.
    package func scores(context: [Double], descriptors: [Double], prices: PacingPrices = .defaults, scratch: inout BanditScratch) {
        checkScratch(scratch)
        scratch.stage(context: context, descriptors: descriptors)
        scoresStaged(&scratch, prices: prices)
    }

    /// Computes each candidate plan's mean and confidence width (see ``scores(context:descriptors:scratch:)``).
    /// - Complexity: O(d² + K·|q|²), no allocation once the scratch holds K candidates.
    package func scores(context: [Double], candidates: [CandidatePlan], prices: PacingPrices = .defaults, scratch: inout BanditScratch) {
        checkScratch(scratch)
        scratch.stage(context: context, candidates: candidates)
        scoresStaged(&scratch, prices: prices)
    }

    /// Chooses one of K candidate plans for context c and reports the probability of that choice.
    ///
    /// Draws use `random` at fixed counters, so the same (model, context, candidates, random)
    /// always gives the same choice: counter 0 is the uniform draw that samples from π for
    /// LinUCB, ε-greedy and softmax; Thompson's posterior draw is z_i = `random.normal(i)`
    /// for i < d, and its propensity draws come from `random.child(1)`.
    ///
    /// - LinUCB, ε-greedy: the argmax (exact ties share its mass equally) with probability
    ///   1 − ε, a uniform candidate with probability ε (ε is the exploration floor for LinUCB).
    ///   The reported probability is exact: (1 − ε)/#ties·[k is an argmax] + ε/K.
    /// - Softmax: exact, computed with the log-sum-exp shift.
    /// - Thompson: the argmax under one posterior draw θ̃ = θ + scale·L⁻ᵀz (lowest index on
    ///   ties). Its probability is estimated from M = `propensitySamples` further draws as
    ///   (wins + 1)/(M + 1): the decision's own draw counts as one more sample, so a chosen
    ///   plan never gets probability 0 and 1/probability is at most M + 1. Those draws sample
    ///   the score weights w̃ = Θ̃ᵀc directly from N(Θᵀc, scale²·G), G = Cᵀ·A⁻¹·C: exactly the
    ///   distribution the d-space draw induces on the scores, at O(|q|²) instead of O(d²) each.
    /// - Parameters:
    ///   - context: c, `contextCount` values.
    ///   - descriptors: K ≥ 1 candidates' q, row after row (K·`descriptorCount` values).
    ///   - prices: The pacing prices; a priced bandit decides by θ(prices), an unpriced one ignores them.
    ///   - random: The decision's random stream (a child per decision).
    ///   - scratch: Working memory from ``makeScratch(maxCandidates:)``.
    /// - Returns: The chosen index into the candidates, its probability and how that was obtained.
    /// - Complexity: O(d + K·|q|) for ε-greedy and softmax; O(d² + K·|q|²) for LinUCB;
    ///   O(d² + M·(|q|² + K·|q|)) for Thompson. No allocation once the scratch holds K candidates.
    public func decide(
        context: [Double], descriptors: [Double], prices: PacingPrices = .defaults, random: CounterRandom, scratch: inout BanditScratch
    ) -> PolicyChoice {
        checkScratch(scratch)
        scratch.stage(context: context, descriptors: descriptors)
        return decideStaged(random: random, prices: prices, scratch: &scratch)
    }

    /// Chooses one of the candidate plans for context c (see ``decide(context:descriptors:random:scratch:)``).
    /// - Complexity: as ``decide(context:descriptors:random:scratch:)``, plus O(K·|q|) to copy the descriptors.
    public func decide(
        context: [Double], candidates: [CandidatePlan], prices: PacingPrices = .defaults, random: CounterRandom,
        scratch: inout BanditScratch
    ) -> PolicyChoice {
        checkScratch(scratch)
        scratch.stage(context: context, candidates: candidates)
        return decideStaged(random: random, prices: prices, scratch: &scratch)
    }

    /// Writes π(k | c) for every candidate k into `probabilities` (K values, summing to 1): the
    /// distribution `decide` samples from, for evaluating this bandit as a target policy.
    ///
    /// Exact for LinUCB, ε-greedy and softmax. For Thompson sampling it is estimated as
    /// wins/M over the same M = `propensitySamples` posterior draws `decide` uses (no
    /// smoothing, so a candidate that never wins gets 0); raise `propensitySamples` for a
    /// finer estimate.
    /// - Parameters:
    ///   - context: c, `contextCount` values.
    ///   - descriptors: K ≥ 1 candidates' q, row after row.
    ///   - random: The decision's random stream (Thompson only).
    ///   - scratch: Working memory from ``makeScratch(maxCandidates:)``.
    ///   - probabilities: Replaced by the K probabilities; allocates only if its capacity is below K.
    /// - Complexity: as ``decide(context:descriptors:random:scratch:)``.
    package func probabilities(
        context: [Double], descriptors: [Double], prices: PacingPrices = .defaults, random: CounterRandom,
        scratch: inout BanditScratch, into probabilities: inout [Double]
    ) {
        checkScratch(scratch)
        scratch.stage(context: context, descriptors: descriptors)
        probabilitiesStaged(random: random, prices: prices, scratch: &scratch, into: &probabilities)
    }

    /// Writes π(k | c) for every candidate plan (see ``probabilities(context:descriptors:random:scratch:into:)``).
    /// - Complexity: as ``decide(context:descriptors:random:scratch:)``.
    package func probabilities(
        context: [Double], candidates: [CandidatePlan], prices: PacingPrices = .defaults, random: CounterRandom,
        scratch: inout BanditScratch, into probabilities: inout [Double]
    ) {
        checkScratch(scratch)
        scratch.stage(context: context, candidates: candidates)
        probabilitiesStaged(random: random, prices: prices, scratch: &scratch, into: &probabilities)
    }

    /// Means and widths of the staged candidates into the scratch.
    private func scoresStaged(_ scratch: inout BanditScratch, prices: PacingPrices) {
        let count = scratch.candidateCount
        withStaged(&scratch, prices: prices) { model, buffers in
            KroneckerScoring.contextWeights(theta: model.theta, context: buffers.context, into: buffers.meanWeights)
            KroneckerScoring.means(descriptors: buffers.descriptors, weights: buffers.meanWeights, count: count, into: buffers.means)
            KroneckerScoring.contextGram(
                inverse: model.inverse, context: buffers.context, partial: buffers.normals, into: buffers.gram)
            KroneckerScoring.widths(
                descriptors: buffers.descriptors, gram: buffers.gram, descriptorCount: descriptorCount, count: count,
                into: buffers.widths)
        }
    }

    private func checkScratch(_ scratch: BanditScratch) {
        precondition(
            scratch.contextCount == contextCount && scratch.descriptorCount == descriptorCount,
            "LinearBandit: scratch was made for |c| = \(scratch.contextCount), |q| = \(scratch.descriptorCount), the bandit has \(contextCount), \(descriptorCount)"
        )
    }

    private func decideStaged(random: CounterRandom, prices: PacingPrices, scratch: inout BanditScratch) -> PolicyChoice {
        let count = scratch.candidateCount
        return withStaged(&scratch, prices: prices) { model, buffers in
            switch algorithm {
            case let .thompson(scale, samples):
                return thompsonChoice(model, buffers, count: count, scale: scale, samples: samples, random: random)
            default:
                exactProbabilities(model, buffers, count: count, into: buffers.weights)
                let index = Self.sample(buffers.weights, count: count, uniform: random.uniform(0))
                return PolicyChoice(index: index, probability: buffers.weights[index], propensityKind: .exact)
            }
        }
    }

    private func probabilitiesStaged(random: CounterRandom, prices: PacingPrices, scratch: inout BanditScratch, into output: inout [Double]) {
        let count = scratch.candidateCount
        withStaged(&scratch, prices: prices) { model, buffers in
            switch algorithm {
            case let .thompson(scale, samples):
                thompsonWins(model, buffers, count: count, scale: scale, samples: samples, random: random.child(1))
                for k in 0..<count {
                    buffers.weights[k] /= Double(samples)
                }
            default:
                exactProbabilities(model, buffers, count: count, into: buffers.weights)
            }
            output.removeAll(keepingCapacity: true)
            for k in 0..<count {
                output.append(buffers.weights[k])
            }
        }
    }

    /// Calls `body` with the model's parameters and the scratch's buffers; for a priced
    /// bandit away from the default prices, θ is θ(prices) (``BanditPricing``), formed in the scratch.
    private func withStaged<Result>(
        _ scratch: inout BanditScratch, prices: PacingPrices, _ body: (ModelBuffers, ScratchBuffers) -> Result
    ) -> Result {
        let layout = scratch.layout
        return model.theta.withUnsafeBufferPointer { theta in
            model.inverse.withUnsafeBufferPointer { inverse in
                model.upperFactor.withUnsafeBufferPointer { upper in
                    scratch.storage.withUnsafeMutableBufferPointer { buffer in
                        let buffers = ScratchBuffers(buffer, layout)
                        guard let pricing, prices != .defaults else {
                            return body(ModelBuffers(theta: theta, inverse: inverse, upper: upper), buffers)
                        }
                        pricing.pricedTheta(base: theta, prices: prices, into: buffers.pricedTheta)
                        let priced = UnsafeBufferPointer(buffers.pricedTheta)
                        return body(ModelBuffers(theta: priced, inverse: inverse, upper: upper), buffers)
                    }
                }
            }
        }
    }

    /// π for the exact algorithms; also leaves means (and, for LinUCB, widths) and scores in the scratch.
    private func exactProbabilities(_ model: ModelBuffers, _ buffers: ScratchBuffers, count: Int, into pi: UnsafeMutableBufferPointer<Double>) {
        KroneckerScoring.contextWeights(theta: model.theta, context: buffers.context, into: buffers.meanWeights)
        KroneckerScoring.means(descriptors: buffers.descriptors, weights: buffers.meanWeights, count: count, into: buffers.means)
        switch algorithm {
        case let .linUCB(alpha, floor):
            KroneckerScoring.contextGram(inverse: model.inverse, context: buffers.context, partial: buffers.normals, into: buffers.gram)
            KroneckerScoring.widths(
                descriptors: buffers.descriptors, gram: buffers.gram, descriptorCount: descriptorCount, count: count,
                into: buffers.widths)
            for k in 0..<count {
                buffers.scores[k] = buffers.means[k] + alpha * buffers.widths[k]
            }
            Self.greedyWithExploration(buffers.scores, count: count, epsilon: floor, into: pi)
        case let .epsilonGreedy(epsilon):
            for k in 0..<count {
                buffers.scores[k] = buffers.means[k]
            }
            Self.greedyWithExploration(buffers.scores, count: count, epsilon: epsilon, into: pi)
        case let .softmax(temperature, floor):
            for k in 0..<count {
                buffers.scores[k] = buffers.means[k]
            }
            Self.softmax(buffers.scores, count: count, temperature: temperature, floor: floor, into: pi)
        case .thompson:
            break
        }
    }

    /// π_k = (1 − ε)/#ties·[score_k is the maximum] + ε/K.
    private static func greedyWithExploration(
        _ scores: UnsafeMutableBufferPointer<Double>, count: Int, epsilon: Double, into pi: UnsafeMutableBufferPointer<Double>
    ) {
        let best = scores[KroneckerScoring.argmax(scores, count: count)]
        var ties = 0
        for k in 0..<count where scores[k] == best {
            ties += 1
        }
        let explore = epsilon / Double(count)
        let exploit = (1 - epsilon) / Double(ties)
        for k in 0..<count {
            pi[k] = scores[k] == best ? exploit + explore : explore
        }
    }

    /// π_k = (1 − ε)·exp((s_k − max s)/τ) / Σ exp((s_j − max s)/τ) + ε/K.
    private static func softmax(
        _ scores: UnsafeMutableBufferPointer<Double>, count: Int, temperature: Double, floor: Double,
        into pi: UnsafeMutableBufferPointer<Double>
    ) {
        let best = scores[KroneckerScoring.argmax(scores, count: count)]
        var total = 0.0
        for k in 0..<count {
            let weight = exp((scores[k] - best) / temperature)
            pi[k] = weight
            total += weight
        }
        let explore = floor / Double(count)
        let exploit = (1 - floor) / total
        for k in 0..<count {
            pi[k] = pi[k] * exploit + explore
        }
    }

    /// The index k with Σ_{j<k} π_j ≤ u·Σπ < Σ_{j≤k} π_j (inverse CDF); never a zero-probability index.
    private static func sample(_ pi: UnsafeMutableBufferPointer<Double>, count: Int, uniform: Double) -> Int {
        var total = 0.0
        for k in 0..<count {
            total += pi[k]
        }
        let target = uniform * total
        var cumulative = 0.0
        var lastPositive = 0
        for k in 0..<count where pi[k] > 0 {
            cumulative += pi[k]
            lastPositive = k
            if target < cumulative {
                return k
            }
        }
        return lastPositive
    }

    /// One posterior draw in the full d-space decides; M draws in the |q|-space estimate its probability.
    private func thompsonChoice(
        _ model: ModelBuffers, _ buffers: ScratchBuffers, count: Int, scale: Double, samples: Int, random: CounterRandom
    ) -> PolicyChoice {
        let d = buffers.sample.count
        for i in 0..<d {
            buffers.sample[i] = random.normal(UInt64(i))
        }
        KroneckerScoring.solveUpper(model.upper, buffers.sample)
        for i in 0..<d {
            buffers.sample[i] = model.theta[i] + scale * buffers.sample[i]
        }
        KroneckerScoring.contextWeights(
            theta: UnsafeBufferPointer(buffers.sample), context: buffers.context, into: buffers.sampledWeights)
        KroneckerScoring.means(
            descriptors: buffers.descriptors, weights: buffers.sampledWeights, count: count, into: buffers.scores)
        let index = KroneckerScoring.argmax(buffers.scores, count: count)

        thompsonWins(model, buffers, count: count, scale: scale, samples: samples, random: random.child(1))
        let probability = (buffers.weights[index] + 1) / Double(samples + 1)
        return PolicyChoice(index: index, probability: probability, propensityKind: .estimated(samples: samples))
    }

    /// Counts, into `buffers.weights`, how often each candidate is the argmax over `samples`
    /// draws w̃ = w̄ + scale·L_G·z of the score weights (L_G·L_Gᵀ = G); leaves w̄ and the means in the scratch.
    private func thompsonWins(
        _ model: ModelBuffers, _ buffers: ScratchBuffers, count: Int, scale: Double, samples: Int, random: CounterRandom
    ) {
        let nq = descriptorCount
        KroneckerScoring.contextWeights(theta: model.theta, context: buffers.context, into: buffers.meanWeights)
        KroneckerScoring.means(descriptors: buffers.descriptors, weights: buffers.meanWeights, count: count, into: buffers.means)
        KroneckerScoring.contextGram(inverse: model.inverse, context: buffers.context, partial: buffers.normals, into: buffers.gram)
        KroneckerScoring.semidefiniteCholesky(buffers.gram, descriptorCount: nq, into: buffers.gramFactor)
        for k in 0..<count {
            buffers.weights[k] = 0
        }
        let w = buffers.sampledWeights
        for s in 0..<samples {
            let first = UInt64(s * nq)
            for j in 0..<nq {
                buffers.normals[j] = random.normal(first + UInt64(j))
            }
            for j in 0..<nq {
                var sum = 0.0
                for l in 0...j {
                    sum += buffers.gramFactor[j * nq + l] * buffers.normals[l]
                }
                w[j] = buffers.meanWeights[j] + scale * sum
            }
            var best = 0
            var bestScore = -Double.infinity
            for k in 0..<count {
                var score = 0.0
                for j in 0..<nq {
                    score += buffers.descriptors[k * nq + j] * w[j]
                }
                if score > bestScore {
                    bestScore = score
                    best = k
                }
            }
            buffers.weights[best] += 1
        }
    }
}

/// Read-only pointers to a model's θ, A⁻¹ and Lᵀ for one call.
struct ModelBuffers {
    let theta: UnsafeBufferPointer<Double>
    let inverse: UnsafeBufferPointer<Double>
    let upper: UnsafeBufferPointer<Double>
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
