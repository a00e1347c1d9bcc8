import AdLoadCore
import Foundation
@testable import Simulation
import Testing

@Suite("Paced simulation: users in simulated time with the pacing controller in the loop")
struct PacedSimulationTests {
    let model: EnvironmentModel

    init() throws {
        model = EnvironmentModel(config: try shippedEnvironment("default"))
    }

    func targets(_ regions: [(name: String, targets: RegionTargets)]) -> RevenueTargets {
        RevenueTargets(name: "test", description: "", gains: .standard, regions: regions)
    }

    @Test("without targets the users live exactly the lives SimulationRunner gives them")
    func matchesTheRunner() throws {
        let setup = SimulationSetup(users: 60, days: 20, seed: 3)
        let plain = try SimulationRunner(model: model, threads: 2).run(CadencePolicy.fixed(every: 9), setup: setup)
        let paced = try PacedSimulation(model: model, targets: targets([]), threads: 2).run(CadencePolicy.fixed(every: 9), setup: setup)
        #expect(paced.report.userObjectives == plain.userObjectives)
        #expect(paced.report.sessions == plain.sessions && paced.report.survival == plain.survival)
        #expect(paced.days.count == 20 * model.config.regions.count)
        let revenue = paced.days.reduce(0) { $0 + $1.counters.revenue }
        #expect(abs(revenue - plain.revenuePerUser * 60) < 1e-9 * max(1, revenue), "days' revenue \(revenue), report's \(plain.revenuePerUser * 60)")
        #expect(paced.days.allSatisfy { $0.prices == .defaults })
    }

    @Test("the numbers do not depend on the thread count")
    func threadIndependent() throws {
        let setup = SimulationSetup(users: 50, days: 12, seed: 4)
        let paced = targets([("na", RegionTargets(dailyRevenue: .perActiveUser(0.03), dailyImpressionBudget: 400))])
        let one = try PacedSimulation(model: model, targets: paced, threads: 1).run(PricedCadencePolicy(every: 12), setup: setup)
        let three = try PacedSimulation(model: model, targets: paced, threads: 3).run(PricedCadencePolicy(every: 12), setup: setup)
        #expect(one.days == three.days)
        #expect(one.report.userObjectives == three.report.userObjectives)
        #expect(one.days.contains { $0.prices != .defaults }, "the prices moved")
    }

    @Test("profile_days: days 1 and 2 are paced as with yesterday's profile alone (there is no other day yet), day 3 on is not")
    func profileOfSeveralDays() throws {
        let setup = SimulationSetup(users: 50, days: 4, seed: 4)
        let regions = [("na", RegionTargets(dailyRevenue: .perActiveUser(0.03), dailyImpressionBudget: 400))]
        var threeDays = targets(regions)
        threeDays.gains.profileDays = 3
        let yesterday = try PacedSimulation(model: model, targets: targets(regions), threads: 2).run(PricedCadencePolicy(every: 12), setup: setup)
        let mean = try PacedSimulation(model: model, targets: threeDays, threads: 2).run(PricedCadencePolicy(every: 12), setup: setup)
        func na(_ run: (report: SimulationReport, days: [PacedDay]), _ day: Int) -> PacedDay? {
            run.days.first { $0.region == "na" && $0.day == day }
        }
        #expect(na(yesterday, 1) == na(mean, 1) && na(yesterday, 2) == na(mean, 2))
        #expect(na(yesterday, 3) != nil && na(yesterday, 3)?.prices != na(mean, 3)?.prices, "day 3 is paced by days 1 and 2")
    }

    @Test("scheduled targets are the schedule's values on each simulated day (days from 1)")
    func scheduledTarget() throws {
        let regionTargets = RegionTargets(
            dailyRevenue: .total(.schedule(firstDay: 2, values: [10, 20, 30])), dailyImpressionBudget: .schedule(firstDay: 1, values: [100, 200]))
        let paced = try PacedSimulation(model: model, targets: targets([("na", regionTargets)]), threads: 2)
            .run(PricedCadencePolicy(every: 12), setup: SimulationSetup(users: 40, days: 6, seed: 2))
        let na = paced.days.filter { $0.region == "na" }.sorted { $0.day < $1.day }
        #expect(na.map(\.day) == [1, 2, 3, 4, 5, 6])
        #expect(na.map(\.revenueTarget) == [10, 10, 20, 30, 30, 30])
        #expect(na.map(\.impressionBudget) == [100, 200, 200, 200, 200, 200])
    }

    /// The loop's direction on the impression side, and its bookkeeping. Revenue is not
    /// asserted: with the environment's slow dynamics (with few ads, sessions per user grow
    /// for weeks) the priced cadence's revenue overshot a target 10% above its unpaced level
    /// by 15% on days 8-30 with the first gains (docs/pacing.md); how closely priced learners
    /// track revenue targets is measured by `simulate --targets`.
    @Test("an impression budget 20% below the unpaced run's brings impressions closer to it; prices move only where targets are set")
    func movesTowardTargets() throws {
        let setup = SimulationSetup(users: 3_000, days: 30, seed: 6)
        let policy = PricedCadencePolicy(every: 40)
        let unpaced = try PacedSimulation(model: model, targets: targets([]), threads: 2).run(policy, setup: setup)
        func mean(_ run: (report: SimulationReport, days: [PacedDay]), _ region: String, _ value: (PacedDay) -> Double) -> Double {
            let days = run.days.filter { $0.region == region && $0.day >= 8 }
            return days.map(value).reduce(0, +) / Double(days.count)
        }
        let revenueTarget = 1.1 * mean(unpaced, "na") { $0.counters.revenue }
        let budget = 0.8 * mean(unpaced, "eu") { $0.counters.impressions }
        let paced = try PacedSimulation(
            model: model,
            targets: targets([("na", RegionTargets(dailyRevenue: .total(.every(revenueTarget)))), ("eu", RegionTargets(dailyImpressionBudget: .every(budget)))]),
            threads: 2
        ).run(policy, setup: setup)
        let impressions = mean(paced, "eu") { $0.counters.impressions }
        #expect(abs(impressions / budget - 1) < 0.25, "eu impressions, days 8-30: paced \(impressions), budget \(budget) (unpaced: 1.25 x budget)")
        #expect(mean(paced, "eu") { $0.prices.impressions } > 0)
        #expect(paced.days.filter { $0.region == "na" }.allSatisfy { $0.prices.impressions == 0 })
        #expect(paced.days.filter { $0.region == "na" }.contains { $0.prices.revenue != 1 })
        #expect(paced.days.filter { $0.region == "eu" }.allSatisfy { $0.prices.revenue == 1 })
        #expect(paced.days.filter { $0.region == "apac" }.allSatisfy { $0.prices == .defaults }, "a region without targets keeps its prices")
        #expect(paced.days.filter { $0.region == "na" }.allSatisfy { abs($0.revenueTarget! - revenueTarget) < 1e-12 && $0.impressionBudget == nil })
    }
}
