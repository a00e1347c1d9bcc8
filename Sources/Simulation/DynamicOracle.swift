import AdLoadCore
import Synchronization

/// `oracle:dynamic`: the latent-aware dynamic programme of ENVMODEL.md §Oracle (2), an
/// upper reference for what planning over a user's trajectory can earn.
///
/// Per user (the finest latent-type cell: the user's own traits), a backward induction
/// over the time left, in steps of 1/``UserPlanner/stepsPerDay`` day (at least
/// ``minimumStepsPerDay`` per day, finer for a frequent visitor), on a grid of satisfaction
/// S × blindness B at a session's start:
///
/// - **Inside a session** every plan of ``family`` (a superset of the learners' catalog)
///   is scored by an exact forward pass over the positions with the exits as
///   probabilities: expected revenue, organic items, end satisfaction and ads shown
///   (``SessionExpectation``). This is the inner session computation; the positions'
///   fatigue and gaps are exact, negative feedback enters through its probability.
/// - **Between sessions** churn is terminal, the next visit comes after an exponential
///   gap at the rate of the end satisfaction (a quadrature over the gap), and S and B
///   decay with their memories.
///
/// At each real session the oracle reads the true S and B (``SessionContext/latent``), the
/// time left and the hour, and picks the plan with the largest expected value now plus
/// value afterwards. ``ledger`` keeps each user's computed value so the report can set it
/// against the simulated return: their gap is the discretization error.
package struct DynamicOracle: SessionPolicy {
    package let name = "oracle:dynamic"
    let model: EnvironmentModel
    /// The oracle's actions: ``family`` made valid per region.
    let catalog: PlanCatalog
    /// Each region's plans, materialized for the longest feed and no daily cap.
    let plansByRegion: [[(spec: PlanSpec, plan: AdPlan)]]
    let populationSeed: UInt64
    let days: Int
    /// The coarsest step of the induction, in steps per day; a user who can visit more
    /// often than once a step gets finer steps (``stepsPerDay(for:)``).
    let minimumStepsPerDay: Int
    let satisfactionAxis: GridAxis
    let blindnessAxis: GridAxis
    /// The hour exit shifts at which sessions are scored (lowest, middle, highest of the
    /// hour table; one when the table is flat); other hours interpolate between them.
    let exitShiftLevels: [Double]
    package let ledger: OracleValueLedger

    /// The action family: every first position from the early slots to 30 and every
    /// spacing from 2 to 40, a superset of ``PlanFamily/standard``.
    static let family = PlanFamily(
        firstPositions: [4, 5, 6, 8, 10, 12, 15, 20, 30],
        spacings: [2, 3, 4, 5, 6, 8, 10, 12, 14, 17, 20, 25, 30, 40],
        maxAds: [40])
    /// Satisfaction grid: dense near 0, where sessions move it by about 0.01; tanh S, which
    /// is all the dynamics read, is saturated at the ends.
    static let satisfactionPoints: [Double] = [-3, -1.8, -1.1, -0.6, -0.3, -0.1, 0, 0.15, 0.35, 0.6, 0.9, 1.25, 1.7, 2.3, 3.1, 4.5]
    /// Blindness grid, interpolated in e^(−β_B·B) (what clicks read): from none to the
    /// steady state of a daily heavy ad load of a frequent visitor.
    static let blindnessPoints: [Double] = [0, 0.1, 0.25, 0.5, 0.9, 1.6, 4.5]

    /// Plans the users of `evaluation` (same population seed, same horizon).
    package init(model: EnvironmentModel, evaluation: SimulationSetup, minimumStepsPerDay: Int = 8) {
        self.model = model
        populationSeed = evaluation.populationSeed
        days = evaluation.days
        self.minimumStepsPerDay = max(1, minimumStepsPerDay)
        let catalog = PlanCatalog(family: Self.family, rules: model.config.regions.map(\.rules))
        self.catalog = catalog
        plansByRegion = model.config.regions.indices.map { region in
            catalog.specs(region: region).map { spec in
                (spec, catalog.plan(spec, region: region, feedLength: model.config.maxItems, adsToday: 0) ?? AdPlan())
            }
        }
        satisfactionAxis = GridAxis(Self.satisfactionPoints)
        let beta = model.d.clickBlindness
        blindnessAxis = GridAxis(Self.blindnessPoints) { -exp(-beta * $0) }
        let shifts = model.hourExitShift
        let low = shifts.min() ?? 0, high = shifts.max() ?? 0
        exitShiftLevels = high - low < 1e-12 ? [low] : [low, (low + high) / 2, high]
        ledger = OracleValueLedger(users: evaluation.users)
    }

    package func makeWorker() -> DynamicOracleWorker { DynamicOracleWorker(oracle: self) }

    /// The mean computed value per user: the programme's value of each user's start
    /// (the first visit, with S = B = 0), averaged. Users the simulation never saw (no
    /// visit inside the horizon) are planned here.
    package func computedValuePerUser() -> Double {
        let missing = ledger.values.withLock { values in values.indices.filter { values[$0] == nil } }
        var planner = UserPlanner(oracle: self)
        for user in missing {
            planner.solve(model.user(user, populationSeed: populationSeed))
            ledger.record(user: user, value: planner.startValue)
        }
        return ledger.values.withLock { values in
            values.reduce(0) { $0 + ($1 ?? 0) } / Double(max(1, values.count))
        }
    }

    /// Steps per day of `user`'s induction: enough that even at the fastest return rate
    /// (satisfaction saturated) a visit comes at most once a step on average (ρ_max·Δt ≤ 1).
    /// A visit sooner than one step is valued by extrapolation in time (see
    /// ``UserPlanner/induct(_:)``); with ρ·Δt ≫ 1 most of the gap mass falls there, the
    /// extrapolation feeds on itself and the computed value grows without bound.
    func stepsPerDay(for user: UserProfile) -> Int {
        let fastest = user.visitRate * exp(abs(model.returns.returnSatisfaction))
        return max(minimumStepsPerDay, Int(fastest.rounded(.up)))
    }

    /// Weights over ``exitShiftLevels`` for the exit shift `shift` (Lagrange, exact at the levels).
    func levelWeights(_ shift: Double) -> InlineArray<3, Double> {
        guard exitShiftLevels.count == 3 else { return [1, 0, 0] }
        let (a, b, c) = (exitShiftLevels[0], exitShiftLevels[1], exitShiftLevels[2])
        return [(shift - b) * (shift - c) / ((a - b) * (a - c)),
                (shift - a) * (shift - c) / ((b - a) * (b - c)),
                (shift - a) * (shift - b) / ((c - a) * (c - b))]
    }
}

/// Each user's value as the programme computed it, filled in by the workers.
package final class OracleValueLedger: Sendable {
    let values: Mutex<[Double?]>

    init(users: Int) { values = Mutex(Array(repeating: nil, count: users)) }

    func record(user: Int, value: Double) {
        values.withLock { values in
            if user < values.count { values[user] = value }
        }
    }
}

/// A thread's side of ``DynamicOracle``: plans a user at their first session, then
/// decides each session from the plan.
package struct DynamicOracleWorker: PolicyWorker {
    let oracle: DynamicOracle
    var planner: UserPlanner
    var userIndex = -1

    init(oracle: DynamicOracle) {
        self.oracle = oracle
        planner = UserPlanner(oracle: oracle)
    }

    package mutating func beginSession(_ context: SessionContext) -> PlanDecider {
        if context.userIndex != userIndex {
            userIndex = context.userIndex
            planner.solve(oracle.model.user(userIndex, populationSeed: oracle.populationSeed))
            oracle.ledger.record(user: userIndex, value: planner.startValue)
        }
        let spec = planner.bestSpec(context)
        let plan = oracle.catalog.plan(spec, region: context.region, feedLength: context.feedLength, adsToday: context.adsToday)
        return PlanDecider(plan: plan ?? AdPlan())
    }
}

/// A sorted grid of one state variable, interpolated piecewise-linearly in a coordinate
/// in which the value is close to linear (clamped at the ends): the interpolation error
/// adds up over the hundreds of sessions of a horizon, so the coordinate matters.
struct GridAxis: Sendable {
    /// The grid in the state's own units.
    let points: [Double]
    /// The grid in the interpolation coordinate (increasing).
    let coordinates: [Double]
    let coordinate: @Sendable (Double) -> Double

    init(_ points: [Double], coordinate: @escaping @Sendable (Double) -> Double = { $0 }) {
        self.points = points
        self.coordinate = coordinate
        coordinates = points.map(coordinate)
    }

    var count: Int { points.count }

    /// The cell of `x`: the lower index `i` and the weight of `points[i + 1]`.
    @inline(__always)
    func locate(_ x: Double) -> (index: Int, weight: Double) {
        let c = coordinate(x)
        if c <= coordinates[0] { return (0, 0) }
        let last = coordinates.count - 1
        if c >= coordinates[last] { return (last - 1, 1) }
        var low = 0, high = last
        while high - low > 1 {
            let middle = (low + high) / 2
            if coordinates[middle] <= c { low = middle } else { high = middle }
        }
        return (low, (c - coordinates[low]) / (coordinates[low + 1] - coordinates[low]))
    }

    /// Cubic (four-point Lagrange) weights for `x`: the first of the four points and their
    /// weights. The programme interpolates its values in satisfaction with these: a
    /// session moves S by a small fraction of a cell, and linear interpolation would
    /// smear S over the cells (numerical diffusion) across the hundreds of sessions of a
    /// horizon, which biases everything read through tanh S. Needs at least four points.
    @inline(__always)
    func locateCubic(_ x: Double) -> CubicWeights {
        let (cell, _) = locate(x)
        let first = min(max(0, cell - 1), coordinates.count - 4)
        let c = min(max(coordinate(x), coordinates[0]), coordinates[coordinates.count - 1])
        let x0 = coordinates[first], x1 = coordinates[first + 1], x2 = coordinates[first + 2], x3 = coordinates[first + 3]
        return CubicWeights(first: first, weights: [
            (c - x1) * (c - x2) * (c - x3) / ((x0 - x1) * (x0 - x2) * (x0 - x3)),
            (c - x0) * (c - x2) * (c - x3) / ((x1 - x0) * (x1 - x2) * (x1 - x3)),
            (c - x0) * (c - x1) * (c - x3) / ((x2 - x0) * (x2 - x1) * (x2 - x3)),
            (c - x0) * (c - x1) * (c - x2) / ((x3 - x0) * (x3 - x1) * (x3 - x2)),
        ])
    }
}

/// Four consecutive grid points and their interpolation weights.
struct CubicWeights: Sendable {
    var first = 0
    var weights: InlineArray<4, Double> = [0, 0, 0, 0]
}

/// What one session under a plan is expected to give, from a given start.
struct SessionExpectation {
    var items = 0.0
    /// Expected satisfaction at the session's end minus at its start.
    var satisfactionChange = 0.0
    var ads = 0.0
}

/// One user's dynamic programme: session expectations per plan on the grid, then the
/// backward induction; reused across users by a worker (its arrays keep their storage).
struct UserPlanner {
    let oracle: DynamicOracle
    var user: UserProfile?
    var plans: [(spec: PlanSpec, plan: AdPlan)] = []
    /// Expectations indexed [(plan × levels + level) × S + s]; revenue also × B + b
    /// (before the region × hour ad value).
    var items: [Double] = []
    var satisfactionChange: [Double] = []
    var ads: [Double] = []
    var revenue: [Double] = []
    /// The value after a session ending in a grid state, per step c before the end and
    /// grid point: [c × S × B + s × B + b].
    var waiting: [Double] = []
    /// The best plan's value of a session starting in a grid state, indexed as ``waiting``.
    var sessionValues: [Double] = []
    /// Scratch of the forward pass: per ad, survival × slot value, and e^(−c) of its click logit c before blindness.
    var adWeight: [Double] = []
    var adClickOdds: [Double] = []
    /// The programme's value of the user's start.
    var startValue = 0.0
    /// Steps per day of this user's induction (``DynamicOracle/stepsPerDay(for:)``).
    var stepsPerDay: Int

    init(oracle: DynamicOracle) {
        self.oracle = oracle
        stepsPerDay = oracle.minimumStepsPerDay
    }

    /// Steps of the induction over the horizon.
    var steps: Int { oracle.days * stepsPerDay }

    mutating func solve(_ user: UserProfile) {
        self.user = user
        stepsPerDay = oracle.stepsPerDay(for: user)
        plans = oracle.plansByRegion[user.region]
        tabulateSessions(user)
        induct(user)
    }

    // MARK: Inside a session

    /// Fills the expectation tables for every plan, exit-shift level and grid point.
    mutating func tabulateSessions(_ user: UserProfile) {
        let levels = oracle.exitShiftLevels.count
        let sCount = oracle.satisfactionAxis.count, bCount = oracle.blindnessAxis.count
        let cells = plans.count * levels * sCount
        items = Array(repeating: 0, count: cells)
        satisfactionChange = Array(repeating: 0, count: cells)
        ads = Array(repeating: 0, count: cells)
        revenue = Array(repeating: 0, count: cells * bCount)
        let blindnessFactors = oracle.blindnessAxis.points.map { exp(oracle.model.d.clickBlindness * $0) }
        for (p, entry) in plans.enumerated() {
            for (level, shift) in oracle.exitShiftLevels.enumerated() {
                for (s, satisfaction) in oracle.satisfactionAxis.points.enumerated() {
                    let cell = (p * levels + level) * sCount + s
                    let expectation = expectSession(user, plan: entry.plan, exitShift: shift, satisfaction: satisfaction)
                    items[cell] = expectation.items
                    satisfactionChange[cell] = expectation.satisfactionChange
                    ads[cell] = expectation.ads
                    for b in 0..<bCount { revenue[cell * bCount + b] = lastSessionRevenue(blindnessFactor: blindnessFactors[b]) }
                }
            }
        }
    }

    /// The expected revenue of the session last passed to
    /// ``expectSession(_:plan:exitShift:satisfaction:)`` from a start blindness B given as
    /// e^(β_B·B), before the region × hour ad value: σ(c − β_B·B) = 1 / (1 + e^(−c)·e^(β_B·B)).
    func lastSessionRevenue(blindnessFactor: Double) -> Double {
        let d = oracle.model.d
        var total = 0.0
        for a in adWeight.indices {
            let click = 1 / (1 + adClickOdds[a] * blindnessFactor)
            total += adWeight[a] * (d.revenuePerImpression + d.revenuePerClick * click)
        }
        return total
    }

    /// The forward pass over one session's positions with exits as probabilities (the
    /// simulator's `runSession` in expectation); leaves the ads' revenue terms in the
    /// scratch arrays, blindness still to apply.
    mutating func expectSession(_ user: UserProfile, plan: AdPlan, exitShift: Double, satisfaction start: Double) -> SessionExpectation {
        let model = oracle.model
        let d = model.d
        let inverseTolerance = exp(-user.logTolerance)
        let baseExit = user.exitLogit + exitShift
        let organicStep = d.satisfactionRate * d.organicUtility
        adWeight.removeAll(keepingCapacity: true)
        adClickOdds.removeAll(keepingCapacity: true)
        var reach = 1.0
        var fatigue = 0.0
        var satisfaction = start
        var shown = 0
        var organicSinceLastAd = Int.max / 2
        var result = SessionExpectation()
        var endSatisfaction = 0.0
        for position in 1...model.config.maxItems {
            fatigue *= d.fatigueDecay
            let exitProbability: Double
            if plan.contains(position) {
                shown += 1
                fatigue += 1
                var penalty = 1.0
                if position <= d.earlyPositions { penalty += d.earlyPenalty }
                if shown > 1 && organicSinceLastAd < d.backToBackGap { penalty += d.backToBackPenalty }
                let clickLogit = user.clickLogit - d.clickBlindness * d.blindnessPerAd * Double(shown) - d.clickFatigue * fatigue
                adWeight.append(reach * model.inventoryValue[shown])
                adClickOdds.append(exp(-clickLogit))
                let negative = 1 / (1 + exp(-(d.negativeBase + d.negativeFatigue * fatigue - user.logTolerance)))
                satisfaction += d.satisfactionRate * d.adUtility * penalty * inverseTolerance - negative * d.negativeSatisfactionDrop
                let exitLogit = baseExit - d.exitSatisfaction * fastTanh(satisfaction)
                    + (d.exitPerAd * penalty + d.exitFatigue * fatigue) * inverseTolerance
                exitProbability = negative / (1 + exp(-(exitLogit + d.negativeExitBoost))) + (1 - negative) / (1 + exp(-exitLogit))
                organicSinceLastAd = 0
            } else {
                satisfaction += organicStep
                result.items += reach
                let exitLogit = baseExit - d.exitSatisfaction * fastTanh(satisfaction) + d.exitFatigue * fatigue * inverseTolerance
                exitProbability = 1 / (1 + exp(-exitLogit))
                organicSinceLastAd += 1
            }
            let leaving = reach * exitProbability
            endSatisfaction += leaving * satisfaction
            result.ads += leaving * Double(shown)
            reach -= leaving
            if reach < 1e-9 { break }
        }
        endSatisfaction += reach * satisfaction
        result.ads += reach * Double(shown)
        result.satisfactionChange = endSatisfaction - start
        return result
    }

    // MARK: Between sessions

    /// Gaps per quadrature of the time to the next visit: equal-probability bins of the
    /// exponential gap, each at its conditional mean.
    static let gapNodes = 8

    /// Backward induction from the horizon, one step (1/``stepsPerDay`` day)
    /// at a time. `sessionValues[c]` is the best plan's value of a session c steps before
    /// the end; `waiting[c]` the value of the state a session ends in, from then on: churn
    /// aside, the next visit comes after an exponential gap with the rate of that state's
    /// satisfaction (as the simulator draws it), in whose ``gapNodes`` quadrature S and B
    /// decay exactly and the session value is interpolated in time. A visit sooner than
    /// one step takes the value extrapolated from the last two steps.
    mutating func induct(_ user: UserProfile) {
        let model = oracle.model
        let returns = model.returns
        let sAxis = oracle.satisfactionAxis, bAxis = oracle.blindnessAxis
        let sCount = sAxis.count, bCount = bAxis.count, grid = sCount * bCount
        let perDay = Double(stepsPerDay)
        let nodes = Self.gapNodes
        let discountPerDay = model.config.objective.discountPerDay
        // The quadrature from each grid point: gap (in steps), discount, where S and B decay to.
        var gapSteps = Array(repeating: 0.0, count: sCount * nodes)
        var gapDiscount = Array(repeating: 0.0, count: sCount * nodes)
        var sLanding = Array(repeating: CubicWeights(), count: sCount * nodes)
        var bLanding = Array(repeating: (index: 0, weight: 0.0), count: grid * nodes)
        for s in 0..<sCount {
            let rate = user.visitRate * exp(returns.returnSatisfaction * fastTanh(sAxis.points[s]))
            for q in 0..<nodes {
                let gap = Self.binMean(rate: rate, bin: q, of: nodes)
                gapSteps[s * nodes + q] = gap * perDay
                gapDiscount[s * nodes + q] = exp(-discountPerDay * gap) / Double(nodes)
                sLanding[s * nodes + q] = sAxis.locateCubic(sAxis.points[s] * exp(-gap / returns.satisfactionMemoryDays))
                for b in 0..<bCount {
                    bLanding[(s * bCount + b) * nodes + q] = bAxis.locate(bAxis.points[b] * exp(-gap / returns.blindnessMemoryDays))
                }
            }
        }
        let (tables, tableOfSlot) = slotTables(user)
        sessionValues = Array(repeating: 0, count: (steps + 1) * grid)
        waiting = Array(repeating: 0, count: (steps + 1) * grid)
        var recentWinners = Array(repeating: [Int](), count: stepsPerDay)
        recentWinners[0] = chooseBest(tables[tableOfSlot[0]], candidates: nil, waitingOffset: 0, into: &sessionValues, at: 0)
        for c in 1...steps {
            for s in 0..<sCount {
                for b in 0..<bCount {
                    var total = 0.0
                    for q in 0..<nodes {
                        let at = c - 1 - Int(gapSteps[s * nodes + q]) // whole steps before the next visit's step
                        guard at >= -1 else { continue }
                        let sw = sLanding[s * nodes + q], (bi, bw) = bLanding[(s * bCount + b) * nodes + q]
                        let fraction = gapSteps[s * nodes + q] - gapSteps[s * nodes + q].rounded(.down)
                        // The visit falls between steps `at` and `at + 1` (counted from the end).
                        let upper: Double
                        if at + 1 <= c - 1 {
                            upper = interpolate(sessionValues, sw, bi, bw, bCount, offset: (at + 1) * grid)
                        } else {
                            let last = interpolate(sessionValues, sw, bi, bw, bCount, offset: (c - 1) * grid)
                            let before = c >= 2 ? interpolate(sessionValues, sw, bi, bw, bCount, offset: (c - 2) * grid) : last
                            upper = 2 * last - before
                        }
                        let lower = at >= 0 ? interpolate(sessionValues, sw, bi, bw, bCount, offset: at * grid) : 0
                        total += gapDiscount[s * nodes + q] * (upper + fraction * (lower - upper))
                    }
                    waiting[c * grid + s * bCount + b] = total
                }
            }
            let slot = c % stepsPerDay
            let table = tables[tableOfSlot[slot]]
            if (c / stepsPerDay) % Self.fullScanDays == 0 {
                recentWinners[slot] = chooseBest(table, candidates: nil, waitingOffset: c * grid, into: &sessionValues, at: c * grid)
            } else {
                chooseBest(table, candidates: recentWinners[slot], waitingOffset: c * grid, into: &sessionValues, at: c * grid)
            }
        }
        let origin = sAxis.locateCubic(0), none = bAxis.locate(0)
        startValue = interpolate(waiting, origin, none.index, none.weight, bCount, offset: steps * grid)
    }

    /// The mean of an exponential gap of rate `rate` inside the `bin`-th of `bins`
    /// equal-probability bins.
    static func binMean(rate: Double, bin: Int, of bins: Int) -> Double {
        let n = Double(bins)
        let aSurvival = 1 - Double(bin) / n, bSurvival = 1 - Double(bin + 1) / n
        let a = -log(aSurvival) / rate
        let bTerm = bin + 1 == bins ? 0 : -log(bSurvival) / rate * bSurvival
        return 1 / rate + n * (a * aSurvival - bTerm)
    }

    /// The best plan's session value at every grid point: reward now plus, if the user
    /// stays, the value of waiting at `waitingOffset` from the session's end state.
    ///
    /// With `candidates` only those plans are tried; without, every plan is, and the plans
    /// that win somewhere are returned. The value function moves slowly with the time
    /// left, so the induction scans every plan periodically and in between only the
    /// recent winners of the same hour (see ``fullScanDays``).
    @discardableResult
    func chooseBest(
        _ slot: SlotTable, candidates: [Int]?, waitingOffset: Int, into values: inout [Double], at offset: Int
    ) -> [Int] {
        let sCount = oracle.satisfactionAxis.count, bCount = oracle.blindnessAxis.count
        var won = candidates == nil ? Array(repeating: false, count: plans.count) : []
        for s in 0..<sCount {
            for b in 0..<bCount {
                var best = -Double.infinity, bestPlan = 0
                func consider(_ p: Int) {
                    let cell = p * sCount + s
                    let blindCell = cell * bCount + b
                    let value = slot.reward[blindCell] + slot.survival[cell] * interpolate(
                        waiting, slot.end[cell], slot.blindIndex[blindCell], slot.blindWeight[blindCell], bCount,
                        offset: waitingOffset)
                    if value > best {
                        best = value
                        bestPlan = p
                    }
                }
                if let candidates {
                    for p in candidates { consider(p) }
                } else {
                    for p in 0..<plans.count { consider(p) }
                    won[bestPlan] = true
                }
                values[offset + s * bCount + b] = best
            }
        }
        return won.indices.filter { won[$0] }
    }

    /// Days between two scans of every plan at each hour of the induction.
    static let fullScanDays = 2

    /// Per hour that a step-of-day slot falls in: each plan's reward, survival after the
    /// session and where the end state falls on the grid, [plan × S + s] (× B + b for reward
    /// and blindness); and for each slot, the index of its hour's table (a frequent visitor's
    /// many slots share at most 24 tables).
    func slotTables(_ user: UserProfile) -> (tables: [SlotTable], tableOfSlot: [Int]) {
        let model = oracle.model
        let sAxis = oracle.satisfactionAxis, bAxis = oracle.blindnessAxis
        let sCount = sAxis.count, bCount = bAxis.count, levels = oracle.exitShiftLevels.count
        let weightOfItems = model.config.objective.engagementWeight
        let hourOfSlot = (0..<stepsPerDay).map { Self.hour(stepsLeft: $0, days: oracle.days, stepsPerDay: stepsPerDay) }
        var hours: [Int] = []
        for hour in hourOfSlot where !hours.contains(hour) { hours.append(hour) }
        let tables = hours.map { hour in
            let weights = oracle.levelWeights(model.hourExitShift[hour])
            let adValue = model.adValueByRegionHour[user.region * 24 + hour]
            var table = SlotTable(cells: plans.count * sCount, blindCells: plans.count * sCount * bCount)
            for p in plans.indices {
                for s in 0..<sCount {
                    let cell = p * sCount + s
                    var expectedItems = 0.0, change = 0.0, shown = 0.0
                    for level in 0..<levels {
                        let source = (p * levels + level) * sCount + s
                        expectedItems += weights[level] * items[source]
                        change += weights[level] * satisfactionChange[source]
                        shown += weights[level] * ads[source]
                    }
                    let end = sAxis.points[s] + change
                    table.end[cell] = sAxis.locateCubic(end)
                    table.survival[cell] = 1 - churnProbability(end)
                    for b in 0..<bCount {
                        var money = 0.0
                        for level in 0..<levels { money += weights[level] * revenue[((p * levels + level) * sCount + s) * bCount + b] }
                        table.reward[cell * bCount + b] = adValue * money + weightOfItems * expectedItems
                        let (bi, bw) = bAxis.locate(bAxis.points[b] + model.d.blindnessPerAd * shown)
                        table.blindIndex[cell * bCount + b] = bi
                        table.blindWeight[cell * bCount + b] = bw
                    }
                }
            }
            return table
        }
        return (tables, hourOfSlot.map { hours.firstIndex(of: $0) ?? 0 })
    }

    func churnProbability(_ satisfaction: Double) -> Double {
        let returns = oracle.model.returns
        return 1 / (1 + exp(-(returns.churnBase - returns.churnSatisfaction * fastTanh(satisfaction))))
    }

    /// Hour of day of a session `stepsLeft` steps before the end of a horizon of whole days.
    static func hour(stepsLeft: Int, days: Int, stepsPerDay: Int) -> Int {
        let time = Double(days) - Double(stepsLeft) / Double(stepsPerDay)
        return min(23, max(0, Int((time - time.rounded(.down)) * 24)))
    }

    /// A value table [offset + s × B + b] at cubic weights in S and linear in B.
    @inline(__always)
    func interpolate(_ values: [Double], _ s: CubicWeights, _ b: Int, _ bw: Double, _ bCount: Int, offset: Int) -> Double {
        var total = 0.0
        for point in 0..<4 {
            let row = offset + (s.first + point) * bCount + b
            total += s.weights[point] * (values[row] + bw * (values[row + 1] - values[row]))
        }
        return total
    }

    @inline(__always)
    func bilinear(_ values: [Double], _ s: Int, _ sw: Double, _ b: Int, _ bw: Double, _ bCount: Int, offset: Int) -> Double {
        let row = offset + s * bCount + b
        let low = values[row] + bw * (values[row + 1] - values[row])
        let high = values[row + bCount] + bw * (values[row + bCount + 1] - values[row + bCount])
        return low + sw * (high - low)
    }

    // MARK: Deciding

    /// The plan with the largest expected value now plus value afterwards, from the true
    /// latent state, time left and hour of `context`, among the plans the session offers.
    func bestSpec(_ context: SessionContext) -> PlanSpec {
        guard let user else { return .empty }
        let model = oracle.model
        let sAxis = oracle.satisfactionAxis, bAxis = oracle.blindnessAxis
        let sCount = sAxis.count, bCount = bAxis.count, levels = oracle.exitShiftLevels.count, grid = sCount * bCount
        let weights = oracle.levelWeights(model.hourExitShift[context.hour])
        let adValue = model.adValueByRegionHour[user.region * 24 + context.hour]
        let satisfaction = context.latent.satisfaction, blindness = context.latent.blindness
        let (s, sw) = sAxis.locate(satisfaction)
        let (b, bw) = bAxis.locate(blindness)
        let stepsLeft = max(0, Double(oracle.days) - context.time) * Double(stepsPerDay)
        let k = min(steps - 1, Int(stepsLeft)), kWeight = min(1, stepsLeft - Double(k))
        var best = PlanSpec.empty, bestValue = -Double.infinity
        for (p, entry) in plans.enumerated()
        where oracle.catalog.offers(entry.spec, region: user.region, feedLength: context.feedLength, adsToday: context.adsToday) {
            var expectedItems = 0.0, change = 0.0, shown = 0.0, money = 0.0
            for level in 0..<levels {
                let row = (p * levels + level) * sCount + s
                let w = weights[level]
                expectedItems += w * (items[row] + sw * (items[row + 1] - items[row]))
                change += w * (satisfactionChange[row] + sw * (satisfactionChange[row + 1] - satisfactionChange[row]))
                shown += w * (ads[row] + sw * (ads[row + 1] - ads[row]))
                money += w * bilinear(revenue, s, sw, b, bw, bCount, offset: (p * levels + level) * sCount * bCount)
            }
            let end = satisfaction + change
            let es = sAxis.locateCubic(end)
            let (eb, ebw) = bAxis.locate(blindness + model.d.blindnessPerAd * shown)
            let later = (1 - kWeight) * interpolate(waiting, es, eb, ebw, bCount, offset: k * grid)
                + kWeight * interpolate(waiting, es, eb, ebw, bCount, offset: (k + 1) * grid)
            let value = adValue * money + model.config.objective.engagementWeight * expectedItems
                + (1 - churnProbability(end)) * later
            if value > bestValue {
                bestValue = value
                best = entry.spec
            }
        }
        return best
    }
}

/// One step-of-day slot's tables for the induction (see ``UserPlanner/slotTables(_:)``).
struct SlotTable {
    var reward: [Double]
    var survival: [Double]
    /// Where the session's expected end satisfaction falls on the grid.
    var end: [CubicWeights]
    var blindIndex: [Int]
    var blindWeight: [Double]

    init(cells: Int, blindCells: Int) {
        reward = Array(repeating: 0, count: blindCells)
        survival = Array(repeating: 0, count: cells)
        end = Array(repeating: CubicWeights(), count: cells)
        blindIndex = Array(repeating: 0, count: blindCells)
        blindWeight = Array(repeating: 0, count: blindCells)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
