import AdLoadCore

/// What makes a network policy priced: the four pacing prices are four more inputs of its
/// network, after the context's features, and it was trained on an objective that weighs
/// each session's outcome by them (docs/pacing.md, "Priced PPO").
///
/// At prices p a session is worth
/// R(p) = p_rev·revenue + w·items − p_imp·c_imp·impressions − p_neg·c_neg·negatives + p_org·c_org·items,
/// with w the policy's engagement weight (its reward's `items`). Training samples p per
/// episode over ``ranges``, so one policy serves any prices in them and answers a price
/// change at the next decision. Outside them the inputs are clamped to the nearest end: the
/// network has not seen such prices.
///
/// The scales c make every price dimensionless, as a bandit's do: c_imp is revenue per
/// impression, c_neg revenue per negative reaction and c_org revenue per organic item,
/// measured before training on a uniformly random choice among the valid plans at the
/// default prices.
package struct NetworkPricing: Sendable, Equatable {
    /// The prices' names, in input order, as in policy files.
    package static let priceNames = ["revenue", "impressions", "negatives", "organic"]
    /// The scales' names, as in policy files.
    package static let scaleNames = ["impressions", "negatives", "organic_items"]
    /// The ranges training samples prices from unless told otherwise: the pacing
    /// controller's default price ceiling (10) for every price, and 0.1 as the revenue
    /// price's floor (a multiplier, sampled log-uniformly).
    package static let defaultRanges: [ClosedRange<Double>] = [0.1...10, 0...10, 0...10, 0...10]

    /// Revenue per impression, per negative reaction and per organic item.
    package var scales: [Double]
    /// Per price (``priceNames`` order), the range training sampled it from.
    package var ranges: [ClosedRange<Double>]

    /// - Precondition: three finite non-negative scales and four ranges.
    package init(scales: [Double], ranges: [ClosedRange<Double>] = Self.defaultRanges) {
        precondition(scales.count == 3 && scales.allSatisfy { $0.isFinite && $0 >= 0 }, "NetworkPricing: three finite scales")
        precondition(ranges.count == 4, "NetworkPricing: one range per price")
        self.scales = scales
        self.ranges = ranges
    }

    /// The scales of outcomes summed over many sessions (revenue per unit of each).
    package init(totalRevenue: Double, impressions: Double, negatives: Double, organicItems: Double, ranges: [ClosedRange<Double>] = Self.defaultRanges) {
        func per(_ amount: Double) -> Double { amount > 0 ? totalRevenue / amount : 0 }
        self.init(scales: [per(impressions), per(negatives), per(organicItems)], ranges: ranges)
    }

    /// The prices as the network's inputs (clamped to ``ranges``), written from `offset` on.
    /// - Complexity: O(1), no allocation.
    package func writeInputs(_ prices: PacingPrices, into buffer: UnsafeMutableBufferPointer<Double>, at offset: Int) {
        func clamped(_ k: Int, _ value: Double) -> Double { min(ranges[k].upperBound, max(ranges[k].lowerBound, value)) }
        buffer[offset] = clamped(0, prices.revenue)
        buffer[offset + 1] = clamped(1, prices.impressions)
        buffer[offset + 2] = clamped(2, prices.negatives)
        buffer[offset + 3] = clamped(3, prices.organic)
    }

    /// R(p) for one session's outcome (see the type's description).
    package func objective(_ outcome: PricedOutcome, prices: PacingPrices, engagementWeight: Double) -> Double {
        prices.revenue * outcome.revenue + engagementWeight * outcome.organicItems
            - prices.impressions * scales[0] * outcome.impressions - prices.negatives * scales[1] * outcome.negatives
            + prices.organic * scales[2] * outcome.organicItems
    }
}
