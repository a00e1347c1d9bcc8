import AdLoadCore
import ArgumentParser
import Foundation
import Policies
import Simulation
import Training

/// `adload policy diff A B`.
struct PolicyDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Where two policies decide differently, their ad load and first-ad positions side by side, and the value of each with the paired difference and its 95% interval.",
        discussion: """
            By simulation (default): both policies on the same users and luck; at every session of A's run, B is \
            asked what it would choose with the same decision random stream. With --logs: on the logged contexts \
            of a decision log, each policy's value by doubly robust off-policy evaluation, and the difference with \
            a paired bootstrap interval. See docs/inspection.md.
            """)

    @Argument(help: "Policy A (the reference).")
    var a: String

    @Argument(help: "Policy B (compared with A).")
    var b: String

    @Option(help: "Environment preset for the simulation: a configuration file, or the name of one in env/ (default: env/default.json).")
    var env: String?

    @Option(parsing: .unconditional, help: "Simulated users (default: \(InspectionDefaults.users)).")
    var users: Int?

    @Option(parsing: .unconditional, help: "Simulated days per user (default: \(InspectionDefaults.days)).")
    var days: Int?

    @Option(help: "A decision log (JSON Lines, from `adload simulate --log` or the service): compare on its contexts by off-policy evaluation instead of simulating.")
    var logs: String?

    @Option(help: "Bootstrap replicates of the --logs intervals.")
    var bootstrap = BootstrapConfiguration.defaultReplicates

    @OptionGroup
    var execution: InspectionRunOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if let logs {
            let simulated = [env.map { _ in "--env" }, users.map { _ in "--users" }, days.map { _ in "--days" }].compactMap { $0 }
            guard simulated.isEmpty else {
                throw ValidationError("--logs cannot be combined with \(simulated.joined(separator: ", ")): --logs compares on the logged contexts, those options simulate")
            }
            try checkReadable(logs, option: "--logs")
        }
        try checkPopulation(users: users ?? InspectionDefaults.users, days: days ?? InspectionDefaults.days)
        try checkRange("--bootstrap", bootstrap, 2...100_000)
    }

    func run() throws {
        prepareLinearAlgebra()
        let progress = Progress(enabled: !execution.quiet)
        let comparison = try logs.map { try onLogs($0, progress: progress) } ?? simulated(progress: progress)
        print(json ? comparison.json : comparison.text)
    }

    /// The seed of the users, their luck, the decisions and the bootstrap.
    var seed: UInt64 { execution.seed }

    /// Both policies simulated on the same users and luck.
    func simulated(progress: Progress) throws -> PolicyComparison {
        let envPath = environmentPath(env ?? "default")
        let config = try loadEnvironment(envPath)
        let setup = SimulationSetup(users: users ?? InspectionDefaults.users, days: days ?? InspectionDefaults.days, seed: seed)
        let policyA = try inspectedPolicy(a, config: config, envPath: envPath, seed: seed, allowEnvMismatch: execution.allowEnvMismatch)
        let policyB = try inspectedPolicy(b, config: config, envPath: envPath, seed: seed, allowEnvMismatch: execution.allowEnvMismatch)
        let runner = InspectionRunner(model: EnvironmentModel(config: config), threads: execution.threads)
        let shadow = DecisionShadow(other: policyB, greedySelf: greedyVersion(of: policyA), greedyOther: greedyVersion(of: policyB))
        let runA = try runner.run(policyA, setup: setup, shadow: shadow) { progress.note("A (\(a)) with B asked at each session: \($0)/\(setup.users) users") }
        progress.finish(String(format: "A (%@): %d sessions in %.1f s", a, runA.report.sessions, runA.report.elapsedSeconds))
        let runB = try runner.run(policyB, setup: setup) { progress.note("B (\(b)): \($0)/\(setup.users) users") }
        progress.finish(String(format: "B (%@): %d sessions in %.1f s", b, runB.report.sessions, runB.report.elapsedSeconds))

        let decisions = runA.users.flatMap { user in
            user.sessions.map { DecisionPair(segment: user.segment, buckets: $0.buckets, differs: $0.differs, greedyDiffers: $0.greedyDiffers) }
        }
        let (reportA, reportB) = (runA.report, runB.report)
        func ads(_ run: InspectionRun) -> (numerators: [Double], denominators: [Double]) {
            (run.users.map { Double($0.sessions.reduce(0) { $0 + $1.adsShown }) }, run.report.users.map(\.sessions))
        }
        let values: [(name: String, difference: PairedDifference?)] = [
            ("objective_per_user", PairedDifference(reference: reportA.userObjectives, candidate: reportB.userObjectives)),
            ("revenue_per_user", PairedDifference(reference: reportA.users.map(\.revenue), candidate: reportB.users.map(\.revenue))),
            ("survival", PairedDifference(reference: reportA.users.map(\.survived), candidate: reportB.users.map(\.survived))),
            ("ads_per_session", PairedDifference(reference: ads(runA), candidate: ads(runB))),
        ]
        return PolicyComparison(
            a: (a, policyA.version), b: (b, policyB.version),
            header: [("mode", JSONValue.quoted("simulation")), ("env", JSONValue.quoted(config.name)), ("env_file", JSONValue.quoted(envPath)),
                     ("users", "\(setup.users)"), ("days", "\(setup.days)"), ("seed", "\(seed)")],
            headline: "\(a) vs \(b) on \(config.name) (\(envPath)), \(setup.users) users × \(setup.days) days, seed \(seed), same users and luck",
            disagreement: Disagreement(decisions, segmentNames: segmentNames(config)),
            adLoad: SideBySide(
                measure: "shown", countsAds: true, a: runA.sessions.map(\.adsShown), b: runB.sessions.map(\.adsShown)),
            firstAd: SideBySide(measure: "planned", countsAds: false, a: runA.sessions.map(\.firstAd), b: runB.sessions.map(\.firstAd)),
            simulatedValues: values, offPolicy: nil,
            standardErrorA: reportA.objectiveStandardError, standardErrorB: reportB.objectiveStandardError)
    }

    /// Both policies on a decision log's contexts.
    func onLogs(_ logs: String, progress: Progress) throws -> PolicyComparison {
        let (policyA, versionA) = try loadPolicyFile(a)
        let (policyB, versionB) = try loadPolicyFile(b)
        do { try DecisionLogReader.checkLayout(path: logs, schema: policyB.schema) } catch { throw CLIError("\(b): \(error)") }
        let (records, evaluationA) = try offPolicyEvaluation(policyA, logs: logs, seed: seed, progress: progress)
        let evaluationB: PolicyEvaluation
        do { evaluationB = try PolicyEvaluation(target: policyB, records: records, decisionSeed: seed) } catch { throw CLIError("\(logs): \(error)") }
        let configuration = BootstrapConfiguration(replicates: bootstrap, seed: seed)
        let paired: PairedOffPolicyDifference
        let reports: (OffPolicyReport, OffPolicyReport)
        do {
            paired = try PairedOffPolicyDifference(reference: evaluationA.decisions, candidate: evaluationB.decisions, bootstrap: configuration)
            reports = (try OffPolicyReport(decisions: evaluationA.decisions, bootstrap: configuration),
                       try OffPolicyReport(decisions: evaluationB.decisions, bootstrap: configuration))
        } catch {
            throw CLIError("\(logs): \(error)")
        }
        let choices = LoggedChoices(records, a: policyA, b: policyB, seed: seed)
        var segments: [String] = []
        var segmentIndex: [String: Int] = [:]
        let decisions = records.indices.map { index in
            let record = records[index]
            let name = "\(record.region)/\(record.device)/\(record.tenure)"
            let segment = segmentIndex[name] ?? {
                segments.append(name)
                segmentIndex[name] = segments.count - 1
                return segments.count - 1
            }()
            let buckets = record.sim.map {
                HistoryBuckets.buckets(totalSessions: $0.totalSessions, adsToday: record.adsToday, recentNegatives: $0.week.count > 4 ? $0.week[4] : 0)
            } ?? HistoryBuckets.bucketsWithoutHistory(adsToday: record.adsToday)
            return DecisionPair(
                segment: segment, buckets: buckets, differs: choices.a[index] != choices.b[index],
                greedyDiffers: choices.greedyA[index] != choices.greedyB[index])
        }
        return PolicyComparison(
            a: (a, versionA), b: (b, versionB),
            header: [("mode", JSONValue.quoted("logs")), ("logs", JSONValue.quoted(logs)), ("seed", "\(seed)")],
            headline: "\(a) vs \(b) on the \(records.count) logged contexts of \(logs), seed \(seed)",
            disagreement: Disagreement(decisions, segmentNames: segments),
            adLoad: SideBySide(measure: "planned", countsAds: true, a: choices.a.map(\.count), b: choices.b.map(\.count)),
            firstAd: SideBySide(measure: "planned", countsAds: false, a: choices.a.map { $0.positions.first ?? 0 }, b: choices.b.map { $0.positions.first ?? 0 }),
            simulatedValues: [], offPolicy: (paired, reports.0, reports.1))
    }
}

extension HistoryBuckets {
    /// The buckets of a logged decision without the simulator's record of the history:
    /// sessions so far and recent negatives unknown (the last bucket label, `unknown`).
    static func bucketsWithoutHistory(adsToday: Int) -> InlineArray<3, UInt8> {
        var buckets = Self.buckets(totalSessions: 0, adsToday: adsToday, recentNegatives: 0)
        buckets[0] = UInt8(kinds[0].labels.count)
        buckets[2] = UInt8(kinds[2].labels.count)
        return buckets
    }
}

/// The plans both policies (and their greedy versions) choose on each logged context, as
/// off-policy evaluation has them decide (the same random stream per decision).
struct LoggedChoices {
    var a: [AdPlan] = [], b: [AdPlan] = [], greedyA: [AdPlan] = [], greedyB: [AdPlan] = []

    init(_ records: [LoggedRecord], a policyA: any DecisionPolicy, b policyB: any DecisionPolicy, seed: UInt64) {
        let policies = [policyA, policyB, policyA.conservative(), policyB.conservative()]
        let largest = max(1, records.map(\.candidates.count).max() ?? 1)
        let workspaces = policies.map { $0.makeWorkspace(maxCandidates: largest) }
        var plans: [[AdPlan]] = Array(repeating: [], count: policies.count)
        for record in records {
            let candidates = record.offeredPlans
            let random = PolicyEvaluation.decisionStream(for: record, seed: seed)
            for (index, policy) in policies.enumerated() {
                workspaces[index].load(features: record.features, prices: record.pacingPrices)
                plans[index].append(candidates[policy.decide(candidates, random: random, workspace: workspaces[index]).index].plan)
            }
        }
        (a, b, greedyA, greedyB) = (plans[0], plans[1], plans[2], plans[3])
    }
}

/// One decision of `policy diff`: where it was, and whether the policies' plans differ there.
struct DecisionPair {
    /// Index into the segment names.
    let segment: Int
    let buckets: InlineArray<3, UInt8>
    /// Whether the chosen plans differ (same decision random stream).
    let differs: Bool
    /// Whether the most likely (greedy) plans differ.
    let greedyDiffers: Bool
}

/// How often two policies choose different plans, overall and broken down.
struct Disagreement {
    /// One group of decisions.
    struct Row {
        let label: String
        let decisions: Int
        let differing: Int
        var share: Double { fraction(differing, of: decisions) }
        var json: String {
            "{\"group\": \(JSONValue.quoted(label)), \"decisions\": \(decisions), \"disagreement\": \(JSONNumber.json(share))}"
        }
    }

    let overall: Row
    let greedy: Row
    let bySegment: [Row]
    /// Per ``HistoryBuckets/kinds`` (plus `unknown` where the history is not known), the rows with decisions.
    let byHistory: [(kind: String, rows: [Row])]

    init(_ decisions: [DecisionPair], segmentNames: [String]) {
        func rows(_ labels: [String], key: (DecisionPair) -> Int) -> [Row] {
            var counts = Array(repeating: (0, 0), count: labels.count)
            for decision in decisions {
                let index = key(decision)
                counts[index].0 += 1
                if decision.differs { counts[index].1 += 1 }
            }
            return labels.indices.filter { counts[$0].0 > 0 }.map { Row(label: labels[$0], decisions: counts[$0].0, differing: counts[$0].1) }
        }
        overall = Row(label: "all", decisions: decisions.count, differing: decisions.count(where: \.differs))
        greedy = Row(label: "greedy", decisions: decisions.count, differing: decisions.count(where: \.greedyDiffers))
        bySegment = rows(segmentNames) { $0.segment }
        byHistory = HistoryBuckets.kinds.enumerated().map { kind, entry in
            (entry.name, rows(entry.labels + ["unknown"]) { Int($0.buckets[kind]) })
        }
    }
}

/// Two distributions of a per-session count over the same labels: shares of sessions.
struct SideBySide {
    /// `shown` (ads the user saw) or `planned` (in the chosen plan).
    let measure: String
    let labels: [String]
    let a: [Double]
    let b: [Double]
    let meanA: Double
    let meanB: Double

    /// Ad counts (`countsAds`) in buckets 0, 1, 2, 3, 4, 5-6, 7-9, 10-14, 15+; positions one
    /// by one (`none` for sessions without ads).
    init(measure: String, countsAds: Bool, a valuesA: [Int], b valuesB: [Int]) {
        self.measure = measure
        // A position's mean is over the plans with ads (0 stands for none).
        func mean(_ values: [Int]) -> Double {
            Double(values.reduce(0, +)) / Double(max(1, countsAds ? values.count : values.count(where: { $0 > 0 })))
        }
        meanA = mean(valuesA)
        meanB = mean(valuesB)
        let keys: [Int]
        let bucket: (Int) -> Int
        if countsAds {
            keys = [0, 1, 2, 3, 4, 5, 7, 10, 15]
            labels = ["0", "1", "2", "3", "4", "5-6", "7-9", "10-14", "15+"]
            bucket = { value in keys.lastIndex { $0 <= value } ?? 0 }
        } else {
            let positions = Array(Set(valuesA + valuesB)).sorted()
            keys = positions
            labels = positions.map { $0 == 0 ? "none" : "\($0)" }
            let index = Dictionary(uniqueKeysWithValues: positions.enumerated().map { ($1, $0) })
            bucket = { value in index[value] ?? 0 }
        }
        func shares(_ values: [Int]) -> [Double] {
            var counts = Array(repeating: 0, count: keys.count)
            for value in values { counts[bucket(value)] += 1 }
            return counts.map { fraction($0, of: values.count) }
        }
        a = shares(valuesA)
        b = shares(valuesB)
    }
}

/// What `policy diff` prints: the disagreement, the distributions side by side, and the values.
struct PolicyComparison {
    let a: (file: String, version: String)
    let b: (file: String, version: String)
    /// Mode-specific JSON fields (mode, env or logs, sizes, seed).
    let header: [(String, String)]
    let headline: String
    let disagreement: Disagreement
    let adLoad: SideBySide
    let firstAd: SideBySide
    /// By simulation: B − A of per-user metrics (objective first), paired by user.
    let simulatedValues: [(name: String, difference: PairedDifference?)]
    /// By logs: both policies' DR and its paired difference, and every estimator of each.
    let offPolicy: (paired: PairedOffPolicyDifference, a: OffPolicyReport, b: OffPolicyReport)?

    /// The value of each policy and B − A, each with its 95% interval: (metric, a, b, difference, interval kind).
    var value: (metric: String, a: (Double, Double, Double), b: (Double, Double, Double), difference: (Double, Double, Double), interval: String)? {
        if let offPolicy {
            func triple(_ estimate: Estimate) -> (Double, Double, Double) { (estimate.value, estimate.interval95.low, estimate.interval95.high) }
            return ("reward per decision (DR)", triple(offPolicy.paired.reference), triple(offPolicy.paired.candidate), triple(offPolicy.paired.difference),
                    "percentile bootstrap of the per-decision DR differences (\(offPolicy.a.bootstrap.replicates) resamples of the logged decisions)")
        }
        guard let first = simulatedValues.first, let difference = first.difference else { return nil }
        func around(_ value: Double, _ standardError: Double) -> (Double, Double, Double) {
            (value, value - normalQuantile95 * standardError, value + normalQuantile95 * standardError)
        }
        let (low, high) = difference.interval95
        return (first.name, around(difference.reference, standardErrorA), around(difference.reference + difference.difference, standardErrorB),
                (difference.difference, low, high), "normal, from per-user paired differences (same users and luck)")
    }

    /// Standard errors of A's and B's objective per user (simulation), for their own intervals.
    var standardErrorA = 0.0
    var standardErrorB = 0.0

    var json: String {
        let number = JSONNumber.json
        func list(_ values: [Double]) -> String { "[" + values.map(number).joined(separator: ", ") + "]" }
        func rows(_ rows: [Disagreement.Row]) -> String { "[" + rows.map(\.json).joined(separator: ", ") + "]" }
        func side(_ side: SideBySide) -> String {
            "{\"measure\": \(JSONValue.quoted(side.measure)), \"labels\": [" + side.labels.map(JSONValue.quoted).joined(separator: ", ")
                + "], \"a\": \(list(side.a)), \"b\": \(list(side.b)), \"mean_a\": \(number(side.meanA)), \"mean_b\": \(number(side.meanB))}"
        }
        var fields: [(String, String)] = [
            ("a", "{\"file\": \(JSONValue.quoted(a.file)), \"version\": \(JSONValue.quoted(a.version))}"),
            ("b", "{\"file\": \(JSONValue.quoted(b.file)), \"version\": \(JSONValue.quoted(b.version))}"),
        ] + header + [
            ("decisions", "\(disagreement.overall.decisions)"),
            ("disagreement", number(disagreement.overall.share)),
            ("greedy_disagreement", number(disagreement.greedy.share)),
            ("by_segment", rows(disagreement.bySegment)),
            ("by_history", "{" + disagreement.byHistory.map { "\(JSONValue.quoted($0.kind)): \(rows($0.rows))" }.joined(separator: ", ") + "}"),
            ("ad_load", side(adLoad)),
            ("first_ad_position", side(firstAd)),
        ]
        if let value {
            fields.append(("value", "{\"metric\": \(JSONValue.quoted(value.metric)), \"a\": \(number(value.a.0)), \"a_ci95\": \(list([value.a.1, value.a.2])), "
                + "\"b\": \(number(value.b.0)), \"b_ci95\": \(list([value.b.1, value.b.2])), \"difference\": \(number(value.difference.0)), "
                + "\"ci95\": \(list([value.difference.1, value.difference.2])), \"interval\": \(JSONValue.quoted(value.interval))}"))
        }
        if !simulatedValues.isEmpty {
            fields.append(("values", "{" + simulatedValues.map { "\(JSONValue.quoted($0.name)): \(pairedJSON($0.difference))" }.joined(separator: ", ") + "}"))
        }
        if let offPolicy {
            fields.append(("estimates", "{\"a\": \(offPolicy.a.json.replacingOccurrences(of: "\n", with: " ")), \"b\": \(offPolicy.b.json.replacingOccurrences(of: "\n", with: " "))}"))
        }
        return "{" + fields.map { "\(JSONValue.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    var text: String {
        func percent(_ value: Double) -> String { String(format: "%5.1f%%", 100 * value) }
        var lines = ["A \(a.file) (\(a.version)) vs B \(b.file) (\(b.version))", headline]
        let overall = disagreement.overall
        lines.append("B chooses another plan than A in \(percent(overall.share).trimmingCharacters(in: .whitespaces)) of \(overall.decisions) decisions "
            + "(same decision random stream); their most likely plans differ in \(percent(disagreement.greedy.share).trimmingCharacters(in: .whitespaces))")
        lines.append("by segment (region/device/tenure):")
        lines.append(alignedTable(
            headers: ["  segment", "decisions", "B differs"],
            rows: disagreement.bySegment.map { ["  " + $0.label, "\($0.decisions)", percent($0.share)] }))
        for (kind, rows) in disagreement.byHistory {
            lines.append("by \(kind.replacingOccurrences(of: "_", with: " ")): " + rows.map { "\($0.label) \(percent($0.share).trimmingCharacters(in: .whitespaces)) (\($0.decisions))" }.joined(separator: ", "))
        }
        for (title, side) in [("ads per session (\(adLoad.measure))", adLoad), ("first ad position (\(firstAd.measure); mean over plans with ads)", firstAd)] {
            lines.append(String(format: "%@: mean A %.2f, B %.2f; share of decisions:", title, side.meanA, side.meanB))
            lines.append(alignedTable(headers: ["  value", "A", "B"], rows: side.labels.indices.map { ["  " + side.labels[$0], percent(side.a[$0]), percent(side.b[$0])] }))
        }
        if let value {
            lines.append(String(format: "value (%@): A %.4f [%.4f, %.4f], B %.4f [%.4f, %.4f]; B − A %+.4f [%+.4f, %+.4f]",
                                value.metric, value.a.0, value.a.1, value.a.2, value.b.0, value.b.1, value.b.2,
                                value.difference.0, value.difference.1, value.difference.2))
            lines.append("  interval: \(value.interval)")
        }
        for (name, difference) in simulatedValues.dropFirst() {
            guard let difference else { continue }
            lines.append(String(format: "%@: A %.4f, B − A %@", name.replacingOccurrences(of: "_", with: " "), difference.reference, pairedCell(difference)))
        }
        if let offPolicy {
            lines.append("every estimator, A:")
            lines.append(offPolicy.a.table.trimmingCharacters(in: .newlines))
            lines.append("every estimator, B:")
            lines.append(offPolicy.b.table.trimmingCharacters(in: .newlines))
        }
        return lines.joined(separator: "\n")
    }
}
