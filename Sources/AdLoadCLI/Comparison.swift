import Foundation
import Simulation

/// Reports of several policies on the same users, with ratios to the first and, when a
/// sweep of fixed cadences is present, how the other baselines compare to the best one.
struct Comparison {
    let reports: [SimulationReport]

    var bestFixed: (index: Int, k: Int)? {
        let fixed = reports.enumerated().compactMap { index, report -> (Int, Int, Double)? in
            guard report.policy.hasPrefix("fixed:every="), let k = Int(report.policy.dropFirst("fixed:every=".count)) else { return nil }
            return (index, k, report.objectivePerUser)
        }
        guard fixed.count >= 2, let best = fixed.max(by: { $0.2 < $1.2 }) else { return nil }
        return (best.0, best.1)
    }

    func table() -> String {
        let headers = ["policy", "objective/user", "vs first", "revenue/user", "items/sess", "ads/sess", "ad share",
                       "CTR", "neg/ad", "sess/user/day", "next-day", "survival"]
        let base = reports.first?.objectivePerUser ?? 0
        var rows = [headers]
        for report in reports {
            rows.append([
                report.policy,
                String(format: "%.4f ± %.4f", report.objectivePerUser, report.objectiveStandardError),
                base != 0 ? String(format: "%.3f", report.objectivePerUser / base) : "-",
                String(format: "%.4f", report.revenuePerUser),
                String(format: "%.1f", report.itemsPerSession),
                String(format: "%.2f", report.adsPerSession),
                String(format: "%.3f", report.adShare),
                String(format: "%.4f", report.ctr),
                String(format: "%.4f", report.negativeFeedbackRate),
                String(format: "%.3f", report.sessionsPerUserDay),
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

    /// Objective ratios of myopic, segment and oracle:static to the best fixed cadence.
    var ratiosToBestFixed: [(String, Double)] {
        guard let best = bestFixed else { return [] }
        let bestValue = reports[best.index].objectivePerUser
        return reports.filter { !$0.policy.hasPrefix("fixed:") }.map { ($0.policy, $0.objectivePerUser / bestValue) }
    }

    func summary() -> String? {
        guard let best = bestFixed else { return nil }
        let ks = reports.compactMap { Int($0.policy.split(separator: "=").last ?? "") }
        var lines = ["best fixed cadence: every=\(best.k) (tried \(ks.min() ?? 0)...\(ks.max() ?? 0))"]
        for (policy, ratio) in ratiosToBestFixed {
            lines.append(String(format: "  %@ vs best fixed: %+.1f%%", policy, (ratio - 1) * 100))
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
