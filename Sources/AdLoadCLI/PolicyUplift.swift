import AdLoadCore
import ArgumentParser
import Foundation
import Simulation
import Training

/// `adload policy uplift --policy P --env PRESET`.
struct PolicyUplift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uplift",
        abstract: "Per segment, the effect of one more ad per session on revenue per user and on 30-day retention, with paired 95% intervals: who can take more ads and who cannot.",
        discussion: """
            Runs the policy as is, and the policy with one more ad in each session's chosen plan (at the earliest \
            position the placement rules allow; a plan with no room keeps its ads, and the share of such sessions \
            is reported), on the same users and luck. See docs/inspection.md.
            """)

    @Option(help: "The policy file.")
    var policy: String

    @OptionGroup(title: "Environment and population")
    var simulation: InspectionSimulationOptions

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        prepareLinearAlgebra()
        let inspection = try simulation.prepare(policy)
        let uplift = try inspection.uplift(asIs: try inspection.runAsIs())
        let (config, envPath, seed) = (inspection.config, inspection.envPath, simulation.execution.seed)
        if json {
            print("{\"policy\": \(JSONValue.quoted(policy)), \"version\": \(JSONValue.quoted(inspection.policy.version)), \"env\": \(JSONValue.quoted(config.name)), "
                + "\"env_file\": \(JSONValue.quoted(envPath)), \"users\": \(simulation.users), \"days\": \(simulation.days), \"seed\": \(seed), "
                + uplift.jsonFields + "}")
            return
        }
        print("\(policy) (version \(inspection.policy.version)) with one more ad per session, on \(config.name) (\(envPath)), "
            + "\(simulation.users) users × \(simulation.days) days, seed \(seed)")
        print(uplift.table)
    }
}

/// Effects of one more ad per session, overall and per segment, by common random numbers:
/// the policy as is (the reference) and with one more ad (the candidate), same users and luck.
struct UpliftAnalysis {
    /// One segment's effects (candidate − reference), each with its 95% interval.
    struct SegmentEffect {
        let segment: String
        let users: Int
        /// Ads shown per session.
        let adsPerSession: PairedDifference?
        /// Revenue per user over the horizon.
        let revenue: PairedDifference?
        /// Share of users retained at ``UpliftAnalysis/retentionDay``.
        let retention: PairedDifference?
        /// Sessions per user over the horizon (users who stay may come back less often).
        let sessions: PairedDifference?

        /// The sign of the retention effect: `negative` when the whole interval is below 0
        /// (the segment cannot take more ads), `positive` when above, else `zero_in_interval`.
        var retentionSign: String {
            guard let interval = retention?.interval95 else { return "zero_in_interval" }
            return interval.high < 0 ? "negative" : interval.low > 0 ? "positive" : "zero_in_interval"
        }
    }

    /// The policy with one more ad.
    let extended: InspectionRun
    /// Every user together, then each segment with users.
    let overall: SegmentEffect
    let segments: [SegmentEffect]
    /// Sessions of the extended run, and those whose plan had no room for another ad.
    let sessions: Int
    let refused: Int
    /// The day retention is measured at.
    let retentionDay: Int

    /// Runs the policy with one more ad per session on `asIs`'s users and luck and compares.
    init(asIs: InspectionRun, policy: SimulatedPolicy, runner: InspectionRunner, config: EnvironmentConfig, progress: Progress) throws {
        let setup = asIs.report.setup
        let wrapped = OneMoreAdPolicy(base: policy)
        let extended = try runner.run(wrapped, setup: setup) { progress.note("\(wrapped.name): \($0)/\(setup.users) users") }
        progress.finish(String(format: "%@: %d sessions in %.1f s", wrapped.name, extended.report.sessions, extended.report.elapsedSeconds))
        let extendedSessions = extended.sessions
        let retentionDay = min(InspectionDefaults.retentionDay, setup.days)
        let names = segmentNames(config)
        let effect = { (name: String, members: [Int]) -> SegmentEffect in
            Self.effect(name, members: members, reference: asIs, candidate: extended, retentionDay: Double(retentionDay))
        }
        let bySegment = Dictionary(grouping: asIs.users.indices, by: { asIs.users[$0].segment })
        self.extended = extended
        self.retentionDay = retentionDay
        sessions = extendedSessions.count
        refused = extendedSessions.count(where: \.extraAdRefused)
        overall = effect("all", Array(asIs.users.indices))
        segments = names.indices.compactMap { segment in bySegment[segment].map { effect(names[segment], $0) } }
    }

    /// The effects on the users `members` (indices into both runs).
    static func effect(_ name: String, members: [Int], reference: InspectionRun, candidate: InspectionRun, retentionDay: Double) -> SegmentEffect {
        func ads(_ run: InspectionRun) -> (numerators: [Double], denominators: [Double]) {
            (members.map { Double(run.users[$0].sessions.reduce(0) { $0 + $1.adsShown }) }, members.map { run.report.users[$0].sessions })
        }
        func retained(_ run: InspectionRun) -> [Double] { members.map { run.users[$0].retained(to: retentionDay) ? 1 : 0 } }
        return SegmentEffect(
            segment: name, users: members.count,
            adsPerSession: PairedDifference(reference: ads(reference), candidate: ads(candidate)),
            revenue: PairedDifference(
                reference: members.map { reference.report.users[$0].revenue }, candidate: members.map { candidate.report.users[$0].revenue }),
            retention: PairedDifference(reference: retained(reference), candidate: retained(candidate)),
            sessions: PairedDifference(
                reference: members.map { reference.report.users[$0].sessions }, candidate: members.map { candidate.report.users[$0].sessions }))
    }

    /// The JSON fields (without braces): `extra_ad`, `retention_day`, `overall`, `segments`.
    var jsonFields: String {
        func object(_ effect: SegmentEffect) -> String {
            "{\"segment\": \(JSONValue.quoted(effect.segment)), \"users\": \(effect.users), \"ads_per_session\": \(pairedJSON(effect.adsPerSession)), "
                + "\"revenue_per_user\": \(pairedJSON(effect.revenue)), \"retention\": \(pairedJSON(effect.retention)), "
                + "\"sessions_per_user\": \(pairedJSON(effect.sessions)), "
                + "\"retention_effect_sign\": \(JSONValue.quoted(effect.retentionSign))}"
        }
        return "\"extra_ad\": {\"placement\": \"earliest allowed position\", \"sessions\": \(sessions), \"no_room\": \(refused), "
            + "\"no_room_share\": \(JSONNumber.json(fraction(refused, of: sessions)))}, \"retention_day\": \(retentionDay), "
            + "\"overall\": \(object(overall)), \"segments\": [" + segments.map(object).joined(separator: ", ") + "]"
    }

    /// The table: one row per segment, then who can take more ads and who cannot.
    var table: String {
        let headers = ["segment", "users", "ads/session Δ", "revenue/user Δ [95% CI]", "retention@\(retentionDay)d Δ [95% CI]"]
        let rows = ([overall] + segments).map { effect in
            [effect.segment, "\(effect.users)", pairedCell(effect.adsPerSession, format: "%+.2f"), pairedCell(effect.revenue),
             pairedCell(effect.retention, format: "%+.3f")]
        }
        var lines = [String(
            format: "extra ad at the earliest position the rules allow; %d of %d sessions (%.1f%%) had no room and kept their plan",
            refused, sessions, 100 * fraction(refused, of: sessions))]
        lines.append(alignedTable(headers: headers, rows: rows))
        lines.append("sessions per user over the horizon, all users: \(pairedCell(overall.sessions, format: "%+.2f"))"
            + (overall.sessions.map { String(format: " (as is %.2f)", $0.reference) } ?? ""))
        let cannot = segments.filter { $0.retentionSign == "negative" }.map(\.segment)
        let gains = segments.filter { $0.retentionSign != "negative" && ($0.revenue?.interval95.low ?? 0) > 0 }.map(\.segment)
        lines.append("cannot take more ads (retention falls, whole interval below 0): " + (cannot.isEmpty ? "none" : cannot.joined(separator: ", ")))
        lines.append("can (revenue rises, no retention loss detected): " + (gains.isEmpty ? "none" : gains.joined(separator: ", ")))
        lines.append("Δ: with one more ad − as is, same users and luck; intervals from per-user paired differences.")
        return lines.joined(separator: "\n")
    }
}

/// A policy with one more ad in each session's chosen plan: at the earliest position where
/// the placement rules allow it; a plan with no room for another ad is kept as is (its
/// decider says so).
struct OneMoreAdPolicy: SessionPolicy {
    let base: SimulatedPolicy

    var name: String { base.name + " +1 ad" }

    func makeWorker() -> Worker { Worker(base: base.makeWorker()) }

    /// A thread's side: the base policy's worker, and the insertion.
    struct Worker: PolicyWorker {
        var base: SimulatedPolicy.Worker

        mutating func beginSession(_ context: SessionContext) -> OneMoreAdDecider {
            let plan = base.beginSession(context).plan
            guard let extended = withOneMoreAd(plan, rules: context.rules, feedLength: context.feedLength, adsToday: context.adsToday) else {
                return OneMoreAdDecider(plan: plan, extraAdRefused: true)
            }
            return OneMoreAdDecider(plan: extended, extraAdRefused: false)
        }
    }
}

/// Follows a plan, telling whether the extra ad found room.
struct OneMoreAdDecider: InspectableDecider {
    let plan: AdPlan
    let extraAdRefused: Bool

    var plannedAds: AdPlan { plan }

    mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool { plan.contains(tracker.position) }
}

/// `plan` with one more ad at the earliest position the placement rules allow, or `nil`
/// when there is none (session or daily cap reached, or no gap left).
///
/// Position p is checked in O(1) against the first slot, the gaps to its neighbours, and the
/// share cap at p and at every later ad (each of which gains one ad before it: its slack,
/// share·t − ads(≤ t), must be at least one ad); the plan found is then confirmed by
/// ``PlacementRules/violation(of:feedLength:adsToday:)``, the one place the rules live.
func withOneMoreAd(_ plan: AdPlan, rules: PlacementRules, feedLength: Int, adsToday: Int) -> AdPlan? {
    let positions = plan.positions
    guard positions.count < rules.maxAdsPerSession, rules.dailyCap.map({ adsToday + positions.count < $0 }) ?? true else { return nil }
    let shareBasisPoints = Int((rules.maxShare * 10_000).rounded())
    // Least slack, in basis points, of the share cap at the ads from index i on.
    var slackFrom = Array(repeating: Int.max, count: positions.count + 1)
    for index in positions.indices.reversed() {
        slackFrom[index] = min(slackFrom[index + 1], shareBasisPoints * positions[index] - (index + 1) * 10_000)
    }
    var before = 0
    for position in max(1, rules.firstSlot)...max(1, min(feedLength, AdPlan.maxPosition)) {
        while before < positions.count && positions[before] < position { before += 1 }
        if before < positions.count && positions[before] == position { continue }
        let gapBefore = before == 0 ? Int.max : position - positions[before - 1] - 1
        let gapAfter = before == positions.count ? Int.max : positions[before] - position - 1
        guard gapBefore >= rules.minGap, gapAfter >= rules.minGap, (before + 1) * 10_000 <= shareBasisPoints * position,
              slackFrom[before] >= 10_000 else { continue }
        var extended = plan
        extended.insert(position)
        if rules.violation(of: extended, feedLength: feedLength, adsToday: adsToday) == nil { return extended }
    }
    return nil
}
