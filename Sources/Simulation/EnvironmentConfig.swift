import AdLoadCore

/// Shifts an observed attribute (region, device, tenure) applies to a user's latent traits.
public struct TraitShifts: Sendable, Equatable {
    /// Added to ln τ (ad tolerance).
    public var tolerance: Double
    /// Added to the click logit κ.
    public var click: Double
    /// Added to the base exit logit h.
    public var exit: Double
    /// Added to ln λ (visit rate).
    public var visit: Double

    public static let zero = TraitShifts(tolerance: 0, click: 0, exit: 0, visit: 0)

    static func + (lhs: TraitShifts, rhs: TraitShifts) -> TraitShifts {
        TraitShifts(tolerance: lhs.tolerance + rhs.tolerance, click: lhs.click + rhs.click,
                    exit: lhs.exit + rhs.exit, visit: lhs.visit + rhs.visit)
    }
}

/// One region: its share of users, its ad value, its hard placement rules.
public struct RegionConfig: Sendable, Equatable {
    public var name: String
    public var populationShare: Double
    /// Multiplies every ad's revenue (regional price level).
    public var revenueMultiplier: Double
    public var rules: PlacementRules
    public var shifts: TraitShifts
}

/// One value of an observed attribute other than region (a device, a tenure bucket).
public struct SegmentConfig: Sendable, Equatable {
    public var name: String
    public var populationShare: Double
    public var shifts: TraitShifts
}

/// Distribution of the latent traits (ENVMODEL.md, "Users").
public struct LatentParameters: Sendable, Equatable {
    public var toleranceSD: Double
    public var baseCTR: Double
    public var clickSD: Double
    public var clickToleranceCorrelation: Double
    public var baseExitLogit: Double
    public var exitSD: Double
    public var visitRate: Double
    public var visitRateSD: Double
}

/// Within-session dynamics (ENVMODEL.md, "State and dynamics").
public struct DynamicsParameters: Sendable, Equatable {
    public var fatigueDecay: Double
    public var blindnessPerAd: Double
    public var earlyPenalty: Double
    public var earlyPositions: Int
    public var backToBackPenalty: Double
    public var backToBackGap: Int
    public var clickBlindness: Double
    public var clickFatigue: Double
    public var revenuePerImpression: Double
    public var revenuePerClick: Double
    public var inventoryDecay: Double
    public var negativeBase: Double
    public var negativeFatigue: Double
    public var negativeSatisfactionDrop: Double
    public var negativeExitBoost: Double
    public var satisfactionRate: Double
    public var adUtility: Double
    public var organicUtility: Double
    public var exitSatisfaction: Double
    public var exitPerAd: Double
    public var exitFatigue: Double
    public var dwellLogMean: Double
    public var dwellSatisfaction: Double
    public var dwellFatigue: Double
    public var dwellLogSD: Double
}

/// Churn and return between sessions.
public struct ReturnParameters: Sendable, Equatable {
    public var churnBase: Double
    public var churnSatisfaction: Double
    public var returnSatisfaction: Double
    public var satisfactionMemoryDays: Double
    public var blindnessMemoryDays: Double
}

/// The long-run objective: Σ_sessions e^(−r t)(revenue + w_e · items).
public struct ObjectiveParameters: Sendable, Equatable {
    public var engagementWeight: Double
    public var discountPerDay: Double
    /// Credit the expected click revenue (click probability × value) instead of the sampled
    /// click: same mean, lower variance. Clicks are still sampled for what is observed.
    public var expectedRevenue: Bool
}

/// A whole environment-model configuration, as loaded from `env/*.json`.
public struct EnvironmentConfig: Sendable, Equatable {
    public var name: String
    public var summary: String
    /// Regions sorted by name.
    public var regions: [RegionConfig]
    public var devices: [SegmentConfig]
    public var tenures: [SegmentConfig]
    public var latent: LatentParameters
    public var dynamics: DynamicsParameters
    public var returns: ReturnParameters
    /// Added to the exit logit at each hour of the day (24 values).
    public var hourExitShift: [Double]
    /// Multiplies ad revenue at each hour of the day (24 values).
    public var hourAdValue: [Double]
    public var objective: ObjectiveParameters
    /// Length of the feed a session can scroll (positions); sessions end at the latest there.
    public var maxItems: Int

    /// Number of observable segments (region × device × tenure).
    public var segmentCount: Int { regions.count * devices.count * tenures.count }

    /// Index of the region called `name`, if any.
    public func regionIndex(named name: String) -> Int? { regions.firstIndex { $0.name == name } }

    /// A readable name for observable segment `index`.
    public func segmentName(_ index: Int) -> String {
        let tenure = index % tenures.count
        let device = (index / tenures.count) % devices.count
        let region = index / (tenures.count * devices.count)
        return "\(regions[region].name)/\(devices[device].name)/\(tenures[tenure].name)"
    }
}
