@testable import AdLoadCore
@testable import Simulation
import Foundation
import Synchronization
import Testing

/// A policy that asks for an ad at every position, ignoring the rules.
struct RuleBreakingPolicy: SessionPolicy, PolicyWorker {
    struct Decider: AdDecider {
        mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool { true }
    }
    var name: String { "always-ad" }
    func beginSession(_ context: SessionContext) -> Decider { Decider() }
}

/// A per-position policy that flips a seeded coin at every allowed slot and shows an ad
/// only after a long-dwell item: it uses what it sees of the session so far.
struct CoinPolicy: SessionPolicy, PolicyWorker {
    struct Decider: AdDecider {
        let random: CounterRandom
        mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool {
            tracker.allowsAd() && session.lastDwell > 5 && random.uniform(UInt64(tracker.position)) < 0.5
        }
    }
    var name: String { "coin" }
    func beginSession(_ context: SessionContext) -> Decider {
        Decider(random: CounterRandom(seed: 99, domain: 1).child(UInt64(context.userIndex)).child(UInt64(context.sessionIndex)))
    }
}

/// Records each user's first session context, then acts like `inner`.
final class RecordingPolicy: SessionPolicy, PolicyWorker {
    let inner: CadencePolicy
    let firstSessions = Mutex<[Int: [Double]]>([:])
    init(inner: CadencePolicy) { self.inner = inner }
    var name: String { "recording \(inner.name)" }
    func beginSession(_ context: SessionContext) -> CadenceDecider {
        if context.sessionIndex == 0 {
            firstSessions.withLock { $0[context.userIndex] = [context.time, Double(context.hour), Double(context.segment)] }
        }
        return inner.beginSession(context)
    }
}

/// A per-session plan policy: the plan is fixed at session start.
struct FixedPlanPolicy: SessionPolicy, PolicyWorker {
    let plan: AdPlan
    var name: String { "plan:\(plan.positions)" }
    func beginSession(_ context: SessionContext) -> PlanDecider { PlanDecider(plan: plan) }
}

@Suite("Simulator")
struct SimulatorTests {
    let config: EnvironmentConfig
    init() throws { config = try shippedEnvironment("default") }

    @Test("the same seed gives identical results, whatever the thread count")
    func deterministicAcrossThreads() throws {
        let setup = SimulationSetup(users: 300, days: 30, seed: 42)
        let model = EnvironmentModel(config: config)
        let one = try SimulationRunner(model: model, threads: 1).outcomes(CadencePolicy.fixed(every: 8), setup: setup)
        let again = try SimulationRunner(model: model, threads: 1).outcomes(CadencePolicy.fixed(every: 8), setup: setup)
        let many = try SimulationRunner(model: model, threads: 4).outcomes(CadencePolicy.fixed(every: 8), setup: setup)
        #expect(one == again)
        #expect(one == many)
        let otherSeed = try SimulationRunner(model: model, threads: 2).outcomes(
            CadencePolicy.fixed(every: 8), setup: SimulationSetup(users: 300, days: 30, seed: 43))
        #expect(one != otherSeed)
    }

    @Test("policies compared on one seed meet the same users and the same first-session luck")
    func commonRandomNumbers() throws {
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: testThreads)
        let setup = SimulationSetup(users: 100, days: 20, seed: 5)
        let sparse = RecordingPolicy(inner: .fixed(every: 40))
        let dense = RecordingPolicy(inner: .myopic)
        let sparseReport = try runner.run(sparse, setup: setup)
        let denseReport = try runner.run(dense, setup: setup)
        #expect(sparseReport.adsPerSession < denseReport.adsPerSession)
        let first = sparse.firstSessions.withLock { $0 }
        #expect(first.count > 90)
        #expect(first == dense.firstSessions.withLock { $0 }, "first session time, hour and segment per user must not depend on the policy")
    }

    @Test("an ad the rules forbid is refused with the rule named, never shown")
    func ruleBreakingPolicyIsRefused() throws {
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: 1)
        #expect(throws: SimulationError.self) {
            try runner.run(RuleBreakingPolicy(), setup: SimulationSetup(users: 5, days: 2, seed: 1))
        }
        do {
            _ = try runner.run(RuleBreakingPolicy(), setup: SimulationSetup(users: 1, days: 5, seed: 1))
        } catch let SimulationError.ruleViolation(policy, _, _, violation) {
            #expect(policy == "always-ad")
            #expect(violation == .beforeFirstSlot(position: 1, firstSlot: 2))
        }
        // A plan that is valid in one region and breaks another's share cap is refused there.
        let plan = try AdPlan(positions: [4])
        #expect(throws: SimulationError.self) {
            try runner.run(FixedPlanPolicy(plan: plan), setup: SimulationSetup(users: 200, days: 3, seed: 1))
        }
    }

    @Test("skipping the exit test's exp above the organic bound gives exactly the results of testing every draw")
    func exitShortcutIsExact() throws {
        let setup = SimulationSetup(users: 300, days: 30, seed: 11)
        for policy in [CadencePolicy.fixed(every: 3), .fixed(every: 14), .myopic] {
            let fast = try SimulationRunner(model: EnvironmentModel(config: config), threads: testThreads).run(policy, setup: setup)
            let exact = try SimulationRunner(model: EnvironmentModel(config: config, exitShortcut: false), threads: testThreads)
                .run(policy, setup: setup)
            #expect(fast.sessions == exact.sessions)
            #expect(fast.objectivePerUser == exact.objectivePerUser)
            #expect(fast.itemsPerSession == exact.itemsPerSession)
            #expect(fast.nextDayReturn == exact.nextDayReturn)
        }
    }

    @Test("the per-position mode sees the session so far and stays within the rules")
    func perPositionMode() throws {
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: testThreads)
        let report = try runner.run(CoinPolicy(), setup: SimulationSetup(users: 200, days: 20, seed: 3))
        #expect(report.adsPerSession > 0.5)
        #expect(report.adShare <= 0.25)
    }

    @Test("known answer: with constant exit hazard p, items per session are geometric with mean ≈ 1/p")
    func geometricSessionLength() throws {
        var flat = config
        flat.latent.exitSD = 0
        flat.latent.baseExitLogit = log(0.05 / 0.95)
        flat.dynamics.exitSatisfaction = 0
        flat.dynamics.exitFatigue = 0
        flat.hourExitShift = Array(repeating: 0, count: 24)
        for index in flat.regions.indices { flat.regions[index].shifts.exit = 0 }
        for index in flat.devices.indices { flat.devices[index].shifts.exit = 0 }
        for index in flat.tenures.indices { flat.tenures[index].shifts.exit = 0 }
        let runner = SimulationRunner(model: EnvironmentModel(config: flat), threads: testThreads)
        let report = try runner.run(CadencePolicy.none, setup: SimulationSetup(users: 400, days: 10, seed: 9))
        // Mean 1/p = 20 positions; the exit draw comes after the item, so items = positions.
        // Standard error ≈ sqrt((1-p)/p²/n) with n ≈ 10^4 sessions: about 0.2.
        #expect(report.sessions > 5000)
        #expect(abs(report.itemsPerSession - 20) < 0.8, "items per session \(report.itemsPerSession)")
    }

    @Test("known answer: without blindness, fatigue or heterogeneity the CTR equals the base CTR")
    func baseCTR() throws {
        var plain = config
        plain.latent.clickSD = 0
        plain.dynamics.clickBlindness = 0
        plain.dynamics.clickFatigue = 0
        for index in plain.regions.indices { plain.regions[index].shifts.click = 0 }
        for index in plain.devices.indices { plain.devices[index].shifts.click = 0 }
        for index in plain.tenures.indices { plain.tenures[index].shifts.click = 0 }
        let runner = SimulationRunner(model: EnvironmentModel(config: plain), threads: testThreads)
        let report = try runner.run(CadencePolicy.fixed(every: 4), setup: SimulationSetup(users: 400, days: 30, seed: 4))
        let ads = report.adsPerSession * Double(report.sessions)
        let standardError = (0.012 * 0.988 / ads).squareRoot()
        #expect(abs(report.ctr - 0.012) < 4 * standardError, "CTR \(report.ctr) over \(ads) ads")
    }

    @Test("more ads per session lower satisfaction: fewer sessions per day and lower survival than no ads")
    func adsCostRetention() throws {
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: testThreads)
        let setup = SimulationSetup(users: 400, days: 60, seed: 8)
        let none = try runner.run(CadencePolicy.none, setup: setup)
        let myopic = try runner.run(CadencePolicy.myopic, setup: setup)
        #expect(none.revenuePerUser == 0 && none.adsPerSession == 0)
        #expect(myopic.sessionsPerUserDay < none.sessionsPerUserDay)
        #expect(myopic.survival < none.survival)
        #expect(myopic.nextDayReturn < none.nextDayReturn)
        #expect(myopic.itemsPerSession < none.itemsPerSession)
    }

    @Test("a session's ad reactions are its negatives plus one when its last position held an ad")
    func adReactionsCount() throws {
        let model = EnvironmentModel(config: config)
        let plan = try AdPlan(positions: [10, 20, 30, 40, 60, 80])
        var decider = PlanDecider(plan: plan)
        var endedOnAd = 0, sessions = 0
        for index in 0..<60 {
            var trajectory = model.startTrajectory(model.user(index, populationSeed: 21), luckSeed: 22, days: 30)
            while trajectory.isActive {
                let before = trajectory.history
                let outcome = try model.step(&trajectory, decider: &decider, policyName: "plan")
                let factor = before.lastVisit.map { exp(-(outcome.time - $0) / BehaviourHistory.reactionDays) } ?? 1
                let lastIsAd = outcome.ads > 0 && plan.contains(outcome.items + outcome.ads)
                let added = trajectory.history.adReactions.reactions - before.adReactions.reactions * factor
                #expect(abs(added - Double(outcome.negatives + (lastIsAd ? 1 : 0))) < 1e-9)
                #expect(abs(trajectory.history.adReactions.ads - before.adReactions.ads * factor - Double(outcome.ads)) < 1e-9)
                if lastIsAd { endedOnAd += 1 }
                sessions += 1
            }
        }
        #expect(endedOnAd > 0 && endedOnAd < sessions)
    }

    @Test("ad aversion tracks the latent ad tolerance far better than the 30-day negative-feedback rate")
    func adAversionTracksTolerance() throws {
        let model = EnvironmentModel(config: config)
        var decider = CadenceDecider(every: 14)
        var tolerance: [Double] = [], aversion: [Double] = [], rawRate: [Double] = []
        for index in 0..<400 {
            var trajectory = model.startTrajectory(model.user(index, populationSeed: 5), luckSeed: 6, days: 60)
            while trajectory.isActive { try model.step(&trajectory, decider: &decider, policyName: "fixed") }
            guard trajectory.history.adReactions.ads > 50 else { continue }
            tolerance.append(trajectory.user.logTolerance)
            aversion.append(trajectory.history.adAversion)
            rawRate.append(trajectory.history.recentNegativeRate)
        }
        func correlation(_ x: [Double], _ y: [Double]) -> Double {
            let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
            let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }, syy = y.reduce(0) { $0 + ($1 - my) * ($1 - my) }
            return sxy / (sxx * syy).squareRoot()
        }
        #expect(tolerance.count > 300)
        let shrunk = correlation(aversion, tolerance.map { -$0 }), raw = correlation(rawRate, tolerance.map { -$0 })
        #expect(shrunk > 0.6 && shrunk > raw + 0.1, "corr(ad_aversion, -ln tau) = \(shrunk), raw 30-day rate \(raw)")
    }

    @Test("policy names parse, and bad ones say what is accepted")
    func baselineSpecs() throws {
        #expect(try BaselineSpec(parsing: "fixed:every=12") == .fixed(every: 12))
        #expect(try BaselineSpec(parsing: "oracle:static") == .staticOracle)
        #expect(try BaselineSpec(parsing: "myopic") == .myopic)
        #expect(try BaselineSpec(parsing: "best-plan") == .bestPlan && BaselineSpec.bestPlan.description == "best-plan")
        #expect(try BaselineSpec(parsing: "oracle:plan") == .planOracle && BaselineSpec.planOracle.description == "oracle:plan")
        #expect(try BaselineSpec(parsing: "oracle:dynamic") == .dynamicOracle && BaselineSpec.dynamicOracle.description == "oracle:dynamic")
        #expect(try BaselineSpec(parsing: "priced:every=12") == .pricedCadence(every: 12) && BaselineSpec.pricedCadence(every: 12).description == "priced:every=12")
        #expect(throws: BaselineSpecError.self) { try BaselineSpec(parsing: "fixed:every=-1") }
        #expect(throws: BaselineSpecError.self) { try BaselineSpec(parsing: "greedy") }
        do {
            _ = try BaselineSpec(parsing: "fixed:every=x")
        } catch {
            #expect(error.description == "policy 'fixed:every=x': K must be an integer in 0...512 (expected one of none, fixed:every=K, priced:every=K, myopic, segment, best-plan, oracle:static, oracle:plan, oracle:dynamic)")
        }
    }
}
