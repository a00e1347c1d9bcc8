/// The hard placement rules of one region: where ads may go in a session.
///
/// These rules are enforced in exactly one place, ``PlacementTracker``: the simulator,
/// the baseline and learned policies, and the decision service all go through it, so a
/// plan that breaks them is never produced, explored, or accepted.
public struct PlacementRules: Sendable, Hashable {
    /// Earliest 1-based feed position that may hold an ad.
    @usableFromInline package let firstSlot: Int
    /// Minimum number of organic items between two ads.
    @usableFromInline package let minGap: Int
    /// Maximum share of ads among the positions seen so far, in basis points (1/10000),
    /// checked at every ad: after an ad at position t, ads(≤ t) / t ≤ share.
    @usableFromInline let maxShareBasisPoints: Int
    /// Maximum ads in one session.
    @usableFromInline package let maxAdsPerSession: Int
    /// Maximum ads per user per calendar day, or `nil` for no daily cap.
    @usableFromInline package let dailyCap: Int?

    /// Creates rules, rejecting values that make no sense.
    /// - Parameter maxShare: the regional ad share cap as a fraction in (0, 1].
    public init(firstSlot: Int, minGap: Int, maxShare: Double, maxAdsPerSession: Int, dailyCap: Int?) throws(RulesError) {
        guard firstSlot >= 1 else { throw .invalid(field: "first_slot", value: "\(firstSlot)", expected: "an integer ≥ 1") }
        guard minGap >= 0 else { throw .invalid(field: "min_gap", value: "\(minGap)", expected: "an integer ≥ 0") }
        guard maxShare > 0 && maxShare <= 1 else {
            throw .invalid(field: "max_ad_share", value: "\(maxShare)", expected: "a fraction in (0, 1]")
        }
        guard maxAdsPerSession >= 0 else {
            throw .invalid(field: "max_ads_per_session", value: "\(maxAdsPerSession)", expected: "an integer ≥ 0")
        }
        if let dailyCap, dailyCap < 0 {
            throw .invalid(field: "daily_cap", value: "\(dailyCap)", expected: "an integer ≥ 0 or null")
        }
        self.firstSlot = firstSlot
        self.minGap = minGap
        self.maxShareBasisPoints = Int((maxShare * 10_000).rounded())
        self.maxAdsPerSession = maxAdsPerSession
        self.dailyCap = dailyCap
    }

    /// The share cap as a fraction.
    @usableFromInline package var maxShare: Double { Double(maxShareBasisPoints) / 10_000 }

    /// Why `plan` breaks these rules for a session of `feedLength` positions when the user
    /// has already seen `adsToday` ads today, or `nil` if it is valid.
    public func violation(of plan: AdPlan, feedLength: Int, adsToday: Int) -> PlacementViolation? {
        var tracker = PlacementTracker(rules: self, adsToday: adsToday)
        for position in 1...AdPlan.maxPosition where plan.contains(position) {
            if position > feedLength { return .positionOutOfRange(position: position, feedLength: feedLength) }
        }
        for position in 1...max(1, min(feedLength, AdPlan.maxPosition)) {
            let wantsAd = plan.contains(position)
            if wantsAd, let violation = tracker.violation() { return violation }
            tracker.advance(showingAd: wantsAd)
        }
        return nil
    }

    /// The plan that puts an ad after every `every` organic items (the first after the
    /// session's first `every` items), moving an ad the rules forbid to the next allowed
    /// position. `every = 0` fills every allowed slot (the myopic plan).
    public func cadencePlan(every: Int, feedLength: Int, adsToday: Int) -> AdPlan {
        var plan = AdPlan()
        var tracker = PlacementTracker(rules: self, adsToday: adsToday)
        var organicItems = 0
        for position in 1...max(1, min(feedLength, AdPlan.maxPosition)) {
            let due = plan.count == 0 ? organicItems >= every : tracker.organicSinceLastAd >= every
            let ad = due && tracker.allowsAd()
            if ad { plan.insert(position) } else { organicItems += 1 }
            tracker.advance(showingAd: ad)
        }
        return plan
    }
}

/// An invalid rule value, named by its configuration field.
public enum RulesError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .invalid(field, value, expected): "\(field) is \(value), expected \(expected)"
        }
    }
}

/// Which placement rule a plan breaks, and where.
public enum PlacementViolation: Error, Sendable, Equatable, CustomStringConvertible {
    case positionOutOfRange(position: Int, feedLength: Int)
    case beforeFirstSlot(position: Int, firstSlot: Int)
    case gapTooSmall(position: Int, gap: Int, minGap: Int)
    case shareExceeded(position: Int, ads: Int, maxShare: Double)
    case sessionCapExceeded(position: Int, maxAds: Int)
    case dailyCapExceeded(position: Int, dailyCap: Int)

    public var description: String {
        switch self {
        case let .positionOutOfRange(position, feedLength):
            "ad position \(position) is outside the feed (1...\(feedLength))"
        case let .beforeFirstSlot(position, firstSlot):
            "ad at position \(position) comes before the first allowed slot \(firstSlot)"
        case let .gapTooSmall(position, gap, minGap):
            "ad at position \(position) follows the previous ad after \(gap) organic items; at least \(minGap) are required"
        case let .shareExceeded(position, ads, maxShare):
            "ad at position \(position) would make \(ads) ads in \(position) positions, above the share cap \(maxShare)"
        case let .sessionCapExceeded(position, maxAds):
            "ad at position \(position) exceeds the session cap of \(maxAds) ads"
        case let .dailyCapExceeded(position, dailyCap):
            "ad at position \(position) exceeds the daily cap of \(dailyCap) ads"
        }
    }
}

/// Incremental enforcement of ``PlacementRules`` position by position within a session.
///
/// The one place the rules are checked: ``PlacementRules/violation(of:feedLength:adsToday:)``
/// replays a whole plan through it, the simulator asks it at every position, and the
/// cadence baselines use it to find allowed slots. Never allocates.
public struct PlacementTracker: Sendable {
    @usableFromInline package let rules: PlacementRules
    @usableFromInline var currentPosition = 1
    @usableFromInline var adCount = 0
    @usableFromInline var organicCount = Int.max / 2

    /// The 1-based position the next call to ``advance(showingAd:)`` fills.
    @inlinable package var position: Int { currentPosition }
    /// Ads shown so far in this session.
    @inlinable var adsShown: Int { adCount }
    /// Organic items since the last ad (a large number before the first ad).
    @inlinable package var organicSinceLastAd: Int { organicCount }
    /// Ads already shown to this user today, before this session.
    @usableFromInline package let adsToday: Int

    @inlinable
    package init(rules: PlacementRules, adsToday: Int) {
        self.rules = rules
        self.adsToday = adsToday
    }

    /// Why an ad at the current position would break a rule, or `nil` if allowed.
    @inlinable
    package func violation() -> PlacementViolation? {
        if position < rules.firstSlot { return .beforeFirstSlot(position: position, firstSlot: rules.firstSlot) }
        if organicSinceLastAd < rules.minGap {
            return .gapTooSmall(position: position, gap: organicSinceLastAd, minGap: rules.minGap)
        }
        if (adsShown + 1) * 10_000 > rules.maxShareBasisPoints * position {
            return .shareExceeded(position: position, ads: adsShown + 1, maxShare: rules.maxShare)
        }
        if adsShown >= rules.maxAdsPerSession { return .sessionCapExceeded(position: position, maxAds: rules.maxAdsPerSession) }
        if let cap = rules.dailyCap, adsToday + adsShown >= cap { return .dailyCapExceeded(position: position, dailyCap: cap) }
        return nil
    }

    /// Whether an ad at the current position is allowed.
    @inlinable
    package func allowsAd() -> Bool {
        position >= rules.firstSlot
            && organicSinceLastAd >= rules.minGap
            && (adsShown + 1) * 10_000 <= rules.maxShareBasisPoints * position
            && adsShown < rules.maxAdsPerSession
            && (rules.dailyCap.map { adsToday + adsShown < $0 } ?? true)
    }

    /// Moves past the current position, which held an ad or an organic item.
    @inlinable
    package mutating func advance(showingAd: Bool) {
        if showingAd {
            adCount += 1
            organicCount = 0
        } else {
            organicCount += 1
        }
        currentPosition += 1
    }
}
