import AdLoadCore
import Simulation

/// `simulate --targets` output: the `pacing` rows of the JSON, a summary table and the SVG.
enum PacingOutput {
    /// Days before this one are warm-up: the summary's attainment starts here.
    static let firstSettledDay = 8

    /// One JSON object per region and day (docs/pacing.md).
    static func json(_ days: [PacedDay]) -> String {
        let number = JSONNumber.json
        func optional(_ value: Double?) -> String { value.map(number) ?? "null" }
        let rows = days.map { day in
            let prices = day.prices
            return "{\"region\": \(JSONValue.quoted(day.region)), \"day\": \(day.day), \"revenue\": \(number(day.counters.revenue)), "
                + "\"revenue_target\": \(optional(day.revenueTarget)), \"impressions\": \(number(day.counters.impressions)), "
                + "\"impression_budget\": \(optional(day.impressionBudget)), \"sessions\": \(number(day.counters.sessions)), "
                + "\"active_users\": \(day.activeUsers), \"negatives\": \(number(day.counters.negatives)), "
                + "\"organic_items\": \(number(day.counters.organicItems)), "
                + "\"prices\": {\"revenue\": \(number(prices.revenue)), \"impressions\": \(number(prices.impressions)), "
                + "\"negatives\": \(number(prices.negatives)), \"organic\": \(number(prices.organic))}}"
        }
        return "[" + rows.joined(separator: ", ") + "]"
    }

    /// Per region, from ``firstSettledDay`` on: revenue against its target (mean, worst day),
    /// impressions against the budget (worst day), and the last day's prices.
    static func table(_ days: [PacedDay]) -> String {
        var lines = ["pacing, days \(firstSettledDay)+ (per region): revenue / target (mean, range), impressions / budget (max), last prices (revenue, impressions)"]
        let regions = days.reduce(into: [String]()) { names, day in if !names.contains(day.region) { names.append(day.region) } }
        for region in regions {
            let settled = days.filter { $0.region == region && $0.day >= firstSettledDay }
            guard let last = days.last(where: { $0.region == region }) else { continue }
            guard !settled.isEmpty else {
                lines.append(region.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + "no day from day \(firstSettledDay) on (the run has \(last.day))" + String(format: "   prices %.3f, %.3f", last.prices.revenue, last.prices.impressions))
                continue
            }
            let revenueRatios = settled.compactMap { day in day.revenueTarget.map { day.counters.revenue / max($0, 1e-12) } }
            let budgetRatios = settled.compactMap { day in day.impressionBudget.map { day.counters.impressions / max($0, 1e-12) } }
            var line = region.padding(toLength: 8, withPad: " ", startingAt: 0)
            if revenueRatios.isEmpty {
                line += "revenue: no target"
            } else {
                let mean = revenueRatios.reduce(0, +) / Double(revenueRatios.count)
                line += String(format: "revenue %.3f [%.3f, %.3f]", mean, revenueRatios.min() ?? 0, revenueRatios.max() ?? 0)
            }
            line += budgetRatios.isEmpty ? "   impressions: no budget" : String(format: "   impressions %.3f", budgetRatios.max() ?? 0)
            line += String(format: "   prices %.3f, %.3f", last.prices.revenue, last.prices.impressions)
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Attainment (revenue / target, impressions / budget) and the revenue and impression
    /// prices per region over the days, one SVG with both panels stacked.
    static func svg(_ days: [PacedDay], title: String) -> String {
        let regions = days.reduce(into: [String]()) { names, day in if !names.contains(day.region) { names.append(day.region) } }
        var attainment: [(name: String, values: [Double])] = []
        var prices: [(name: String, values: [Double])] = []
        for region in regions {
            let mine = days.filter { $0.region == region }
            if mine.contains(where: { $0.revenueTarget != nil }) {
                attainment.append(("\(region) revenue / target", mine.map { day in day.revenueTarget.map { day.counters.revenue / max($0, 1e-12) } ?? .nan }))
                prices.append(("\(region) revenue price", mine.map(\.prices.revenue)))
            }
            if mine.contains(where: { $0.impressionBudget != nil }) {
                attainment.append(("\(region) impressions / budget", mine.map { day in day.impressionBudget.map { day.counters.impressions / max($0, 1e-12) } ?? .nan }))
                prices.append(("\(region) impression price", mine.map(\.prices.impressions)))
            }
        }
        let top = CurvePlot.svg(series: attainment, title: "\(title): attainment per day", xLabel: "day", yLabel: "actual / target")
        let bottom = CurvePlot.svg(series: prices, title: "\(title): prices at each day's end", xLabel: "day", yLabel: "price")
        // Two plots stacked in one document.
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"640\" font-family=\"sans-serif\" font-size=\"11\">\n"
            + "<g>\n" + inner(top) + "</g>\n<g transform=\"translate(0 320)\">\n" + inner(bottom) + "</g>\n</svg>\n"
    }

    /// The elements of an SVG document without its outer `<svg>` element.
    static func inner(_ document: String) -> String {
        var lines = document.split(separator: "\n", omittingEmptySubsequences: true)
        if lines.first?.hasPrefix("<svg") == true { lines.removeFirst() }
        if lines.last == "</svg>" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The paced policy against one unpaced alternative on the same users and luck: revenue per
/// user, survival and organic items per session, each as paced − alternative with a paired
/// 95% interval (``PairedDifference``).
struct PacingComparison {
    let alternative: String
    let revenue: PairedDifference?
    let survival: PairedDifference?
    let itemsPerSession: PairedDifference?

    init(paced: SimulationReport, alternative: SimulationReport) {
        self.alternative = alternative.policy
        revenue = PairedDifference(reference: alternative.users.map(\.revenue), candidate: paced.users.map(\.revenue))
        survival = PairedDifference(reference: alternative.users.map(\.survived), candidate: paced.users.map(\.survived))
        itemsPerSession = PairedDifference(
            reference: (alternative.users.map(\.items), alternative.users.map(\.sessions)),
            candidate: (paced.users.map(\.items), paced.users.map(\.sessions)))
    }

    /// `{"policy", "revenue_per_user", "survival", "items_per_session"}`, each difference as
    /// `{"alternative", "difference", "low", "high"}` (paced − alternative).
    var json: String {
        func part(_ value: PairedDifference?) -> String {
            guard let value else { return "null" }
            let interval = value.interval95
            return "{\"alternative\": \(JSONNumber.json(value.reference)), \"difference\": \(JSONNumber.json(value.difference)), "
                + "\"low\": \(JSONNumber.json(interval.low)), \"high\": \(JSONNumber.json(interval.high))}"
        }
        return "{\"policy\": \(JSONValue.quoted(alternative)), \"revenue_per_user\": \(part(revenue)), \"survival\": \(part(survival)), "
            + "\"items_per_session\": \(part(itemsPerSession))}"
    }

    static func table(_ comparisons: [PacingComparison]) -> String {
        func cell(_ value: PairedDifference?, _ format: String) -> String {
            guard let value else { return "n/a" }
            let interval = value.interval95
            return String(format: "\(format) [\(format), \(format)]", value.difference, interval.low, interval.high)
        }
        var lines = ["paced − unpaced alternative, same users and luck (95% paired intervals): revenue/user, survival, items/session"]
        for comparison in comparisons {
            lines.append("  vs \(comparison.alternative): revenue \(cell(comparison.revenue, "%+.4f"))   survival \(cell(comparison.survival, "%+.4f"))   items/session \(cell(comparison.itemsPerSession, "%+.3f"))")
        }
        return lines.joined(separator: "\n")
    }
}
