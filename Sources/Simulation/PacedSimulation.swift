import AdLoadCore
import Dispatch
import Synchronization

/// One region's simulated day under pacing: what it earned and showed against its targets,
/// and the prices at the day's end.
package struct PacedDay: Sendable, Equatable {
    package let region: String
    /// 1-based.
    package let day: Int
    package let counters: PacingCounters
    /// Users with at least one session that day.
    package let activeUsers: Int
    /// The day's revenue target in revenue units (`nil`: none set).
    package let revenueTarget: Double?
    package let impressionBudget: Double?
    package let maxNegativeRate: Double?
    package let minOrganicPerSession: Double?
    /// The prices in force at the day's end.
    package let prices: PacingPrices
}

/// Runs users in simulated time, all together, with the pacing controller in the loop, as
/// the service would: every interval (the targets' `interval_minutes`) each region's prices
/// are set from its counters so far today, and the sessions of the next interval are
/// decided with them.
///
/// Within an interval the users are independent (the prices are fixed, every draw is keyed
/// by user and session), so they run in parallel in fixed chunks whose counters are added
/// in chunk order: the numbers do not depend on the thread count. Without targets the users
/// live exactly the lives ``SimulationRunner`` gives them.
package struct PacedSimulation: Sendable {
    package let model: EnvironmentModel
    package let targets: RevenueTargets
    package let threads: Int

    package init(model: EnvironmentModel, targets: RevenueTargets, threads: Int) {
        self.model = model
        self.targets = targets
        self.threads = max(1, threads)
    }

    /// The number of price updates per simulated day.
    package var intervalsPerDay: Int { max(1, Int((1440 / targets.gains.intervalMinutes).rounded())) }

    /// Simulates `policy` on `setup` with pacing.
    /// - Returns: the usual report and one ``PacedDay`` per region and day (regions in the
    ///   environment's order within each day).
    package func run<P: SessionPolicy>(
        _ policy: P, setup: SimulationSetup, progress: (@Sendable (Int) -> Void)? = nil
    ) throws(SimulationError) -> (report: SimulationReport, days: [PacedDay]) {
        let clock = ContinuousClock()
        let start = clock.now
        let regionCount = model.config.regions.count
        let regionTargets = model.config.regions.map { targets.targets(region: $0.name) }
        let controller = PacingController(gains: targets.gains)
        let perDay = intervalsPerDay
        let chunkSize = 16
        let chunkCount = (setup.users + chunkSize - 1) / chunkSize
        let model = self.model
        // Each chunk's users, and the last day each user was active (for active-user counts).
        let chunks = Mutex<[[UserTrajectory]]>((0..<chunkCount).map { chunk in
            ((chunk * chunkSize)..<min(setup.users, (chunk + 1) * chunkSize)).map {
                model.startTrajectory(model.user($0, populationSeed: setup.populationSeed), luckSeed: setup.luckSeed, days: setup.days)
            }
        })
        let lastActiveDays = Mutex<[[Int]]>((0..<chunkCount).map { chunk in
            Array(repeating: -1, count: min(setup.users, (chunk + 1) * chunkSize) - chunk * chunkSize)
        })
        var states = Array(repeating: PacingState(), count: regionCount)
        var days: [PacedDay] = []
        // Per region, the latest days' counters per interval (newest first, at most the gains'
        // profile days), and the mean of their cumulative shares of the day's sessions, revenue
        // and impressions: the pace a day's counters are compared with.
        var recentDays = Array(repeating: [[PacingCounters]](), count: regionCount)
        var profiles: [[DayShares]?] = Array(repeating: nil, count: regionCount)
        var yesterdayActive: [Int]? = nil
        for day in 0..<setup.days {
            var counters = Array(repeating: PacingCounters(), count: regionCount)
            var active = Array(repeating: 0, count: regionCount)
            var byInterval = Array(repeating: Array(repeating: PacingCounters(), count: perDay), count: regionCount)
            for interval in 0..<perDay {
                let end = Double(day) + Double(interval + 1) / Double(perDay)
                let prices = states.map(\.prices)
                let partials = Mutex<[(counters: [PacingCounters], active: [Int])?]>(Array(repeating: nil, count: chunkCount))
                let failure = Mutex<SimulationError?>(nil)
                let nextChunk = Atomic<Int>(0)
                DispatchQueue.concurrentPerform(iterations: min(threads, max(1, chunkCount))) { _ in
                    var worker = policy.makeWorker()
                    while true {
                        let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                        if chunk >= chunkCount || failure.withLock({ $0 != nil }) { return }
                        var users = chunks.withLock { all in
                            let mine = all[chunk]
                            all[chunk] = []
                            return mine
                        }
                        var lastActive = lastActiveDays.withLock { $0[chunk] }
                        var chunkCounters = Array(repeating: PacingCounters(), count: regionCount)
                        var chunkActive = Array(repeating: 0, count: regionCount)
                        do throws(SimulationError) {
                            for index in users.indices where users[index].isActive && users[index].time < end {
                                let region = users[index].user.region
                                worker.setPrices(prices[region])
                                while users[index].isActive && users[index].time < end {
                                    var decider = worker.beginSession(model.context(of: users[index]))
                                    let outcome = try model.step(&users[index], decider: &decider, policyName: policy.name)
                                    chunkCounters[region].add(
                                        revenue: outcome.revenue, impressions: outcome.ads, negatives: outcome.negatives,
                                        organicItems: outcome.items)
                                    if lastActive[index] != day {
                                        lastActive[index] = day
                                        chunkActive[region] += 1
                                    }
                                }
                            }
                        } catch {
                            failure.withLock { $0 = $0 ?? error }
                        }
                        chunks.withLock { $0[chunk] = users }
                        lastActiveDays.withLock { $0[chunk] = lastActive }
                        partials.withLock { $0[chunk] = (chunkCounters, chunkActive) }
                    }
                }
                if let error = failure.withLock({ $0 }) { throw error }
                for partial in partials.withLock({ $0 }) {
                    guard let partial else { continue }
                    for region in 0..<regionCount {
                        counters[region].add(partial.counters[region])
                        byInterval[region][interval].add(partial.counters[region])
                        active[region] += partial.active[region]
                    }
                }
                for region in 0..<regionCount {
                    // The shares of today's sessions, revenue and impressions seen: the recent
                    // days' profile, or the share of the day on day 1.
                    let evenShare = Double(interval + 1) / Double(perDay)
                    let profile = profiles[region]?[interval]
                    let share = profile?.sessions ?? evenShare
                    // Expected active users today: yesterday's count, or on day 1 today's so far over the share.
                    let expectedActive = yesterdayActive?[region] ?? Int((Double(active[region]) / max(share, 1e-9)).rounded())
                    states[region] = controller.update(
                        states[region], counters: counters[region], targets: regionTargets[region], day: day + 1, activeUsers: expectedActive,
                        dayShare: share, revenueShare: profile?.revenue ?? evenShare, impressionShare: profile?.impressions ?? evenShare,
                        elapsedDays: 1 / Double(perDay), closesDay: interval == perDay - 1)
                }
            }
            for region in 0..<regionCount {
                let targets = regionTargets[region]
                days.append(PacedDay(
                    region: model.config.regions[region].name, day: day + 1, counters: counters[region], activeUsers: active[region],
                    revenueTarget: targets.dailyRevenue?.amount(activeUsers: active[region], day: day + 1),
                    impressionBudget: targets.dailyImpressionBudget?.on(day: day + 1), maxNegativeRate: targets.maxNegativeRate,
                    minOrganicPerSession: targets.minOrganicPerSession, prices: states[region].prices))
            }
            for region in 0..<regionCount {
                recentDays[region] = Array(([byInterval[region]] + recentDays[region]).prefix(controller.gains.profileDays))
                profiles[region] = DayShares.meanProfile(of: recentDays[region])
            }
            yesterdayActive = active
            progress?(day + 1)
        }
        let outcomes = chunks.withLock { $0.flatMap { $0.map(\.outcome) } }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return (SimulationReport(policy: policy.name, setup: setup, outcomes: outcomes, elapsedSeconds: seconds), days)
    }
}
