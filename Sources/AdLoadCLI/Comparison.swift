import Foundation
import Simulation

/// Reports of several policies on the same users, with ratios to the best fixed cadence
/// when a sweep of cadences is present (to the first row otherwise).
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

    /// The table, at most 120 columns for the standard comparison: objective with its
    /// standard error, its ratio to the best fixed cadence (or to the first row when there
    /// is no sweep), and the terms behind it.
    func table() -> String {
        let reference = bestFixed.map { reports[$0.index].objectivePerUser } ?? reports.first?.objectivePerUser ?? 0
        let headers = ["policy", "objective/user", bestFixed == nil ? "vs first" : "vs best", "revenue", "items/sess", "ads/sess",
                       "CTR", "neg/ad", "sess/day", "next-day", "survival"]
        var rows = [headers]
        for report in reports {
            rows.append([
                report.policy,
                String(format: "%.4f ± %.4f", report.objectivePerUser, report.objectiveStandardError),
                reference != 0 ? String(format: "%.3f", report.objectivePerUser / reference) : "-",
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
        let widths = headers.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
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
            lines.append("vs best: objective / the best fixed cadence's (every=\(best.k), of \(ks.min() ?? 0)...\(ks.max() ?? 0)).")
        } else {
            lines.append("vs first: objective / the first row's.")
        }
        lines.append("± one standard error over users; revenue per user; neg/ad: hides, reports and fast skips per ad;")
        lines.append("sess/day: sessions per user-day; next-day: next-day return; survival: users still active at the end.")
        let identical = Dictionary(grouping: identicalRows, by: \.sameAs)
        for (original, copies) in identical.sorted(by: { $0.key < $1.key }) {
            lines.append("same plans as \(original): \(copies.map(\.policy).joined(separator: ", "))")
            lines.append("  (the placement rules' first slot, gap and caps clamp them to the same ads).")
        }
        return lines.joined(separator: "\n")
    }

    func json(environment: String, file: String) -> String {
        var fields = [
            "\"environment\": \"\(environment)\"",
            "\"env_file\": \"\(file.replacingOccurrences(of: "\"", with: "\\\""))\"",
            "\"results\": [" + reports.map(\.json).joined(separator: ", ") + "]",
        ]
        if let best = bestFixed {
            fields.append("\"best_fixed_every\": \(best.k)")
            let ratios = ratiosToBestFixed.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
            fields.append("\"ratio_to_best_fixed\": {\(ratios)}")
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
