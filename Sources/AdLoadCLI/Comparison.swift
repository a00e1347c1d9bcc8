import AdLoadCore
import Foundation
import Simulation

/// Reports of several policies on the same users and luck, with paired ratios (and their
/// 95% intervals) to the best fixed cadence when a sweep of cadences is present, to the
/// first row otherwise; the JSON has both.
struct Comparison {
    let reports: [SimulationReport]

    /// Compares `reports`, in the order given.
    init(reports: [SimulationReport]) {
        self.reports = reports
    }

    var bestFixed: (index: Int, k: Int)? {
        let fixed = reports.enumerated().compactMap { index, report -> (Int, Int, Double)? in
            guard report.policy.hasPrefix("fixed:every="), let k = Int(report.policy.dropFirst("fixed:every=".count)) else { return nil }
            return (index, k, report.objectivePerUser)
        }
        guard fixed.count >= 2, let best = fixed.max(by: { $0.2 < $1.2 }) else { return nil }
        return (best.0, best.1)
    }

    /// The paired ratio of row `index` to row `reference` (`nil` for the row itself or
    /// when the reference's objective is zero).
    func ratio(_ index: Int, to reference: Int) -> PairedRatio? {
        guard index != reference else { return nil }
        return PairedRatio(reference: reports[reference].userObjectives, candidate: reports[index].userObjectives)
    }

    /// The row the table's ratios are to: the best fixed cadence, or the first row.
    var referenceIndex: Int { bestFixed?.index ?? 0 }

    /// `1.034 [1.021, 1.047]`, or `-`.
    static func cell(_ ratio: PairedRatio?) -> String {
        guard let ratio else { return "-" }
        let (low, high) = ratio.interval95
        return String(format: "%.3f [%.3f, %.3f]", ratio.ratio, low, high)
    }

    /// The table, at most 120 columns for the standard comparison: objective, its paired
    /// ratio with a 95% interval to the best fixed cadence (or to the first row when there
    /// is no sweep), and the terms behind it.
    func table() -> String {
        let reference = referenceIndex
        let headers = ["policy", "objective", bestFixed == nil ? "vs first [95% CI]" : "vs best [95% CI]", "revenue", "items/s",
                       "ads/s", "CTR", "neg/ad", "sess/d", "next-d", "surv"]
        var rows: [[String]] = []
        for (index, report) in reports.enumerated() {
            rows.append([
                report.policy,
                String(format: "%.4f", report.objectivePerUser),
                index == reference ? "1.000" : Self.cell(ratio(index, to: reference)),
                String(format: "%.4f", report.revenuePerUser),
                String(format: "%.1f", report.itemsPerSession),
                String(format: "%.2f", report.adsPerSession),
                String(format: "%.4f", report.ctr),
                String(format: "%.4f", report.negativeFeedbackRate),
                String(format: "%.2f", report.sessionsPerUserDay),
                String(format: "%.3f", report.nextDayReturn),
                String(format: "%.3f", report.survival),
            ])
        }
        return alignedTable(headers: headers, rows: rows)
    }

    /// Objective ratios of the policies that are not fixed cadences to the best fixed cadence.
    var ratiosToBestFixed: [(String, Double)] {
        guard let best = bestFixed else { return [] }
        let bestValue = reports[best.index].objectivePerUser
        return reports.filter { !$0.policy.hasPrefix("fixed:") }.map { ($0.policy, $0.objectivePerUser / bestValue) }
    }

    /// Rows whose every figure equals an earlier row's: the same plans in every session.
    var identicalRows: [(policy: String, sameAs: String)] {
        var result: [(String, String)] = []
        for (index, report) in reports.enumerated() {
            if let earlier = reports[..<index].first(where: { $0.positions == report.positions && $0.sessions == report.sessions
                && $0.objectivePerUser == report.objectivePerUser && $0.adsPerSession == report.adsPerSession }) {
                result.append((report.policy, earlier.policy))
            }
        }
        return result
    }

    /// What the columns mean, the best cadence, and which rows are the same policy in effect.
    func legend() -> String {
        var lines: [String] = []
        if let best = bestFixed {
            let ks = reports.compactMap { Int($0.policy.split(separator: "=").last ?? "") }
            lines.append("vs best: objective per user / the best fixed cadence's (every=\(best.k), of \(ks.min() ?? 0)...\(ks.max() ?? 0)),")
        } else {
            lines.append("vs first: objective per user / the first row's,")
        }
        lines.append("  with a 95% interval from per-user paired differences (same users, same luck).")
        lines.append("revenue per user (realized); items/s, ads/s: per session; neg/ad: hides, reports and fast skips per ad;")
        lines.append("sess/d: sessions per user-day; next-d: next-day return; surv: users still active at the end.")
        for report in reports {
            guard let computed = report.computedValuePerUser else { continue }
            lines.append(String(
                format: "%@: computed value %.4f per user, simulated %.4f (%+.1f%%: the programme's discretization error).",
                report.policy, computed, report.objectivePerUser, 100 * (computed / report.objectivePerUser - 1)))
        }
        let identical = Dictionary(grouping: identicalRows, by: \.sameAs)
        for (original, copies) in identical.sorted(by: { $0.key < $1.key }) {
            lines.append("same plans as \(original): \(copies.map(\.policy).joined(separator: ", "))")
            lines.append("  (the placement rules' first slot, gap and caps clamp them to the same ads).")
        }
        return lines.joined(separator: "\n")
    }

    /// Every report with, after the first, `ratio_to_first` and `ratio_to_first_ci95`
    /// (`[low, high]`), after the second `ratio_to_previous` (to the row above, for
    /// orderings such as oracle:dynamic ≥ oracle:plan) and its interval, and with a sweep
    /// `ratio_to_best_fixed` and its interval too.
    func json(environment: String, file: String) -> String {
        func pair(_ ratio: PairedRatio?, _ key: String) -> [(String, String)] {
            guard let ratio else { return [] }
            let (low, high) = ratio.interval95
            return [(key, JSONNumber.json(ratio.ratio)), (key + "_ci95", "[\(JSONNumber.json(low)), \(JSONNumber.json(high))]")]
        }
        let results = reports.indices.map { index in
            var fields = reports[index].jsonFields
            if index > 0 { fields += pair(ratio(index, to: 0), "ratio_to_first") }
            if index > 1 { fields += pair(ratio(index, to: index - 1), "ratio_to_previous") }
            if let best = bestFixed, index != best.index { fields += pair(ratio(index, to: best.index), "ratio_to_best_fixed") }
            return "{" + fields.map { "\(JSONValue.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
        }
        var fields = [
            "\"environment\": \(JSONValue.quoted(environment))",
            "\"env_file\": \(JSONValue.quoted(file))",
            "\"results\": [" + results.joined(separator: ", ") + "]",
        ]
        if let best = bestFixed {
            fields.append("\"best_fixed_every\": \(best.k)")
            let ratios = ratiosToBestFixed.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
            fields.append("\"ratio_to_best_fixed\": {\(ratios)}")
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
