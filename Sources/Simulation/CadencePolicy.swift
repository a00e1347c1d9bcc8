import AdLoadCore

/// The baseline family of ENVMODEL.md: an ad after every K organic items (the first after
/// the session's first K organic items, so at position K + 1), with K fixed, chosen per
/// observable segment, or chosen per user.
///
/// `K = 0` fills every allowed slot (myopic); `nil` shows no ads. The placement rules are
/// applied through ``PlacementTracker`` so a cadence never produces an invalid plan: an ad
/// the rules forbid moves to the next allowed position.
public struct CadencePolicy: SessionPolicy, PolicyWorker {
    /// How K is chosen for a session.
    public enum Assignment: Sendable, Equatable {
        case uniform(Int?)
        /// K per observable segment index.
        case bySegment([Int?])
        /// K per user index (the latent-aware oracle).
        case byUser([Int?])
    }

    public let name: String
    @usableFromInline let assignment: Assignment

    public init(name: String, assignment: Assignment) {
        self.name = name
        self.assignment = assignment
    }

    /// No ads at all.
    package static let none = CadencePolicy(name: "none", assignment: .uniform(nil))
    /// Every allowed slot: maximizes this session's ad count.
    package static let myopic = CadencePolicy(name: "myopic", assignment: .uniform(0))
    /// One ad after every `k` organic items.
    public static func fixed(every k: Int) -> CadencePolicy {
        CadencePolicy(name: "fixed:every=\(k)", assignment: .uniform(k))
    }

    /// The cadence K for a session in `context`, or `nil` for no ads.
    @inlinable
    package func cadence(for context: SessionContext) -> Int? {
        switch assignment {
        case let .uniform(k): k
        case let .bySegment(table): context.segment < table.count ? table[context.segment] : nil
        case let .byUser(table): context.userIndex < table.count ? table[context.userIndex] : nil
        }
    }

    public func beginSession(_ context: SessionContext) -> CadenceDecider {
        CadenceDecider(every: cadence(for: context) ?? -1)
    }
}

/// Shows an ad whenever the rules allow one and at least `every` organic items have passed
/// since the last ad (since the session start for the first ad); a negative `every` shows none.
public struct CadenceDecider: AdDecider {
    @usableFromInline package let every: Int

    @inlinable
    package init(every: Int) { self.every = every }

    @inlinable
    public mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool {
        every >= 0 && (session.ads == 0 ? session.items >= every : tracker.organicSinceLastAd >= every) && tracker.allowsAd()
    }
}

/// The blunt priced policy: a fixed cadence whose gap between ads follows the pacing
/// prices, K = K₀ · (1 + impression price) / revenue price, as a real number realized per
/// session by drawing between ⌊K⌋ and ⌈K⌉ (keyed by user and session, so reproducible).
/// It answers prices with more or fewer ads for everyone alike: the baseline a priced
/// learner, which chooses whom to show more ads, has to beat at equal revenue.
package struct PricedCadencePolicy: SessionPolicy {
    package let name: String
    /// The cadence at the default prices.
    package let every: Int
    /// Seed of the per-session draws between ⌊K⌋ and ⌈K⌉.
    let seed: UInt64

    package init(every: Int, seed: UInt64 = 0) {
        name = "priced:every=\(every)"
        self.every = every
        self.seed = seed
    }

    /// The cadence at `prices`, before rounding (at most 200 items between ads).
    package func cadence(at prices: PacingPrices) -> Double {
        min(200, Double(every) * (1 + prices.impressions) / max(prices.revenue, 1e-3))
    }

    package func makeWorker() -> Worker { Worker(policy: self) }

    package struct Worker: PolicyWorker {
        let policy: PricedCadencePolicy
        var cadence: Double

        init(policy: PricedCadencePolicy) {
            self.policy = policy
            cadence = policy.cadence(at: .defaults)
        }

        package mutating func setPrices(_ prices: PacingPrices) { cadence = policy.cadence(at: prices) }

        package mutating func beginSession(_ context: SessionContext) -> CadenceDecider {
            let low = cadence.rounded(.down)
            let draw = CounterRandom(seed: policy.seed, domain: 0x7072_6963_6564)  // "priced"
                .child(UInt64(context.userIndex)).uniform(UInt64(context.sessionIndex))
            return CadenceDecider(every: Int(draw < cadence - low ? low + 1 : low))
        }
    }
}
