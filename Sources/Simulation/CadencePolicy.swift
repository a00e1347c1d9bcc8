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
