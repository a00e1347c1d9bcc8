/// The compact family of ad plans a learner chooses from: the first ad at position
/// `first`, then one ad after every `spacing` organic items, at most `maxAds` ads; plus
/// the plan with no ads.
///
/// A ``PlanCatalog`` materializes the family once per region and keeps only the plans the
/// region's rules allow, so a learner only ever scores valid plans.
package struct PlanFamily: Sendable, Equatable {
    package var firstPositions: [Int]
    package var spacings: [Int]
    package var maxAds: [Int]

    package init(firstPositions: [Int], spacings: [Int], maxAds: [Int]) {
        self.firstPositions = firstPositions
        self.spacings = spacings
        self.maxAds = maxAds
    }

    /// The default family: 6 first positions × 13 spacings, at most 40 ads.
    package static let standard = PlanFamily(
        firstPositions: [4, 6, 10, 15, 20, 30],
        spacings: [2, 3, 4, 6, 8, 10, 12, 14, 17, 20, 25, 30, 40],
        maxAds: [40])
}

/// One member of a ``PlanFamily``: `first`, `spacing`, `maxAds`, or the empty plan.
package struct PlanSpec: Sendable, Hashable, CustomStringConvertible {
    /// Position of the first ad (0 for the plan with no ads).
    package let first: Int
    /// Organic items between consecutive ads.
    package let spacing: Int
    /// Largest number of ads.
    package let maxAds: Int

    package init(first: Int, spacing: Int, maxAds: Int) {
        self.first = first
        self.spacing = spacing
        self.maxAds = maxAds
    }

    /// The plan with no ads.
    package static let empty = PlanSpec(first: 0, spacing: 0, maxAds: 0)

    package var isEmpty: Bool { maxAds == 0 }

    package var description: String { isEmpty ? "no-ads" : "first=\(first),every=\(spacing),max=\(maxAds)" }

    /// The ad positions of this spec in a feed of `feedLength` positions, at most `limit` ads.
    package func plan(feedLength: Int, limit: Int) -> AdPlan {
        var plan = AdPlan()
        guard !isEmpty, first >= 1 else { return plan }
        var position = first
        var count = 0
        while position <= min(feedLength, AdPlan.maxPosition) && count < min(maxAds, limit) {
            plan.insert(position)
            count += 1
            position += spacing + 1
        }
        return plan
    }
}

/// A valid plan with the descriptors the feature encoder uses.
public struct CandidatePlan: Sendable, Equatable {
    package let spec: PlanSpec
    package let plan: AdPlan
    /// Ad count of the plan.
    let adCount: Int
    /// Position of the last ad (0 for the empty plan).
    package let lastPosition: Int
    /// The plan descriptors q (see ``FeatureSchema/descriptorNames``).
    package let descriptors: PlanDescriptors

    package init(spec: PlanSpec, plan: AdPlan) {
        self.spec = spec
        self.plan = plan
        adCount = plan.count
        lastPosition = plan.positions.last ?? 0
        descriptors = PlanDescriptors(plan: plan)
    }
}

/// Plan descriptors q = (1, density, density², first-ad delay), where density is the
/// number of ads per 10 positions among the first 60 and the delay is the first ad's
/// position / 20 (3 for the empty plan): what a linear model needs to find a
/// context-dependent optimal ad load.
public struct PlanDescriptors: Sendable, Equatable {
    public static let count = 4
    package static let names = ["one", "density", "density_squared", "first_ad_delay"]
    public static let horizon = 60

    public let values: InlineArray<4, Double>

    public init(plan: AdPlan) {
        var early = 0
        var first = 0
        for position in 1...PlanDescriptors.horizon where plan.contains(position) {
            early += 1
            if first == 0 { first = position }
        }
        if first == 0 { first = plan.positions.first ?? PlanDescriptors.horizon }
        let density = Double(early) / 6
        values = [1, density, density * density, Double(first) / 20]
    }

    public subscript(index: Int) -> Double { values[index] }

    public static func == (lhs: PlanDescriptors, rhs: PlanDescriptors) -> Bool {
        (0..<count).allSatisfy { lhs.values[$0] == rhs.values[$0] }
    }
}

/// The valid plans of a ``PlanFamily`` per region, materialized once.
///
/// Validity is checked with ``PlacementRules/violation(of:feedLength:adsToday:)`` on the
/// longest feed; a shorter feed or a daily cap only removes later ads, and a prefix of a
/// valid plan is valid, so ``candidates(region:feedLength:adsToday:into:)`` truncates
/// instead of re-checking.
package struct PlanCatalog: Sendable {
    package let family: PlanFamily
    /// Valid candidates per region index, the empty plan first, duplicates removed.
    let byRegion: [[CandidatePlan]]
    /// The specs of ``byRegion``, for membership tests.
    let specSets: [Set<PlanSpec>]
    let rules: [PlacementRules]

    package init(family: PlanFamily, rules: [PlacementRules]) {
        self.family = family
        self.rules = rules
        let byRegion = rules.map { regionRules in
            var seen = Set<AdPlan>()
            var result = [CandidatePlan(spec: .empty, plan: AdPlan())]
            seen.insert(AdPlan())
            for first in family.firstPositions {
                for spacing in family.spacings {
                    for maxAds in family.maxAds {
                        let spec = PlanSpec(first: first, spacing: spacing, maxAds: maxAds)
                        let plan = spec.plan(feedLength: AdPlan.maxPosition, limit: regionRules.maxAdsPerSession)
                        guard regionRules.violation(of: plan, feedLength: AdPlan.maxPosition, adsToday: 0) == nil,
                              !seen.contains(plan) else { continue }
                        seen.insert(plan)
                        result.append(CandidatePlan(spec: spec, plan: plan))
                    }
                }
            }
            return result
        }
        self.byRegion = byRegion
        specSets = byRegion.map { Set($0.map(\.spec)) }
    }

    /// Whether ``candidates(region:feedLength:adsToday:maxAds:into:)`` offers spec `spec`
    /// for a session: the plan with no ads always; another when the region's rules allow
    /// it and an ad of it is left after the cut to the feed and to the daily cap.
    /// - Complexity: O(1), no allocation.
    package func offers(_ spec: PlanSpec, region: Int, feedLength: Int, adsToday: Int) -> Bool {
        if spec.isEmpty { return true }
        return allowsAnotherAd(region: region, adsToday: adsToday) && spec.first <= feedLength && specSets[region].contains(spec)
    }

    /// Whether `region`'s daily cap leaves room for an ad after `adsToday` ads.
    package func allowsAnotherAd(region: Int, adsToday: Int) -> Bool {
        (rules[region].dailyCap.map { $0 - adsToday } ?? Int.max) > 0
    }

    /// Whether `region` has a valid plan of `spec` in a feed long enough and with the daily
    /// cap not reached: ``offers(_:region:feedLength:adsToday:)`` is this, the cap's room and
    /// `spec.first ≤ feedLength` (precompute it to build masks without hashing).
    package func hasPlan(_ spec: PlanSpec, region: Int) -> Bool {
        spec.isEmpty || specSets[region].contains(spec)
    }

    /// The plan of spec `spec` for a session, cut as
    /// ``candidates(region:feedLength:adsToday:maxAds:into:)`` cuts it, or `nil` when that
    /// does not offer the spec (see ``offers(_:region:feedLength:adsToday:)``). Computes no
    /// descriptors (no allocation).
    package func plan(_ spec: PlanSpec, region: Int, feedLength: Int, adsToday: Int) -> AdPlan? {
        guard let candidate = byRegion[region].first(where: { $0.spec == spec }) else { return nil }
        let regionRules = rules[region]
        let dailyLeft = regionRules.dailyCap.map { max(0, $0 - adsToday) } ?? Int.max
        if candidate.adCount <= dailyLeft && candidate.lastPosition <= feedLength { return candidate.plan }
        let cut = spec.plan(feedLength: feedLength, limit: min(dailyLeft, regionRules.maxAdsPerSession))
        return spec.isEmpty || cut.count > 0 ? cut : nil
    }

    /// Every spec with a valid plan in some region, the empty one first, in catalog order:
    /// the action list of learners that choose among specs.
    package var allSpecs: [PlanSpec] {
        var all: [PlanSpec] = []
        for region in byRegion.indices {
            for spec in specs(region: region) where !all.contains(spec) { all.append(spec) }
        }
        return all
    }

    /// The specs with a valid plan in region `region`, the empty one first.
    package func specs(region: Int) -> [PlanSpec] { byRegion[region].map(\.spec) }

    /// The largest candidate count of any region.
    package var maxCandidates: Int { byRegion.map(\.count).max() ?? 0 }

    /// Writes the candidates valid for a session into `buffer` (reusing its storage).
    /// Plans are cut to the feed length, to the ads the daily cap still allows and to
    /// `maxAds` (0 when the client can show no ad at all: only the plan with no ads is left).
    package func candidates(region: Int, feedLength: Int, adsToday: Int, maxAds: Int = .max, into buffer: inout [CandidatePlan]) {
        buffer.removeAll(keepingCapacity: true)
        let regionRules = rules[region]
        let dailyLeft = min(max(0, maxAds), regionRules.dailyCap.map { max(0, $0 - adsToday) } ?? Int.max)
        for candidate in byRegion[region] {
            if candidate.adCount <= dailyLeft && candidate.lastPosition <= feedLength {
                buffer.append(candidate)
            } else if !candidate.spec.isEmpty {
                let cut = candidate.spec.plan(feedLength: feedLength, limit: min(dailyLeft, regionRules.maxAdsPerSession))
                if cut.count > 0 { buffer.append(CandidatePlan(spec: candidate.spec, plan: cut)) }
            }
        }
    }
}
