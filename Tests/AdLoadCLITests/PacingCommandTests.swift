@testable import AdLoadCLI
import AdLoadCore
import Foundation
import Simulation
import Testing

@Suite("simulate --targets")
struct PacingCommandTests {
    static let targets = """
        {"name": "t", "description": "eu has a budget",
         "pacing": {"proportional_gain": 0.5, "integral_gain": 2, "max_price": 10, "interval_minutes": 60, "minimum_day_share": 0.02},
         "regions": {"eu": {"daily_revenue": null, "daily_impression_budget": 50, "max_negative_rate": null, "min_organic_per_session": null}}}
        """

    func temporary(_ suffix: String, _ text: String? = nil) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("adload-pacing-\(UUID().uuidString)\(suffix)").path
        if let text { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
        return path
    }

    @Test("the shipped example targets load and name only the default preset's regions; both kinds of constraint are set")
    func shippedTargets() throws {
        let targets = try RevenueTargets.load(path: repositoryFile("env/targets/default.json"))
        let config = try EnvironmentConfig.load(path: repositoryFile("env/default.json"))
        try targets.validate(regions: config.regions.map(\.name), file: "env/targets/default.json")
        #expect(targets.regions.contains { $0.targets.dailyRevenue != nil })
        #expect(targets.regions.contains { $0.targets.dailyImpressionBudget != nil })
    }

    @Test("a paced run writes a plot with its elements closed and data in both panels")
    func plot() throws {
        let targets = try temporary(".json", Self.targets)
        let plot = try temporary(".svg")
        defer { for path in [targets, plot] { try? FileManager.default.removeItem(atPath: path) } }
        var command = try AdLoad.parseAsRoot([
            "simulate", "--policy", "priced:every=20", "--env", repositoryFile("env/default.json"), "--targets", targets,
            "--pacing-plot", plot, "--users", "40", "--days", "3", "--threads", "1", "--quiet", "--json",
        ])
        try command.run()
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        #expect(svg.components(separatedBy: "<svg").count == 2 && svg.hasSuffix("</svg>\n"), "one document")
        #expect(svg.components(separatedBy: "<g").count == svg.components(separatedBy: "</g>").count, "every group closed")
        let paths = svg.components(separatedBy: "<path d=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(paths.count == 2, "one attainment and one price series for eu, got \(paths.count)")
        #expect(paths.allSatisfy { $0.split(separator: "L").count == 3 }, "three days per series: \(paths)")
    }

    @Test("the pacing rows have every key, null where a region has no target")
    func rows() throws {
        let config = try EnvironmentConfig.load(path: repositoryFile("env/default.json"))
        let targets = try RevenueTargets.parse(Data(Self.targets.utf8), file: "t.json")
        let run = try PacedSimulation(model: EnvironmentModel(config: config), targets: targets, threads: 1)
            .run(PricedCadencePolicy(every: 20), setup: SimulationSetup(users: 30, days: 2, seed: 3))
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(PacingOutput.json(run.days).utf8)) as? [[String: Any]])
        #expect(rows.count == 2 * config.regions.count)
        for row in rows {
            for key in ["region", "day", "revenue", "revenue_target", "impressions", "impression_budget", "prices"] {
                #expect(row[key] != nil, "missing \(key) in \(row)")
            }
            #expect(row["revenue_target"] is NSNull)
            #expect((row["impression_budget"] is NSNull) == (row["region"] as? String != "eu"))
        }
        let table = PacingOutput.table(run.days)
        #expect(table.contains("eu      no day from day 8 on (the run has 2)"), "a run shorter than the warm-up says so: \(table)")
    }

    @Test("a targets file naming a region the environment does not have is refused with the file and key")
    func unknownRegion() async throws {
        let targets = try temporary(".json", Self.targets.replacingOccurrences(of: "\"eu\":", with: "\"mars\":"))
        defer { try? FileManager.default.removeItem(atPath: targets) }
        let message = try await CommandLineTests().runFailure([
            "simulate", "--policy", "none", "--env", repositoryFile("env/default.json"), "--targets", targets, "--users", "2", "--days", "1", "--quiet",
        ])
        #expect(message.hasPrefix("\(targets): key 'regions.mars' is not a region of the environment"), "\(message)")
    }
}
