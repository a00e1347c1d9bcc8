import AdLoadCore

/// Shifts an observed attribute (region, device, tenure) applies to a user's latent traits.
struct TraitShifts: Sendable, Equatable {
    /// Added to ln τ (ad tolerance).
    var tolerance: Double
    /// Added to the click logit κ.
    var click: Double
    /// Added to the base exit logit h.
    var exit: Double
    /// Added to ln λ (visit rate).
    var visit: Double

    static let zero = TraitShifts(tolerance: 0, click: 0, exit: 0, visit: 0)

    static func + (lhs: TraitShifts, rhs: TraitShifts) -> TraitShifts {
        TraitShifts(tolerance: lhs.tolerance + rhs.tolerance, click: lhs.click + rhs.click,
                    exit: lhs.exit + rhs.exit, visit: lhs.visit + rhs.visit)
    }
}

/// One region: its share of users, its ad value, its hard placement rules.
public struct RegionConfig: Sendable, Equatable {
    public var name: String
    var populationShare: Double
    /// Multiplies every ad's revenue (regional price level).
    var revenueMultiplier: Double
    public var rules: PlacementRules
    var shifts: TraitShifts
}

/// One value of an observed attribute other than region (a device, a tenure bucket).
public struct SegmentConfig: Sendable, Equatable {
    public var name: String
    var populationShare: Double
    var shifts: TraitShifts
}

/// Distribution of the latent traits (ENVMODEL.md, "Users").
package struct LatentParameters: Sendable, Equatable {
    var toleranceSD: Double
    var baseCTR: Double
    var clickSD: Double
    var clickToleranceCorrelation: Double
    var baseExitLogit: Double
    var exitSD: Double
    var visitRate: Double
    var visitRateSD: Double
}

/// Within-session dynamics (ENVMODEL.md, "State and dynamics").
package struct DynamicsParameters: Sendable, Equatable {
    var fatigueDecay: Double
    var blindnessPerAd: Double
    var earlyPenalty: Double
    var earlyPositions: Int
    var backToBackPenalty: Double
    var backToBackGap: Int
    var clickBlindness: Double
    var clickFatigue: Double
    var revenuePerImpression: Double
    var revenuePerClick: Double
    var inventoryDecay: Double
    var negativeBase: Double
    var negativeFatigue: Double
    var negativeSatisfactionDrop: Double
    var negativeExitBoost: Double
    var satisfactionRate: Double
    var adUtility: Double
    var organicUtility: Double
    var exitSatisfaction: Double
    var exitPerAd: Double
    var exitFatigue: Double
    var dwellLogMean: Double
    var dwellSatisfaction: Double
    var dwellFatigue: Double
    var dwellLogSD: Double
}

/// Churn and return between sessions.
package struct ReturnParameters: Sendable, Equatable {
    var churnBase: Double
    var churnSatisfaction: Double
    var returnSatisfaction: Double
    var satisfactionMemoryDays: Double
    var blindnessMemoryDays: Double
}

/// The long-run objective: Σ_sessions e^(−r t)(revenue + w_e · items).
package struct ObjectiveParameters: Sendable, Equatable {
    package var engagementWeight: Double
    var discountPerDay: Double
    /// The objective credits the expected click revenue (click probability × value) instead
    /// of the sampled click: same mean, lower variance, for judging policies only. Learners,
    /// decision logs and replayed feedback always see the revenue of the clicks that happened.
    var expectedRevenue: Bool
}

/// What `adload train` uses on this environment when no tuning flag is given (the file's
/// optional `training` key): the ridge prior, reward weights over the algorithm's defaults,
/// and the bandit `train pg` clones first. The defaults of the code (``standard``) were tuned
/// on the default preset; a preset whose users differ carries its own.
package struct TrainingSettings: Sendable, Equatable {
    /// What `train pg --warm-start bandit` trains and clones: a bandit algorithm, or
    /// `best-plan` (the catalog plan best for everyone in each region, found by search on the
    /// training users, as the `best-plan` baseline is).
    package var teacher: String
    /// The ridge prior λ for every algorithm (`nil`: the per-algorithm defaults).
    package var lambda: Double?
    /// Reward weights set over the algorithm's defaults (`--reward` still overrides them).
    package var reward: [String: Double]
    /// How `train pg` measures advantages by default (`--branches` and `--paired-rollouts`
    /// still choose): branches, or paired rollouts where branches screened worse.
    package var policyGradientAdvantages: PolicyGradientAdvantages = .branches

    /// The ways `train pg` measures advantages (its `--branches` and `--paired-rollouts`).
    package enum PolicyGradientAdvantages: String, Sendable, CaseIterable {
        case branches, paired
    }

    /// What a teacher can be: a bandit algorithm or `best-plan`.
    package static let teachers = ["linucb", "thompson", "egreedy", "softmax", "best-plan"]
    /// What an environment file without a `training` key gets.
    package static let standard = TrainingSettings(teacher: "thompson", lambda: nil, reward: [:])

    package init(teacher: String, lambda: Double?, reward: [String: Double], policyGradientAdvantages: PolicyGradientAdvantages = .branches) {
        self.teacher = teacher
        self.lambda = lambda
        self.reward = reward
        self.policyGradientAdvantages = policyGradientAdvantages
    }
}

/// A whole environment-model configuration, as loaded from `env/*.json`.
public struct EnvironmentConfig: Sendable, Equatable {
    public var name: String
    package var summary: String
    /// The content fingerprint of the file it was read from (every key but `name` and
    /// `description`, formatting and key order aside): policies record it, and running a
    /// policy on an environment with another fingerprint is refused unless allowed.
    /// A config changed in code keeps the fingerprint of its file.
    package var fingerprint: String
    /// Regions sorted by name.
    public var regions: [RegionConfig]
    public var devices: [SegmentConfig]
    package var tenures: [SegmentConfig]
    package var latent: LatentParameters
    package var dynamics: DynamicsParameters
    package var returns: ReturnParameters
    /// Added to the exit logit at each hour of the day (24 values).
    var hourExitShift: [Double]
    /// Multiplies ad revenue at each hour of the day (24 values).
    var hourAdValue: [Double]
    package var objective: ObjectiveParameters
    /// Length of the feed a session can scroll (positions); sessions end at the latest there.
    package internal(set) var maxItems: Int
    /// Training defaults for this environment (not part of the fingerprint: they do not
    /// change what the environment does).
    package var training = TrainingSettings.standard

    /// Number of observable segments (region × device × tenure).
    var segmentCount: Int { regions.count * devices.count * tenures.count }

    /// Index of the region called `name`, if any.
    func regionIndex(named name: String) -> Int? { regions.firstIndex { $0.name == name } }

    /// A readable name for observable segment `index`.
    func segmentName(_ index: Int) -> String {
        let tenure = index % tenures.count
        let device = (index / tenures.count) % devices.count
        let region = index / (tenures.count * devices.count)
        return "\(regions[region].name)/\(devices[device].name)/\(tenures[tenure].name)"
    }
}

extension EnvironmentConfig {
    /// This environment with an objective that credits the revenue of the clicks that
    /// happened (never their probabilities) and weighs an organic item `engagementWeight`:
    /// what a trainer may judge its own result with, since learning must not see latent
    /// state, even through the evaluation's lower-variance revenue.
    package func realizedObjective(engagementWeight: Double) -> EnvironmentConfig {
        var config = self
        config.objective.expectedRevenue = false
        config.objective.engagementWeight = engagementWeight
        return config
    }
}
