import AdLoadCore
import Foundation

extension EnvironmentConfig {
    /// Loads and validates an environment file. Every key is required, unknown keys are
    /// rejected, and every value is range-checked; the error names the file, key and value.
    public static func load(path: String) throws(ConfigError) -> EnvironmentConfig {
        try parse(try ConfigReader.contents(of: path), file: path)
    }

    /// Parses and validates environment JSON; `file` names the source in errors.
    package static func parse(_ data: Data, file: String) throws(ConfigError) -> EnvironmentConfig {
        let top = try ConfigReader(data: data, file: file, keys: [
            "name", "description", "regions", "devices", "tenures", "latent", "dynamics",
            "returns", "hours", "objective", "session",
        ], optionalKeys: ["training"])
        let shiftKeys = ["tolerance_shift", "click_shift", "exit_shift", "visit_shift"]
        func shifts(_ reader: ConfigReader) throws(ConfigError) -> TraitShifts {
            TraitShifts(
                tolerance: try reader.number("tolerance_shift", in: -5...5),
                click: try reader.number("click_shift", in: -5...5),
                exit: try reader.number("exit_shift", in: -5...5),
                visit: try reader.number("visit_shift", in: -5...5))
        }

        var regions: [RegionConfig] = []
        for (name, reader) in try top.namedObjects("regions", keys: ["population_share", "revenue_multiplier", "rules"] + shiftKeys) {
            let rulesReader = try reader.object("rules", keys: ["first_slot", "min_gap", "max_ad_share", "max_ads_per_session", "daily_cap"])
            let firstSlot = try rulesReader.integer("first_slot", in: 1...AdPlan.maxPosition)
            let minGap = try rulesReader.integer("min_gap", in: 0...AdPlan.maxPosition)
            let maxShare = try rulesReader.number("max_ad_share", in: 0.0001...1)
            let maxAds = try rulesReader.integer("max_ads_per_session", in: 0...AdPlan.maxPosition)
            let dailyCap = try rulesReader.optionalInteger("daily_cap", in: 0...100_000)
            let rules: PlacementRules
            do {
                rules = try PlacementRules(firstSlot: firstSlot, minGap: minGap, maxShare: maxShare, maxAdsPerSession: maxAds, dailyCap: dailyCap)
            } catch {
                switch error {
                case let .invalid(field, value, expected):
                    throw ConfigError(file: file, key: "regions.\(name).rules.\(field)", value: value, problem: "expected \(expected)")
                }
            }
            regions.append(RegionConfig(
                name: name,
                populationShare: try reader.number("population_share", in: 0...1),
                revenueMultiplier: try reader.number("revenue_multiplier", in: 0...100),
                rules: rules,
                shifts: try shifts(reader)))
        }
        try checkShares(regions.map(\.populationShare), key: "regions", file: file)

        func segments(_ key: String) throws(ConfigError) -> [SegmentConfig] {
            var result: [SegmentConfig] = []
            for (name, reader) in try top.namedObjects(key, keys: ["population_share"] + shiftKeys) {
                result.append(SegmentConfig(name: name, populationShare: try reader.number("population_share", in: 0...1), shifts: try shifts(reader)))
            }
            try checkShares(result.map(\.populationShare), key: key, file: file)
            return result
        }
        let devices = try segments("devices")
        let tenures = try segments("tenures")

        let l = try top.object("latent", keys: [
            "tolerance_sd", "base_ctr", "click_sd", "click_tolerance_correlation", "base_exit_logit",
            "exit_sd", "visit_rate", "visit_rate_sd",
        ])
        let latent = LatentParameters(
            toleranceSD: try l.number("tolerance_sd", in: 0...5),
            baseCTR: try l.number("base_ctr", in: 1e-6...0.5),
            clickSD: try l.number("click_sd", in: 0...5),
            clickToleranceCorrelation: try l.number("click_tolerance_correlation", in: -1...1),
            baseExitLogit: try l.number("base_exit_logit", in: -12...2),
            exitSD: try l.number("exit_sd", in: 0...5),
            visitRate: try l.number("visit_rate", in: 0.001...100),
            visitRateSD: try l.number("visit_rate_sd", in: 0...5))

        let d = try top.object("dynamics", keys: [
            "fatigue_decay", "blindness_per_ad", "early_penalty", "early_positions", "back_to_back_penalty",
            "back_to_back_gap", "click_blindness", "click_fatigue", "revenue_per_impression", "revenue_per_click",
            "inventory_decay", "negative_base", "negative_fatigue", "negative_satisfaction_drop",
            "negative_exit_boost", "satisfaction_rate", "ad_utility", "organic_utility", "exit_satisfaction",
            "exit_per_ad", "exit_fatigue", "dwell_log_mean", "dwell_satisfaction", "dwell_fatigue", "dwell_log_sd",
        ])
        let dynamics = DynamicsParameters(
            fatigueDecay: try d.number("fatigue_decay", in: 0...1),
            blindnessPerAd: try d.number("blindness_per_ad", in: 0...1),
            earlyPenalty: try d.number("early_penalty", in: 0...100),
            earlyPositions: try d.integer("early_positions", in: 0...AdPlan.maxPosition),
            backToBackPenalty: try d.number("back_to_back_penalty", in: 0...100),
            backToBackGap: try d.integer("back_to_back_gap", in: 0...AdPlan.maxPosition),
            clickBlindness: try d.number("click_blindness", in: 0...100),
            clickFatigue: try d.number("click_fatigue", in: 0...100),
            revenuePerImpression: try d.number("revenue_per_impression", in: 0...1000),
            revenuePerClick: try d.number("revenue_per_click", in: 0...1000),
            inventoryDecay: try d.number("inventory_decay", in: 0...5),
            negativeBase: try d.number("negative_base", in: -20...20),
            negativeFatigue: try d.number("negative_fatigue", in: 0...100),
            negativeSatisfactionDrop: try d.number("negative_satisfaction_drop", in: 0...10),
            negativeExitBoost: try d.number("negative_exit_boost", in: 0...20),
            satisfactionRate: try d.number("satisfaction_rate", in: 0...1),
            adUtility: try d.number("ad_utility", in: -100...100),
            organicUtility: try d.number("organic_utility", in: -100...100),
            exitSatisfaction: try d.number("exit_satisfaction", in: 0...20),
            exitPerAd: try d.number("exit_per_ad", in: 0...20),
            exitFatigue: try d.number("exit_fatigue", in: 0...20),
            dwellLogMean: try d.number("dwell_log_mean", in: -5...10),
            dwellSatisfaction: try d.number("dwell_satisfaction", in: 0...10),
            dwellFatigue: try d.number("dwell_fatigue", in: 0...10),
            dwellLogSD: try d.number("dwell_log_sd", in: 0...5))

        let r = try top.object("returns", keys: [
            "churn_base", "churn_satisfaction", "return_satisfaction", "satisfaction_memory_days", "blindness_memory_days",
        ])
        let returns = ReturnParameters(
            churnBase: try r.number("churn_base", in: -30...10),
            churnSatisfaction: try r.number("churn_satisfaction", in: 0...50),
            returnSatisfaction: try r.number("return_satisfaction", in: 0...20),
            satisfactionMemoryDays: try r.number("satisfaction_memory_days", in: 0.01...10_000),
            blindnessMemoryDays: try r.number("blindness_memory_days", in: 0.01...10_000))

        let h = try top.object("hours", keys: ["exit_shift", "ad_value"])
        let o = try top.object("objective", keys: ["engagement_weight", "discount_per_day", "expected_revenue"])
        let s = try top.object("session", keys: ["max_items"])

        var training = TrainingSettings.standard
        if top.has("training") {
            let t = try top.object("training", keys: ["teacher", "lambda", "reward", "pg_advantages"])
            let teacher = try t.string("teacher")
            guard TrainingSettings.teachers.contains(teacher) else {
                throw t.error("teacher", .string(teacher), "expected one of \(TrainingSettings.teachers.joined(separator: ", "))")
            }
            let name = try t.string("pg_advantages")
            guard let advantages = TrainingSettings.PolicyGradientAdvantages(rawValue: name) else {
                let known = TrainingSettings.PolicyGradientAdvantages.allCases.map(\.rawValue).joined(separator: ", ")
                throw t.error("pg_advantages", .string(name), "expected one of \(known)")
            }
            training = TrainingSettings(
                teacher: teacher, lambda: try t.optionalNumber("lambda", in: 1e-9...1e12), reward: try t.numberMap("reward"),
                policyGradientAdvantages: advantages)
        }
        var config = EnvironmentConfig(
            name: try top.string("name"),
            summary: try top.string("description"),
            fingerprint: top.fingerprint(excluding: ["name", "description", "training"]),
            regions: regions,
            devices: devices,
            tenures: tenures,
            latent: latent,
            dynamics: dynamics,
            returns: returns,
            hourExitShift: try h.numbers("exit_shift", count: 24, in: -5...5),
            hourAdValue: try h.numbers("ad_value", count: 24, in: 0...100),
            objective: ObjectiveParameters(
                engagementWeight: try o.number("engagement_weight", in: 0...1000),
                discountPerDay: try o.number("discount_per_day", in: 0...1),
                expectedRevenue: try o.bool("expected_revenue")),
            maxItems: try s.integer("max_items", in: 1...AdPlan.maxPosition))
        config.training = training
        return config
    }

    private static func checkShares(_ shares: [Double], key: String, file: String) throws(ConfigError) {
        let total = shares.reduce(0, +)
        guard abs(total - 1) < 1e-6 else {
            throw ConfigError(file: file, key: "\(key).*.population_share", value: "\(total) in total", problem: "population shares must sum to 1")
        }
    }
}
