import AdLoadCore
import LinearAlgebra

/// One session's priced quantities: what the pacing prices weigh.
public struct PricedOutcome: Sendable, Equatable {
    /// Realized revenue.
    public var revenue: Double
    /// Ad impressions.
    public var impressions: Double
    /// Negative reactions (hides, reports, fast skips).
    public var negatives: Double
    /// Organic items seen.
    public var organicItems: Double

    public init(revenue: Double, impressions: Double, negatives: Double, organicItems: Double) {
        self.revenue = revenue
        self.impressions = impressions
        self.negatives = negatives
        self.organicItems = organicItems
    }

    /// The quantities in component order (revenue, impressions, negatives, organic items).
    var components: (Double, Double, Double, Double) { (revenue, impressions, negatives, organicItems) }
}

/// What makes a linear bandit priced: a ridge model of each priced quantity over the
/// bandit's own A, so that its estimate of the priced objective is exact for any prices
/// (docs/pacing.md).
///
/// The bandit's own model learns the reward R₀ it was trained with. At prices p the
/// objective is R(p) = R₀ + (p_rev − 1)·revenue − p_imp·c_imp·impressions
/// − p_neg·c_neg·negatives + p_org·c_org·organic items, and since every term shares A,
/// θ(p) = θ₀ + Σ_k α_k(p)·θ_k with θ_k = A⁻¹b_k: a weighted sum of five vectors, so one
/// policy serves any prices and answers a price change at the next decision, with no
/// retraining and no sampling of prices in training.
///
/// The scales c make every price dimensionless, in units of the policy's average revenue:
/// c_imp is revenue per impression, c_neg revenue per negative reaction and c_org revenue
/// per organic item, from the totals of everything the model learned from. An impression
/// price of 1 charges each impression what it earns on average.
package struct BanditPricing: Sendable, Equatable {
    /// The quantities' names, in component order, as in policy files.
    package static let componentNames = ["revenue", "impressions", "negatives", "organic_items"]

    /// b_k = Σ w·x_k·φ per component.
    package private(set) var b: [Vector]
    /// θ_k = A⁻¹b_k per component, kept current with every update.
    package private(set) var theta: [Vector]
    /// Σ w·x_k per component: the scales' numerators and denominators.
    package private(set) var totals: [Double]

    /// Pricing with nothing learned (every b_k zero), for a bandit of dimension d.
    package init(dimension: Int) {
        b = Array(repeating: .zeros(dimension), count: 4)
        theta = b
        totals = [0, 0, 0, 0]
    }

    /// Pricing restored from a file's b_k and totals, with θ_k = A⁻¹b_k from the model's inverse.
    package init(b: [Vector], totals: [Double], inverse: Matrix) {
        precondition(b.count == 4 && totals.count == 4, "BanditPricing: four components")
        self.b = b
        self.totals = totals
        theta = b.map { _ in .zeros(inverse.rows) }
        refit(inverse: inverse)
    }

    /// Revenue per impression, per negative reaction and per organic item, over everything learned (0 before any).
    package var scales: (impressions: Double, negatives: Double, organicItems: Double) {
        func per(_ denominator: Double) -> Double { denominator > 0 ? totals[0] / denominator : 0 }
        return (per(totals[1]), per(totals[2]), per(totals[3]))
    }

    /// α(p): the weights of θ_1…θ_4 in θ(p) = θ₀ + Σ α_k·θ_k.
    package func coefficients(_ prices: PacingPrices) -> (Double, Double, Double, Double) {
        let scales = scales
        return (
            prices.revenue - 1, -prices.impressions * scales.impressions, -prices.negatives * scales.negatives,
            prices.organic * scales.organicItems
        )
    }

    /// Learns one observation, after `model` has applied the same one (its staged φ and its
    /// gain A⁻¹φ, of A before the update, are what this reads).
    /// - Complexity: O(d) per component, plus O(d²) per component when the model has just
    ///   refreshed A⁻¹ from A (θ_k is then recomputed from b_k).
    mutating func update(after model: RidgeModel, outcome: PricedOutcome, weight: Double) {
        guard weight > 0 else { return }
        let values = outcome.components
        precondition(
            values.0.isFinite && values.1.isFinite && values.2.isFinite && values.3.isFinite,
            "BanditPricing.update: the priced outcome must be finite, got \(outcome)")
        // Sherman–Morrison as in RidgeModel: θ_k moves by w·(x_k − φᵀθ_k)/(1 + w·φᵀg)·g.
        let features = model.features
        let gain = model.gain
        let denominator = 1 + weight * Kernels.dot(features, gain)
        func learn(_ k: Int, _ value: Double) {
            let residual = value - Kernels.dot(features, theta[k])
            Kernels.axpy(alpha: weight * residual / denominator, gain, into: &theta[k])
            Kernels.axpy(alpha: weight * value, features, into: &b[k])
            totals[k] += weight * value
        }
        learn(0, values.0)
        learn(1, values.1)
        learn(2, values.2)
        learn(3, values.3)
        if model.updatesSinceRefresh == 0 { refit(inverse: model.inverse) }
    }

    /// θ_k = A⁻¹b_k for every component.
    mutating func refit(inverse: Matrix) {
        for k in 0..<4 { Kernels.gemv(inverse, b[k], into: &theta[k]) }
    }

    /// Writes θ(p) = θ₀ + Σ α_k(p)·θ_k into `destination` (d values).
    /// - Complexity: O(5d), no allocation.
    func pricedTheta(base: UnsafeBufferPointer<Double>, prices: PacingPrices, into destination: UnsafeMutableBufferPointer<Double>) {
        let alpha = coefficients(prices)
        for i in 0..<base.count { destination[i] = base[i] }
        func add(_ k: Int, _ weight: Double) {
            guard weight != 0 else { return }
            theta[k].withUnsafeBufferPointer { component in
                for i in 0..<component.count { destination[i] += weight * component[i] }
            }
        }
        add(0, alpha.0)
        add(1, alpha.1)
        add(2, alpha.2)
        add(3, alpha.3)
    }
}
