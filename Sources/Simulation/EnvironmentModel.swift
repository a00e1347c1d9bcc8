import AdLoadCore

/// The environment model compiled for speed: the parameters of an ``EnvironmentConfig``
/// laid out for the per-position loop, plus precomputed tables.
///
/// ``simulateUser(_:worker:policyName:luckSeed:days:)`` runs one user's whole horizon, one
/// ``step(_:decider:policyName:)`` per session; it allocates
/// nothing per session or position.
public struct EnvironmentModel: Sendable {
    public let config: EnvironmentConfig
    let d: DynamicsParameters
    let returns: ReturnParameters
    let hourExitShift: [Double]
    /// Hour value × region multiplier, indexed [region * 24 + hour].
    let adValueByRegionHour: [Double]
    /// n^(−ν) for the n-th ad of a session, indexed by n (0 unused).
    let inventoryValue: [Double]
    let rules: [PlacementRules]
    /// tanh of the satisfaction step of one organic item, for the addition formula.
    let organicTanhStep: Double
    /// Whether an organic item can only lower the exit logit's satisfaction and fatigue
    /// terms (satisfaction never falls, fatigue only decays, both push exit the usual way),
    /// so a bound taken after an ad holds until the next one (see `runSession`).
    let organicExitIsBounded: Bool

    /// Prepares `config` for simulation.
    /// - Parameters:
    ///   - config: A validated environment configuration.
    ///   - exitShortcut: Skip the exit test's `exp` at organic positions when the draw is
    ///     above a bound on the exit probability (the default). The results are the same
    ///     either way; `false` exists so tests can check that.
    public init(config: EnvironmentConfig, exitShortcut: Bool = true) {
        self.config = config
        d = config.dynamics
        returns = config.returns
        hourExitShift = config.hourExitShift
        adValueByRegionHour = config.regions.flatMap { region in config.hourAdValue.map { $0 * region.revenueMultiplier } }
        inventoryValue = (0...AdPlan.maxPosition).map { $0 == 0 ? 0 : pow(Double($0), -config.dynamics.inventoryDecay) }
        rules = config.regions.map(\.rules)
        organicTanhStep = tanh(config.dynamics.satisfactionRate * config.dynamics.organicUtility)
        let dynamics = config.dynamics
        organicExitIsBounded = exitShortcut && organicTanhStep >= 0 && dynamics.exitSatisfaction >= 0 && dynamics.exitFatigue >= 0
            && (0...1).contains(dynamics.fatigueDecay)
    }

    /// A uniform draw at or above this cannot be an exit at any organic position until the
    /// next ad: σ(x̄) for an upper bound x̄ of the exit logit, widened by a relative 1e-9 so
    /// the rounding of the exact test `u(1 + e^(−x)) < 1` cannot disagree. 2 (never
    /// skip the exact test) when the dynamics give no such bound.
    @inline(__always)
    func organicNoExitThreshold(baseExit: Double, tanhS: Double, fatigue: Double, inverseTolerance: Double) -> Double {
        guard organicExitIsBounded else { return 2 }
        let upperLogit = baseExit - d.exitSatisfaction * tanhS + d.exitFatigue * fatigue * inverseTolerance + 1e-9
        return (1 + 1e-9) / (1 + exp(-upperLogit))
    }

    /// Draws user `index` of the population of `populationSeed`.
    public func user(_ index: Int, populationSeed: UInt64) -> UserProfile {
        UserProfile(index: index, config: config, populationSeed: populationSeed)
    }

    /// Starts user `user`'s trajectory over `days` days with the luck of `luckSeed`:
    /// the first visit arrives like any other, exponential with the user's visit rate.
    package func startTrajectory(_ user: UserProfile, luckSeed: UInt64, days: Int) -> UserTrajectory {
        let luck = CounterRandom(seed: luckSeed, domain: RandomDomain.luck).child(UInt64(user.index))
        var trajectory = UserTrajectory(
            user: user, days: days, luck: luck, inverseTolerance: exp(-user.logTolerance),
            time: luck.exponential(0, rate: user.visitRate))
        trajectory.rollOverDay()
        return trajectory
    }

    /// What a policy sees at the start of the trajectory's next session.
    /// - Precondition: `trajectory.isActive`.
    public func context(of trajectory: UserTrajectory) -> SessionContext {
        let user = trajectory.user
        return SessionContext(
            userIndex: user.index, region: user.region, device: user.device, tenure: user.tenure,
            segment: user.segment, sessionIndex: trajectory.sessionIndex, time: trajectory.time,
            hour: trajectory.hour, adsToday: trajectory.adsToday, feedLength: config.maxItems,
            rules: rules[user.region], history: trajectory.history,
            latent: LatentState(satisfaction: trajectory.satisfaction, blindness: trajectory.blindness))
    }

    /// Runs the trajectory's next session with `decider`, then the transition to the next
    /// session (churn, or an exponential gap whose rate rises with satisfaction).
    ///
    /// - Throws: ``SimulationError/ruleViolation`` if the decider asks for an ad the
    ///   placement rules forbid.
    /// - Complexity: O(positions), no allocation.
    @discardableResult
    public func step<D: AdDecider>(
        _ trajectory: inout UserTrajectory, decider: inout D, policyName: @autoclosure () -> String
    ) throws(SimulationError) -> SessionOutcome {
        let user = trajectory.user
        let sessionLuck = trajectory.luck.child(UInt64(trajectory.sessionIndex) &+ 1)
        var session = SessionSoFar()
        var revenue = 0.0
        var expectedRevenue = 0.0
        let start = trajectory.time
        do {
            try runSession(
                user: user, inverseTolerance: trajectory.inverseTolerance, hour: trajectory.hour,
                rules: rules[user.region], adsToday: trajectory.adsToday, luck: sessionLuck, decider: &decider,
                session: &session, revenue: &revenue, expectedRevenue: &expectedRevenue,
                satisfaction: &trajectory.satisfaction,
                blindness: &trajectory.blindness)
        } catch let .ruleViolation(_, _, _, violation) {
            throw .ruleViolation(policy: policyName(), user: user.index, session: trajectory.sessionIndex, violation: violation)
        }
        let objective = config.objective
        // The objective may credit the expected revenue (same mean, lower variance); what a
        // policy learns from is the realized revenue only.
        let value = (objective.expectedRevenue ? expectedRevenue : revenue) + objective.engagementWeight * Double(session.items)
        trajectory.totals.sessions += 1
        trajectory.totals.items += session.items
        trajectory.totals.ads += session.ads
        trajectory.totals.clicks += session.clicks
        trajectory.totals.negatives += session.negatives
        trajectory.totals.dwell += session.dwell
        trajectory.totals.revenue += revenue
        trajectory.totals.expectedRevenue += expectedRevenue
        trajectory.totals.objective += objective.discountPerDay == 0 ? value : exp(-objective.discountPerDay * start) * value
        trajectory.adsToday += session.ads
        trajectory.history.record(time: start, items: session.items, ads: session.ads, clicks: session.clicks,
                                  negatives: session.negatives, dwell: session.dwell, endedOnAd: session.endedOnAd)

        let tanhS = tanh(trajectory.satisfaction)
        let churnLogit = returns.churnBase - returns.churnSatisfaction * tanhS
        var gap = Double.infinity
        if sessionLuck.uniform(0) < 1 / (1 + exp(-churnLogit)) {
            trajectory.churned = true
            trajectory.totals.survived = false
        } else {
            gap = sessionLuck.exponential(1, rate: user.visitRate * exp(returns.returnSatisfaction * tanhS))
            trajectory.satisfaction *= exp(-gap / returns.satisfactionMemoryDays)
            trajectory.blindness *= exp(-gap / returns.blindnessMemoryDays)
            trajectory.time += gap
            trajectory.sessionIndex += 1
            trajectory.rollOverDay()
        }
        return SessionOutcome(
            time: start, items: session.items, ads: session.ads, clicks: session.clicks, negatives: session.negatives,
            dwell: session.dwell, revenue: revenue, expectedRevenue: expectedRevenue, value: value,
            churned: trajectory.churned, gapToNext: gap)
    }

    /// Simulates one user over `days` days under a policy worker, with the luck of `luckSeed`.
    ///
    /// - Throws: ``SimulationError/ruleViolation`` if the policy asks for an ad the
    ///   placement rules forbid.
    /// - Complexity: O(sessions × positions), no allocation.
    public func simulateUser<W: PolicyWorker>(
        _ user: UserProfile, worker: inout W, policyName: String, luckSeed: UInt64, days: Int
    ) throws(SimulationError) -> UserOutcome {
        var trajectory = startTrajectory(user, luckSeed: luckSeed, days: days)
        while trajectory.isActive {
            var decider = worker.beginSession(context(of: trajectory))
            try step(&trajectory, decider: &decider, policyName: policyName)
        }
        return trajectory.outcome
    }

    /// One session, position by position (ENVMODEL.md, "State and dynamics").
    @inline(__always)
    func runSession<D: AdDecider>(
        user: UserProfile, inverseTolerance: Double, hour: Int, rules: PlacementRules, adsToday: Int,
        luck: CounterRandom, decider: inout D, session: inout SessionSoFar, revenue: inout Double,
        expectedRevenue: inout Double, satisfaction: inout Double, blindness: inout Double
    ) throws(SimulationError) {
        let baseExit = user.exitLogit + hourExitShift[hour]
        let adValue = adValueByRegionHour[user.region * 24 + hour]
        var tracker = PlacementTracker(rules: rules, adsToday: adsToday)
        var fatigue = 0.0
        // tanh S is needed at every position; organic items move S by a constant step, so
        // it follows by the addition formula tanh(a+b) = (tanh a + tanh b)/(1 + tanh a tanh b).
        var tanhS = fastTanh(satisfaction)
        let organicStep = d.satisfactionRate * d.organicUtility
        // Exits are rare (a few percent per position), so at organic positions the exact
        // test, which needs an exp, runs only for draws below a bound that holds until the
        // next ad; the outcome is the same as testing every draw.
        var noExitThreshold = organicNoExitThreshold(
            baseExit: baseExit, tanhS: tanhS, fatigue: fatigue, inverseTolerance: inverseTolerance)
        var position = 1
        while position <= config.maxItems {
            fatigue *= d.fatigueDecay
            let showAd = decider.showAd(tracker: tracker, session: session)
            // Counters: 4 streams per position; position 0 is reserved for between-session draws.
            let counter = UInt64(position) &<< 2
            if showAd {
                guard tracker.allowsAd() else {
                    throw .ruleViolation(
                        policy: "", user: user.index, session: 0,
                        violation: tracker.violation() ?? .positionOutOfRange(position: position, feedLength: config.maxItems))
                }
                let adNumber = session.ads + 1
                fatigue += 1
                blindness += d.blindnessPerAd
                var penalty = 1.0
                if position <= d.earlyPositions { penalty += d.earlyPenalty }
                if session.ads > 0 && tracker.organicSinceLastAd < d.backToBackGap { penalty += d.backToBackPenalty }
                let clickProbability = 1 / (1 + exp(-(user.clickLogit - d.clickBlindness * blindness - d.clickFatigue * fatigue)))
                let clicked = luck.uniform(counter | 1) < clickProbability
                if clicked { session.clicks += 1 }
                let slotValue = inventoryValue[adNumber] * adValue
                revenue += slotValue * (d.revenuePerImpression + (clicked ? d.revenuePerClick : 0))
                expectedRevenue += slotValue * (d.revenuePerImpression + d.revenuePerClick * clickProbability)
                let negativeLogit = d.negativeBase + d.negativeFatigue * fatigue - user.logTolerance
                let negative = luck.uniform(counter | 2) * (1 + exp(-negativeLogit)) < 1
                if negative {
                    session.negatives += 1
                    satisfaction -= d.negativeSatisfactionDrop
                }
                satisfaction += d.satisfactionRate * d.adUtility * penalty * inverseTolerance
                tanhS = fastTanh(satisfaction)
                var exitLogit = baseExit - d.exitSatisfaction * tanhS
                    + (d.exitPerAd * penalty + d.exitFatigue * fatigue) * inverseTolerance
                if negative { exitLogit += d.negativeExitBoost }
                session.ads = adNumber
                session.lastAdPosition = position
                tracker.advance(showingAd: true)
                // Exit with probability σ(exitLogit): u < 1/(1+e^(−x)) ⇔ u(1+e^(−x)) < 1.
                if luck.uniform(counter) * (1 + exp(-exitLogit)) < 1 { return }
                noExitThreshold = organicNoExitThreshold(
                    baseExit: baseExit, tanhS: tanhS, fatigue: fatigue, inverseTolerance: inverseTolerance)
            } else {
                satisfaction += organicStep
                tanhS = (tanhS + organicTanhStep) / (1 + tanhS * organicTanhStep)
                let dwell = exp(d.dwellLogMean + d.dwellSatisfaction * tanhS - d.dwellFatigue * fatigue
                    + d.dwellLogSD * luck.normal(counter | 3))
                session.items += 1
                session.lastDwell = dwell
                session.dwell += dwell
                tracker.advance(showingAd: false)
                let exitDraw = luck.uniform(counter)
                if exitDraw < noExitThreshold {
                    let exitLogit = baseExit - d.exitSatisfaction * tanhS + d.exitFatigue * fatigue * inverseTolerance
                    if exitDraw * (1 + exp(-exitLogit)) < 1 { return }
                }
            }
            position += 1
        }
    }
}

/// tanh through one `exp` (glibc's `tanh` is several times slower); absolute error below
/// 1e-15, and saturating beyond |x| > 20.
@inline(__always)
func fastTanh(_ x: Double) -> Double {
    if x > 20 { return 1 }
    if x < -20 { return -1 }
    return 1 - 2 / (exp(2 * x) + 1)
}

/// A simulation that cannot go on.
public enum SimulationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The policy asked for an ad the placement rules forbid.
    case ruleViolation(policy: String, user: Int, session: Int, violation: PlacementViolation)

    public var description: String {
        switch self {
        case let .ruleViolation(policy, user, session, violation):
            "policy \(policy) broke a placement rule (user \(user), session \(session)): \(violation)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
