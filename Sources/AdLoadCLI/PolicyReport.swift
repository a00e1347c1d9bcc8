import AdLoadCore
import ArgumentParser
import Foundation
import Simulation
import Training

/// `adload policy report FILE --env PRESET --out report.html`.
struct PolicyReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page (inline SVG, no network, no scripts) about a policy: learning curve, ad load and first-ad positions by segment, survival against best-plan, uplift of one more ad by segment, and off-policy intervals with --logs.",
        discussion: "scripts/render-report takes a screenshot of the page with headless Chromium. See docs/inspection.md.")

    @Argument(help: "The policy file.")
    var file: String

    @Option(help: "The HTML file to write.")
    var out: String

    @OptionGroup(title: "Environment and population")
    var simulation: InspectionSimulationOptions

    @Option(help: "A decision log (JSON Lines): add the policy's off-policy estimates on it, with their 95% intervals.")
    var logs: String?

    @Option(help: "Bootstrap replicates of the --logs intervals.")
    var bootstrap = BootstrapConfiguration.defaultReplicates

    @Flag(help: "Print one JSON object (what was written, and the headline figures) instead of text.")
    var json = false

    func validate() throws {
        try checkWritable(out, option: "--out")
        if let logs { try checkReadable(logs, option: "--logs") }
        try checkRange("--bootstrap", bootstrap, 2...100_000)
    }

    func run() throws {
        prepareLinearAlgebra()
        let inspection = try simulation.prepare(file)
        let (config, envPath, policy, setup, progress) = (inspection.config, inspection.envPath, inspection.policy, inspection.setup, inspection.progress)
        let offPolicy = try logs.map { logs -> OffPolicyReport in
            let (_, evaluation) = try offPolicyEvaluation(policy.policy, logs: logs, seed: setup.luckSeed, progress: progress)
            do { return try OffPolicyReport(decisions: evaluation.decisions, bootstrap: BootstrapConfiguration(replicates: bootstrap, seed: setup.luckSeed)) } catch {
                throw CLIError("\(logs): \(error)")
            }
        }
        let asIs = try inspection.runAsIs()
        let uplift = try inspection.uplift(asIs: asIs)
        let runner = inspection.runner
        let model = runner.model
        let trainer = BaselineTrainer(runner: SimulationRunner(model: model, threads: runner.threads))
        let trained: any SessionPolicy
        // Three choices (a plan per region) from a training population of at most
        // `bestPlanTrainingUsers` users: as `simulate` trains it, in a third of the time at the defaults.
        let training = SimulationSetup(users: min(setup.users, InspectionDefaults.bestPlanTrainingUsers), days: setup.days, seed: setup.luckSeed)
        do { trained = try trainer.policy(.bestPlan, evaluation: training) { progress.note($0) } } catch { throw CLIError(error.description) }
        guard let bestPlan = trained as? PlanPolicy else { throw CLIError("best-plan: the baseline is not a plan policy") }
        let baseline = try runner.run(bestPlan, setup: setup) { progress.note("best-plan: \($0)/\(setup.users) users") }
        progress.finish(String(format: "best-plan: trained, and %d sessions in %.1f s", baseline.report.sessions, baseline.report.elapsedSeconds))

        let page = ReportPage(
            file: file, policy: policy, envName: config.name, envPath: envPath, setup: setup, segments: segmentNames(config),
            asIs: asIs, baseline: baseline, uplift: uplift, curve: PolicyShow.trainingCurve(next: file), offPolicy: offPolicy.map { (logs ?? "", $0) })
        let html = page.html
        do { try Data(html.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
            throw CLIError("--out \(out): cannot write the report (\(error.localizedDescription))")
        }
        let survivalDifference = PairedDifference(reference: baseline.report.users.map(\.survived), candidate: asIs.report.users.map(\.survived))
        if json {
            print("{\"out\": \(JSONValue.quoted(out)), \"policy\": \(JSONValue.quoted(file)), \"version\": \(JSONValue.quoted(policy.version)), "
                + "\"env\": \(JSONValue.quoted(config.name)), \"users\": \(setup.users), \"days\": \(setup.days), \"seed\": \(setup.luckSeed), "
                + "\"charts\": \(page.chartCount), \"bytes\": \(html.utf8.count), \"survival\": \(JSONNumber.json(asIs.report.survival)), "
                + "\"survival_vs_best_plan\": \(pairedJSON(survivalDifference))}")
            return
        }
        print("wrote \(out): \(page.chartCount) charts, \(html.utf8.count / 1024) KiB; \(policy.name) survival \(String(format: "%.3f", asIs.report.survival)), "
            + "vs best-plan \(pairedCell(survivalDifference, format: "%+.3f"))")
    }
}

/// The report's page: sections of text, tables and inline SVG charts.
struct ReportPage {
    let file: String
    let policy: SimulatedPolicy
    let envName: String
    let envPath: String
    let setup: SimulationSetup
    let segments: [String]
    let asIs: InspectionRun
    let baseline: InspectionRun
    let uplift: UpliftAnalysis
    let curve: (column: String, values: [Double])?
    let offPolicy: (logs: String, report: OffPolicyReport)?

    /// The charts, in page order, each under its section heading with a sentence on how to read it.
    var charts: [(heading: String, note: String, svg: String)] {
        var charts: [(String, String, String)] = []
        if let curve {
            charts.append(("Learning curve", "\(curve.column) per row of the training CSV next to the policy file (a simulated day for a bandit, an iteration for PPO).",
                           CurvePlot.svg(curve.values, title: "\(curve.column) during training", xLabel: "row of the training CSV", yLabel: curve.column)))
        }
        let present = segments.indices.filter { segment in asIs.users.contains { $0.segment == segment } }
        let names = present.map { segments[$0] }
        func meanAdsShown(_ run: InspectionRun) -> [Double] {
            present.map { segment in
                let sessions = run.users.filter { $0.segment == segment }.flatMap(\.sessions)
                return Double(sessions.reduce(0) { $0 + $1.adsShown }) / Double(max(1, sessions.count))
            }
        }
        charts.append(("Ad load by segment", "Ads shown per session (the session may end before the plan's later ads), this policy and best-plan.",
                       ReportCharts.groupedBars(
                        title: "Ads shown per session", groups: names,
                        series: [(policy.name, meanAdsShown(asIs)), ("best-plan", meanAdsShown(baseline))])))
        let positions = Array(Set(asIs.sessions.map(\.firstAd))).sorted()
        let shares = present.map { segment in
            let sessions = asIs.users.filter { $0.segment == segment }.flatMap(\.sessions)
            return positions.map { position in fraction(sessions.count(where: { $0.firstAd == position }), of: sessions.count) }
        }
        charts.append(("First-ad positions by segment", "Share of sessions by the chosen plan's first ad position (none: a plan without ads).",
                       ReportCharts.stackedShares(title: "First ad position, share of sessions", rows: names,
                                                  labels: positions.map { $0 == 0 ? "none" : "position \($0)" }, shares: shares)))
        charts.append(("Survival against best-plan", "Share of users not churned by each day, this policy and best-plan (the catalog plan best for each region on a training population), same users and luck.",
                       CurvePlot.svg(series: [(policy.name, asIs.survivalCurve(days: setup.days)), ("best-plan", baseline.survivalCurve(days: setup.days))],
                                     title: "Users not churned", xLabel: "day", yLabel: "share of users")))
        let survivalRows = [("all", Array(asIs.users.indices))] + present.map { segment in
            (segments[segment], asIs.users.indices.filter { asIs.users[$0].segment == segment })
        }
        let survivalDifferences = survivalRows.compactMap { name, members -> (String, Double, Double, Double)? in
            PairedDifference(reference: members.map { baseline.report.users[$0].survived }, candidate: members.map { asIs.report.users[$0].survived })
                .map { (name, $0.difference, $0.interval95.low, $0.interval95.high) }
        }
        charts.append(("Survival against best-plan by segment", "Share of each segment's users not churned at day \(setup.days), this policy minus best-plan, with 95% paired intervals.",
                       ReportCharts.intervals(title: "Survival at day \(setup.days), \(policy.name) − best-plan", rows: survivalDifferences)))
        func rows(_ effect: KeyPath<UpliftAnalysis.SegmentEffect, PairedDifference?>) -> [(String, Double, Double, Double)] {
            ([uplift.overall] + uplift.segments).compactMap { segment in
                segment[keyPath: effect].map { (segment.segment, $0.difference, $0.interval95.low, $0.interval95.high) }
            }
        }
        charts.append(("Uplift of one more ad: revenue", "Revenue per user over \(setup.days) days, with one more ad per session minus as is, with 95% paired intervals.",
                       ReportCharts.intervals(title: "Revenue per user, one more ad − as is", rows: rows(\.revenue))))
        charts.append(("Uplift of one more ad: retention", "Share of users retained at day \(uplift.retentionDay), with one more ad per session minus as is: left of 0, the segment cannot take more ads.",
                       ReportCharts.intervals(title: "Retention at day \(uplift.retentionDay), one more ad − as is", rows: rows(\.retention))))
        if let offPolicy {
            charts.append(("Off-policy estimates", "The policy's value per decision on the \(offPolicy.report.n) logged decisions of \(offPolicy.logs), each estimator with its bootstrap 95% interval.",
                           ReportCharts.intervals(title: "Value per logged decision", rows: offPolicy.report.estimates.map { ($0.name, $0.value, $0.interval95.low, $0.interval95.high) },
                                                  zero: false)))
        }
        return charts
    }

    var chartCount: Int { charts.count }

    var html: String {
        let escaped = CurvePlot.escaped
        let provenance = policy.policy.provenance
        var body = [
            "<h1>\(escaped(file))</h1>",
            "<p>\(escaped(policy.policy.algorithm)), version <code>\(escaped(policy.version))</code>; trained on \(escaped(provenance.environment)), seed \(provenance.seed), "
                + "\(provenance.users) users × \(provenance.days) days, at \(escaped(provenance.trainedAt)).</p>",
            "<p>Simulated here on \(escaped(envName)) (<code>\(escaped(envPath))</code>), \(setup.users) users × \(setup.days) days, seed \(setup.luckSeed): "
                + String(format: "%d sessions, %.2f ads shown per session, revenue %.4f per user, survival %.3f (best-plan: %.2f ads per session, revenue %.4f, survival %.3f).",
                         asIs.report.sessions, asIs.report.adsPerSession, asIs.report.revenuePerUser, asIs.report.survival,
                         baseline.report.adsPerSession, baseline.report.revenuePerUser, baseline.report.survival) + "</p>",
        ]
        if curve == nil { body.append("<p>No training CSV next to the policy file: no learning curve.</p>") }
        for chart in charts {
            body.append("<h2>\(escaped(chart.heading))</h2>")
            body.append("<p class=\"note\">\(escaped(chart.note))</p>")
            body.append(chart.svg)
        }
        body.append("<h2>Uplift by segment</h2>")
        body.append(String(format: "<p class=\"note\">One more ad per session at the earliest position the placement rules allow; %d of %d sessions (%.1f%%) had no room and kept their plan.</p>",
                           uplift.refused, uplift.sessions, 100 * fraction(uplift.refused, of: uplift.sessions)))
        var table = ["<table><tr><th>segment</th><th>users</th><th>ads/session Δ</th><th>revenue/user Δ [95% CI]</th><th>retention Δ [95% CI]</th><th>retention effect</th></tr>"]
        for effect in [uplift.overall] + uplift.segments {
            let cells = [effect.segment, "\(effect.users)", pairedCell(effect.adsPerSession, format: "%+.2f"), pairedCell(effect.revenue),
                         pairedCell(effect.retention, format: "%+.3f"), effect.retentionSign.replacingOccurrences(of: "_", with: " ")]
            table.append("<tr>" + cells.map { "<td>\(escaped($0))</td>" }.joined() + "</tr>")
        }
        table.append("</table>")
        body.append(table.joined(separator: "\n"))
        if let offPolicy {
            body.append("<h2>Off-policy estimates on \(escaped(offPolicy.logs))</h2>")
            body.append("<pre>\(escaped(offPolicy.report.table))</pre>")
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escaped(file)): policy report</title>
            <style>
            body { font-family: sans-serif; max-width: 1120px; margin: 16px auto; color: #222; }
            h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 24px; } .note { color: #555; font-size: 13px; }
            table { border-collapse: collapse; font-size: 12px; } td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; }
            td:first-child, th:first-child { text-align: left; } svg { display: block; }
            </style></head><body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }
}

/// The report's charts as self-contained SVG (no scripts, no external styles), in the style of ``CurvePlot``.
enum ReportCharts {
    /// Fill colours, in order: ``CurvePlot/colours`` first (so a series keeps its colour across charts), then more.
    static let palette = CurvePlot.colours + ["goldenrod", "teal", "orchid", "saddlebrown"]

    /// Opens an SVG of `width` × `height` with a title.
    static func open(width: Int, height: Int, title: String) -> [String] {
        [#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" font-family="sans-serif" font-size="11">"#,
         #"<text x="70" y="22" font-size="13">\#(CurvePlot.escaped(title))</text>"#]
    }

    /// Vertical bars, one group per label and one bar per series in it, with a legend.
    static func groupedBars(title: String, groups: [String], series: [(name: String, values: [Double])]) -> String {
        let (left, top, plotHeight, bottom) = (70.0, 40.0, 170.0, 105.0)
        let groupWidth = max(24.0, Double(12 * series.count + 10))
        let width = left + 20 + groupWidth * Double(groups.count) + 140
        let high = max(1e-12, series.flatMap(\.values).filter(\.isFinite).max() ?? 1) * 1.05
        var lines = open(width: Int(width), height: Int(top + plotHeight + bottom), title: title)
        let baseY = top + plotHeight
        lines.append(#"<line x1="\#(left)" y1="\#(baseY)" x2="\#(width - 140)" y2="\#(baseY)" stroke="gray"/>"#)
        lines.append(#"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(baseY)" stroke="gray"/>"#)
        for step in 0...4 {
            let value = high * Double(step) / 4
            let y = CurvePlot.rounded(baseY - plotHeight * Double(step) / 4)
            lines.append(#"<text x="\#(Int(left) - 6)" y="\#(y + 4)" text-anchor="end">\#(JSONNumber.compact((value * 1e3).rounded() / 1e3))</text>"#)
        }
        let barWidth = (groupWidth - 10) / Double(max(1, series.count))
        for (group, label) in groups.enumerated() {
            let x0 = left + 10 + groupWidth * Double(group)
            for (number, line) in series.enumerated() where group < line.values.count && line.values[group].isFinite {
                let height = plotHeight * max(0, line.values[group]) / high
                lines.append(#"<rect x="\#(CurvePlot.rounded(x0 + barWidth * Double(number)))" y="\#(CurvePlot.rounded(baseY - height))" width="\#(CurvePlot.rounded(barWidth))" height="\#(CurvePlot.rounded(height))" fill="\#(palette[number % palette.count])"/>"#)
            }
            let labelX = CurvePlot.rounded(x0 + (groupWidth - 10) / 2)
            lines.append(#"<text x="\#(labelX)" y="\#(baseY + 10)" transform="rotate(60 \#(labelX) \#(baseY + 10))">\#(CurvePlot.escaped(label))</text>"#)
        }
        lines += legend(series.map(\.name), x: width - 130, y: top)
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Horizontal bars of shares summing to 1, one row per label, stacked by category.
    static func stackedShares(title: String, rows: [String], labels: [String], shares: [[Double]]) -> String {
        let (left, top, barWidth, rowHeight) = (150.0, 40.0, 600.0, 15.0)
        let width = left + barWidth + 160
        let height = top + rowHeight * Double(rows.count) + 30
        var lines = open(width: Int(width), height: Int(max(height, top + 16 * Double(labels.count) + 20)), title: title)
        for (row, name) in rows.enumerated() {
            let y = top + rowHeight * Double(row)
            lines.append(#"<text x="\#(Int(left) - 6)" y="\#(CurvePlot.rounded(y + rowHeight * 0.7))" text-anchor="end">\#(CurvePlot.escaped(name))</text>"#)
            var x = left
            for (column, value) in shares[row].enumerated() where value > 0 {
                let length = barWidth * value
                lines.append(#"<rect x="\#(CurvePlot.rounded(x))" y="\#(CurvePlot.rounded(y + 2))" width="\#(CurvePlot.rounded(length))" height="\#(rowHeight - 4)" fill="\#(palette[column % palette.count])"/>"#)
                x += length
            }
        }
        lines += legend(labels, x: left + barWidth + 14, y: top)
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Estimates with their 95% intervals, one row each (a forest plot), with a line at 0 when `zero`.
    static func intervals(title: String, rows: [(label: String, value: Double, low: Double, high: Double)], zero: Bool = true) -> String {
        let (left, top, plotWidth, rowHeight) = (150.0, 40.0, 560.0, 15.0)
        let finite = rows.flatMap { [$0.low, $0.high, $0.value] }.filter(\.isFinite) + (zero ? [0] : [])
        var low = finite.min() ?? -1, high = finite.max() ?? 1
        if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) }
        (low, high) = (low - (high - low) * 0.05, high + (high - low) * 0.05)
        func x(_ value: Double) -> Double { CurvePlot.rounded(left + (value - low) / (high - low) * plotWidth) }
        let baseY = top + rowHeight * Double(rows.count)
        var lines = open(width: Int(left + plotWidth + 30), height: Int(baseY + 30), title: title)
        lines.append(#"<line x1="\#(left)" y1="\#(baseY)" x2="\#(left + plotWidth)" y2="\#(baseY)" stroke="gray"/>"#)
        for step in 0...4 {
            let value = low + (high - low) * Double(step) / 4
            lines.append(#"<text x="\#(x(value))" y="\#(baseY + 14)" text-anchor="middle">\#(JSONNumber.compact((value * 1e4).rounded() / 1e4))</text>"#)
        }
        if zero { lines.append(#"<line x1="\#(x(0))" y1="\#(top - 4)" x2="\#(x(0))" y2="\#(baseY)" stroke="gray" stroke-dasharray="3,3"/>"#) }
        for (index, row) in rows.enumerated() {
            let y = CurvePlot.rounded(top + rowHeight * (Double(index) + 0.5))
            let colour = zero && row.high < 0 ? "firebrick" : zero && row.low > 0 ? "seagreen" : "steelblue"
            lines.append(#"<text x="\#(Int(left) - 6)" y="\#(y + 4)" text-anchor="end">\#(CurvePlot.escaped(row.label))</text>"#)
            lines.append(#"<line x1="\#(x(row.low))" y1="\#(y)" x2="\#(x(row.high))" y2="\#(y)" stroke="\#(colour)" stroke-width="2"/>"#)
            lines.append(#"<circle cx="\#(x(row.value))" cy="\#(y)" r="3.5" fill="\#(colour)"/>"#)
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A colour key: one swatch and name per entry.
    static func legend(_ names: [String], x: Double, y: Double) -> [String] {
        names.enumerated().flatMap { number, name -> [String] in
            let top = CurvePlot.rounded(y + 16 * Double(number))
            return [#"<rect class="key" x="\#(x)" y="\#(top)" width="10" height="10" fill="\#(palette[number % palette.count])"/>"#,
                    #"<text x="\#(x + 14)" y="\#(top + 9)">\#(CurvePlot.escaped(name))</text>"#]
        }
    }
}
