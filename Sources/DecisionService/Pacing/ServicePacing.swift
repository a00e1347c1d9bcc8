import AdLoadCore
import Foundation
import Logging
import ServiceLifecycle
import StateStore
import Synchronization

/// The service side of pacing (docs/pacing.md): counts accepted feedback into per-region
/// counters in the store, moves each region's prices with the same ``PacingController`` the
/// simulation uses, and hands the prices to every decision.
///
/// Counters, prices and targets live in the store, so every replica adds to the same
/// counters and serves the same prices, and a restart resumes them. Each ``tick(now:)``
/// (every `tickInterval` on the service's clock) does, per region: if the stored prices are
/// for an earlier interval than the current one, compute the prices for this interval from
/// today's counters of the finished intervals and store them only if no replica has stored
/// this interval yet (compare-and-set); then read the stored prices into the cache decisions
/// read without waiting. The latest days' counters give the day's profile (the shares the
/// targets are pro-rated by; `profile_days` of them) and yesterday's the expected active
/// users, as in the simulation.
package final class ServicePacing: Service, Sendable {
    /// What the service paces to, and the prices it serves.
    struct Current: Sendable {
        var targets: RevenueTargets?
        /// The targets' text as stored (what `GET /v1/targets` shows).
        var targetsText: Data?
        /// Per region, in the schema's order.
        var prices: [PacingPrices]
        /// Per region: today's counters so far and active users, as of the last tick.
        var today: [(day: Int, counters: PacingCounters, activeUsers: Int)]
    }

    let store: any PacingStore
    /// The policy schema's regions: feedback and decisions name them, targets must too.
    let regions: [String]
    let logger: Logger
    let clock: any TimeSource
    /// Time between ticks on ``clock``.
    let tickInterval: Duration
    /// The wall time, days since the Unix epoch (tests set it).
    let wallTime: @Sendable () -> Double
    let current: Mutex<Current>

    /// Creates the pacing of a service.
    /// - Parameters:
    ///   - store: Where counters, prices and targets live.
    ///   - regions: The regions decisions and feedback name (the policy's schema).
    ///   - tickInterval: Time between reads of the stored prices (and updates when an interval has passed).
    ///   - wallTime: Days since the epoch now.
    package init(
        store: any PacingStore, regions: [String], logger: Logger, clock: any TimeSource = SystemClock(),
        tickInterval: Duration = .seconds(10),
        wallTime: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 / 86_400 }
    ) {
        self.store = store
        self.regions = regions
        self.logger = logger
        self.clock = clock
        self.tickInterval = tickInterval
        self.wallTime = wallTime
        current = Mutex(Current(
            targets: nil, targetsText: nil, prices: Array(repeating: .defaults, count: regions.count),
            today: Array(repeating: (0, PacingCounters(), 0), count: regions.count)))
    }

    /// Whether targets are set (feedback must then name its region).
    package var isActive: Bool { current.withLock { $0.targets != nil } }

    /// The prices decisions in `region` (an index into the schema's regions) use now; `nil` when no targets are set.
    package func prices(region: Int) -> PacingPrices? {
        current.withLock { $0.targets == nil ? nil : $0.prices[region] }
    }

    /// Checks and stores new targets for every replica; this replica uses them at once.
    /// - Throws: `ConfigError` naming the key when the text is not a valid targets file for
    ///   these regions; `StoreError` when the store did not take it.
    package func setTargets(_ text: Data, source: String) async throws -> RevenueTargets {
        // Stored as given and shown inside GET /v1/targets, so it must be UTF-8 JSON text.
        guard text.first == UInt8(ascii: "{") || text.first.map({ [9, 10, 13, 32].contains($0) }) == true,
              String(data: text, encoding: .utf8) != nil else {
            throw ConfigError(file: source, key: nil, value: nil, problem: "must be a JSON object in UTF-8 (no byte order mark)")
        }
        let targets = try RevenueTargets.parse(text, file: source)
        try targets.validate(regions: regions, file: source)
        try await store.storePacingTargets(text)
        current.withLock {
            $0.targets = targets
            $0.targetsText = text
        }
        return targets
    }

    /// Adds one feedback's newly counted events to its region's counters. Feedback is counted
    /// whether or not targets are set, so that targets set mid-day see the whole day.
    /// - Throws: `StoreError` when the store did not take them (the feedback itself is stored).
    package func count(_ events: [FeedbackEvent], userID: String, region: String, time: Double) async throws(StoreError) {
        guard !events.isEmpty else { return }
        var counters = PacingCounters()
        for event in events {
            switch event.kind {
            case .impression:
                counters.impressions += 1
                counters.revenue += event.value ?? 0
            case .click, .conversion: counters.revenue += event.value ?? 0
            case .skip, .hide, .report: counters.negatives += 1
            case .dwell: counters.organicItems += 1
            case .sessionEnd: counters.sessions += 1
            }
        }
        let day = Int(time.rounded(.down))
        let slot = min(pacingSlotsPerDay - 1, Int((time - Double(day)) * Double(pacingSlotsPerDay)))
        try await store.addPacingCounters(counters, userID: userID, region: region, day: day, slot: slot)
    }

    /// The number of price updates per day under `targets` (their interval divides the day).
    static func intervalsPerDay(_ targets: RevenueTargets) -> Int { max(1, Int((1440 / targets.gains.intervalMinutes).rounded())) }

    /// One round: adopt targets another replica stored, update each region's prices if an
    /// interval has passed since the stored ones, and cache the stored prices.
    /// - Parameter now: days since the Unix epoch.
    package func tick(now: Double) async throws {
        if let text = try await store.pacingTargets(), text != current.withLock({ $0.targetsText }) {
            do {
                let targets = try RevenueTargets.parse(text, file: "the stored targets")
                try targets.validate(regions: regions, file: "the stored targets")
                current.withLock {
                    $0.targets = targets
                    $0.targetsText = text
                }
            } catch {
                logger.error("stored pacing targets refused; keeping the current ones", metadata: ["error": "\(error)"])
            }
        }
        guard let targets = current.withLock({ $0.targets }) else { return }
        let perDay = Self.intervalsPerDay(targets)
        let controller = PacingController(gains: targets.gains)
        // The interval as of a few seconds ago: a replica whose clock runs slightly ahead does
        // not compute the next interval's prices from a half-counted one.
        let settled = now - Self.settleSeconds / 86_400
        let day = Int(settled.rounded(.down))
        let interval = min(perDay - 1, Int((settled - Double(day)) * Double(perDay)))
        let displayDay = Int(now.rounded(.down))
        for (index, region) in regions.enumerated() {
            let stored = try await store.pacingState(region: region)
            let minute = interval * Int(targets.gains.intervalMinutes)
            let candidate = StoredPacingState(day: day, minute: minute, state: stored?.state ?? PacingState())
            var prices = stored?.state.prices ?? .defaults
            if stored.map({ candidate.isNewer(than: $0) }) ?? true {
                var next = candidate
                next.state = try await update(
                    candidate.state, region: region, day: day, interval: interval, perDay: perDay, controller: controller,
                    targets: targets.targets(region: region))
                // Ours landed, or another replica's did first: serve whichever is stored.
                prices = try await store.storePacingState(next, region: region)
                    ? next.state.prices : try await store.pacingState(region: region)?.state.prices ?? prices
            }
            let today = try await store.pacingDay(region: region, day: displayDay, activeThrough: nil)
            var todayCounters = PacingCounters()
            for part in today.slots { todayCounters.add(part) }
            current.withLock {
                $0.prices[index] = prices
                $0.today[index] = (displayDay, todayCounters, today.activeUsers)
            }
        }
    }

    /// Seconds after an interval's end before its prices are computed.
    static let settleSeconds = 5.0

    /// The state for `interval` of `day`, as the simulation computes it: from the counters of
    /// the day's finished intervals, pro-rated by the mean profile of those of the last
    /// `profile_days` days that had sessions (or by the share of the day when none had).
    /// Interval 0 is the end-of-day update of the day before, from all its counters. One
    /// interval of integration at most, so the integral does not jump after downtime.
    func update(
        _ state: PacingState, region: String, day: Int, interval: Int, perDay: Int, controller: PacingController,
        targets: RegionTargets
    ) async throws(StoreError) -> PacingState {
        let elapsed = 1 / Double(perDay)
        let slotsPerInterval = pacingSlotsPerDay / perDay
        /// A day's slots added up into the targets' intervals.
        func intervals(_ slots: [PacingCounters]) -> [PacingCounters] {
            (0..<perDay).map { index in
                var sum = PacingCounters()
                for part in slots[(index * slotsPerInterval)..<((index + 1) * slotsPerInterval)] { sum.add(part) }
                return sum
            }
        }
        if interval == 0 {
            let yesterday = try await store.pacingDay(region: region, day: day - 1, activeThrough: nil)
            var total = PacingCounters()
            for part in yesterday.slots { total.add(part) }
            guard total.sessions > 0 else { return state }
            return controller.update(
                state, counters: total, targets: targets, day: day - 1, activeUsers: yesterday.activeUsers, dayShare: 1, revenueShare: 1,
                impressionShare: 1, elapsedDays: elapsed, closesDay: true)
        }
        let today = try await store.pacingDay(region: region, day: day, activeThrough: interval * slotsPerInterval)
        let yesterday = try await store.pacingDay(region: region, day: day - 1, activeThrough: nil)
        var recent = [intervals(yesterday.slots)]
        for back in stride(from: 2, through: controller.gains.profileDays, by: 1) {
            // Only the counters: no active users are counted (their keys are gone after 2 days).
            recent.append(intervals(try await store.pacingDay(region: region, day: day - back, activeThrough: 0).slots))
        }
        var sofar = PacingCounters()
        for finished in today.slots.prefix(interval * slotsPerInterval) { sofar.add(finished) }
        let even = Double(interval) / Double(perDay)
        let hasYesterday = yesterday.slots.contains { $0.sessions > 0 }
        let profile = DayShares.meanProfile(of: recent)?[interval - 1]
        let share = profile?.sessions ?? even
        // Expected active users today: yesterday's count, or today's so far over the share.
        let expectedActive = hasYesterday ? yesterday.activeUsers : Int((Double(today.activeUsers) / max(share, 1e-9)).rounded())
        return controller.update(
            state, counters: sofar, targets: targets, day: day, activeUsers: expectedActive, dayShare: share,
            revenueShare: profile?.revenue ?? even, impressionShare: profile?.impressions ?? even, elapsedDays: elapsed)
    }

    /// Ticks every ``tickInterval`` until graceful shutdown; a failed tick is logged and the
    /// prices in the cache stay.
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try await tick(now: wallTime()) } catch {
                logger.warning("pacing tick failed; serving the last prices", metadata: ["error": "\(error)"])
            }
            let interval = tickInterval
            let clock = clock
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
        }
    }

    /// A snapshot for `GET /v1/targets` and the metrics.
    func snapshot() -> Current { current.withLock { $0 } }
}
