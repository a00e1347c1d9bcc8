import AdLoadCore

/// Caller-owned working memory for ``LinearBandit`` decisions, so that deciding allocates nothing.
///
/// Make one per thread with ``LinearBandit/makeScratch(maxCandidates:)`` and pass it `inout`
/// to every call. It holds the staged context and candidate descriptors and, after a call,
/// the per-candidate numbers of that call (``means``, ``widths``, ``scores``) for
/// explanations. It grows, once, if a call brings more candidates than it was sized for.
public struct BanditScratch: Sendable {
    /// |c|, the number of context features.
    public let contextCount: Int

    /// |q|, the number of plan descriptors.
    public let descriptorCount: Int

    /// The largest candidate count the scratch holds without growing.
    package private(set) var capacity: Int

    /// The number of candidates of the last staged call.
    private(set) var candidateCount: Int

    /// Every buffer, one after another (see `Layout`): one allocation, one pointer to take.
    var storage: [Double]

    /// Where each buffer lives in `storage`.
    private(set) var layout: Layout

    /// Creates a scratch for contexts of `contextCount` features, `descriptorCount` descriptors
    /// per candidate and up to `maxCandidates` candidates.
    /// - Complexity: O(d + K·|q|); allocates.
    public init(contextCount: Int, descriptorCount: Int, maxCandidates: Int) {
        precondition(contextCount >= 1 && descriptorCount >= 1, "BanditScratch: |c| = \(contextCount) and |q| = \(descriptorCount) must be positive")
        self.contextCount = contextCount
        self.descriptorCount = descriptorCount
        capacity = max(1, maxCandidates)
        candidateCount = 0
        layout = Layout(contextCount: contextCount, descriptorCount: descriptorCount, capacity: capacity)
        storage = Array(repeating: 0, count: layout.total)
    }

    /// The expected reward θᵀφ_k of each candidate of the last call.
    /// - Complexity: O(K); allocates the result.
    package var means: [Double] { Array(storage[layout.means.prefix(candidateCount)]) }

    /// The confidence width √(φ_kᵀA⁻¹φ_k) of each candidate of the last call that computed
    /// widths (``LinearBandit/scores(context:descriptors:scratch:)`` and LinUCB decisions).
    /// - Complexity: O(K); allocates the result.
    package var widths: [Double] { Array(storage[layout.widths.prefix(candidateCount)]) }

    /// The score each candidate of the last `decide` was ranked by: the mean (ε-greedy,
    /// softmax), the upper confidence bound (LinUCB) or the sampled score (Thompson).
    /// - Complexity: O(K); allocates the result.
    package var scores: [Double] { Array(storage[layout.scores.prefix(candidateCount)]) }

    /// Copies c and the flat K × |q| descriptor rows into the scratch.
    mutating func stage(context: [Double], descriptors: [Double]) {
        precondition(context.count == contextCount, "LinearBandit: context has \(context.count) features, expected \(contextCount)")
        precondition(
            !descriptors.isEmpty && descriptors.count % descriptorCount == 0,
            "LinearBandit: \(descriptors.count) descriptor values are not a positive multiple of |q| = \(descriptorCount)"
        )
        let count = descriptors.count / descriptorCount
        reserve(candidates: count)
        candidateCount = count
        let layout = layout
        storage.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<contextCount {
                buffer[layout.context.lowerBound + i] = context[i]
            }
            for i in 0..<descriptors.count {
                buffer[layout.descriptors.lowerBound + i] = descriptors[i]
            }
        }
    }

    /// Copies c and the descriptors of `candidates` into the scratch.
    mutating func stage(context: [Double], candidates: [CandidatePlan]) {
        precondition(context.count == contextCount, "LinearBandit: context has \(context.count) features, expected \(contextCount)")
        precondition(
            descriptorCount == PlanDescriptors.count,
            "LinearBandit: candidate plans have \(PlanDescriptors.count) descriptors, the bandit expects \(descriptorCount)"
        )
        precondition(!candidates.isEmpty, "LinearBandit: a decision needs at least one candidate")
        reserve(candidates: candidates.count)
        candidateCount = candidates.count
        let layout = layout
        let nq = descriptorCount
        storage.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<contextCount {
                buffer[layout.context.lowerBound + i] = context[i]
            }
            for (k, candidate) in candidates.enumerated() {
                for j in 0..<nq {
                    buffer[layout.descriptors.lowerBound + k * nq + j] = candidate.descriptors[j]
                }
            }
        }
    }

    /// Grows the buffers to hold `candidates` candidates (allocates only when it must).
    private mutating func reserve(candidates: Int) {
        guard candidates > capacity else { return }
        capacity = max(candidates, 2 * capacity)
        layout = Layout(contextCount: contextCount, descriptorCount: descriptorCount, capacity: capacity)
        storage = Array(repeating: 0, count: layout.total)
    }

    /// The position of each buffer in `storage`.
    struct Layout: Sendable {
        /// c.
        let context: Range<Int>
        /// K rows of q.
        let descriptors: Range<Int>
        /// w̄ = Θᵀc.
        let meanWeights: Range<Int>
        /// A posterior draw of w.
        let sampledWeights: Range<Int>
        /// G = Cᵀ·A⁻¹·C, |q| × |q|.
        let gram: Range<Int>
        /// The lower Cholesky factor of G.
        let gramFactor: Range<Int>
        /// |q| standard normal draws, or a row of partial sums.
        let normals: Range<Int>
        /// A d-vector: z, then L⁻ᵀz.
        let sample: Range<Int>
        /// A d-vector: θ at the decision's prices (priced bandits).
        let pricedTheta: Range<Int>
        /// Per-candidate means, widths, scores, and probabilities or win counts.
        let means: Range<Int>
        let widths: Range<Int>
        let scores: Range<Int>
        let weights: Range<Int>
        /// The total length.
        let total: Int

        init(contextCount nc: Int, descriptorCount nq: Int, capacity: Int) {
            var next = 0
            func take(_ count: Int) -> Range<Int> {
                defer { next += count }
                return next..<(next + count)
            }
            context = take(nc)
            descriptors = take(capacity * nq)
            meanWeights = take(nq)
            sampledWeights = take(nq)
            gram = take(nq * nq)
            gramFactor = take(nq * nq)
            normals = take(nq)
            sample = take(nc * nq)
            pricedTheta = take(nc * nq)
            means = take(capacity)
            widths = take(capacity)
            scores = take(capacity)
            weights = take(capacity)
            total = next
        }
    }
}

/// Pointers to the buffers of a `BanditScratch`, valid inside one `withUnsafeMutableBufferPointer`.
struct ScratchBuffers {
    let context: UnsafeMutableBufferPointer<Double>
    let descriptors: UnsafeMutableBufferPointer<Double>
    let meanWeights: UnsafeMutableBufferPointer<Double>
    let sampledWeights: UnsafeMutableBufferPointer<Double>
    let gram: UnsafeMutableBufferPointer<Double>
    let gramFactor: UnsafeMutableBufferPointer<Double>
    let normals: UnsafeMutableBufferPointer<Double>
    let sample: UnsafeMutableBufferPointer<Double>
    let pricedTheta: UnsafeMutableBufferPointer<Double>
    let means: UnsafeMutableBufferPointer<Double>
    let widths: UnsafeMutableBufferPointer<Double>
    let scores: UnsafeMutableBufferPointer<Double>
    let weights: UnsafeMutableBufferPointer<Double>

    init(_ buffer: UnsafeMutableBufferPointer<Double>, _ layout: BanditScratch.Layout) {
        func slice(_ range: Range<Int>) -> UnsafeMutableBufferPointer<Double> {
            UnsafeMutableBufferPointer(rebasing: buffer[range])
        }
        context = slice(layout.context)
        descriptors = slice(layout.descriptors)
        meanWeights = slice(layout.meanWeights)
        sampledWeights = slice(layout.sampledWeights)
        gram = slice(layout.gram)
        gramFactor = slice(layout.gramFactor)
        normals = slice(layout.normals)
        sample = slice(layout.sample)
        pricedTheta = slice(layout.pricedTheta)
        means = slice(layout.means)
        widths = slice(layout.widths)
        scores = slice(layout.scores)
        weights = slice(layout.weights)
    }
}
