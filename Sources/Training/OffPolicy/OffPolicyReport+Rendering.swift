import AdLoadCore
import Foundation

extension OffPolicyReport {
    /// The report as a JSON object with a fixed key order, ending in a newline.
    ///
    /// Keys: `n`, `switch_threshold`, `bootstrap_replicates`, `bootstrap_seed`, then
    /// `estimates`, an array in report order whose objects have `name`, `value`,
    /// `standard_error`, `lower95`, `upper95`, `effective_sample_size`, `n`. Numbers use
    /// Swift's shortest round-trip form; non-finite numbers (an infinite threshold) are `null`.
    /// The text is a pure function of the report.
    package var json: String { json(only: nil) }

    /// ``json`` with only the estimators named in `names` (all when `nil`): a log without
    /// reward-model predictions has no DM, DR or switch-DR.
    package func json(only names: Set<String>?) -> String {
        var lines = [
            "{",
            "  \"n\": \(n),",
            "  \"switch_threshold\": \(JSONNumber.json(switchThreshold)),",
            "  \"bootstrap_replicates\": \(bootstrap.replicates),",
            "  \"bootstrap_seed\": \(bootstrap.seed),",
            "  \"estimates\": [",
        ]
        let objects = estimates.filter { names?.contains($0.name) ?? true }.map { "    " + $0.json }
        lines.append(objects.joined(separator: ",\n"))
        lines.append("  ]")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as an aligned text table: estimator, value, 95% interval, standard error, ESS.
    ///
    /// Values are printed with 4 decimals, ESS with 1; a header line states n, the
    /// bootstrap replicate count and seed, and the switch-DR threshold.
    package var table: String { table(only: nil) }

    /// ``table`` with only the estimators named in `names` (all when `nil`).
    package func table(only names: Set<String>?) -> String {
        let header = ["estimator", "value", "95% interval", "std. error", "ESS"]
        let rows = estimates.filter { names?.contains($0.name) ?? true }.map { estimate in
            [
                estimate.name,
                decimal(estimate.value, 4),
                "[\(decimal(estimate.lower95, 4)), \(decimal(estimate.upper95, 4))]",
                decimal(estimate.standardError, 4),
                decimal(estimate.effectiveSampleSize, 1),
            ]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.indices.map { column in
                let cell = cells[column]
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell
            }
            .joined(separator: "  ")
        }
        let threshold = switchThreshold.isFinite ? decimal(switchThreshold, 2) : "∞"
        var lines = ["n = \(n), bootstrap B = \(bootstrap.replicates) (seed \(bootstrap.seed)), switch-DR τ = \(threshold)"]
        lines.append(line(header))
        lines.append(contentsOf: rows.map(line))
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Estimate {
    /// The estimate as a one-line JSON object with keys in declaration order.
    package var json: String {
        let fields = [
            ("name", JSONValue.quoted(name)),
            ("value", JSONNumber.json(value)),
            ("standard_error", JSONNumber.json(standardError)),
            ("lower95", JSONNumber.json(lower95)),
            ("upper95", JSONNumber.json(upper95)),
            ("effective_sample_size", JSONNumber.json(effectiveSampleSize)),
            ("n", "\(n)"),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }
}


/// `value` with a fixed number of decimals, independent of locale; non-finite values print as `nan`, `inf` or `-inf`.
private func decimal(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    return String(format: "%.\(places)f", value)
}
