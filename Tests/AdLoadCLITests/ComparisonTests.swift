@testable import AdLoadCLI
import Foundation
import Simulation
import Testing

@Suite("The --compare table")
struct ComparisonTests {
    @Test("fits 120 columns, gives ratios to the best fixed cadence, and names rows that are the same plans")
    func table() throws {
        let config = try EnvironmentConfig.load(path: repositoryFile("env/default.json"))
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: 1)
        let setup = SimulationSetup(users: 30, days: 5, seed: 3)
        let reports = try [2, 3, 6, 12, 60].map { try runner.run(CadencePolicy.fixed(every: $0), setup: setup) }
        let comparison = Comparison(reports: reports)
        let table = comparison.table()
        let lines = table.split(separator: "\n")
        #expect(lines.count == reports.count + 1)
        for line in lines {
            #expect(line.count <= 120, "\(line.count) columns: \(line)")
        }
        #expect(lines[0].contains("vs best"))
        let best = try #require(reports.max { $0.objectivePerUser < $1.objectivePerUser })
        let bestLine = try #require(lines.first { $0.hasPrefix(best.policy + " ") })
        #expect(bestLine.contains(" 1.000 "), "the best cadence's ratio is 1: \(bestLine)")
        let legend = comparison.legend()
        for line in legend.split(separator: "\n") {
            #expect(line.count <= 120, "\(line.count) columns: \(line)")
        }
        #expect(legend.contains("vs best: objective per user / the best fixed cadence's (every="))
        // Cadences 2 and 3 are below every region's minimum gap: the rules clamp both to the same plans.
        #expect(reports[0].positions == reports[1].positions)
        #expect(legend.contains("same plans as fixed:every=2: fixed:every=3"), "\(legend)")
        #expect(!legend.contains("fixed:every=6:"), "distinct cadences are not listed as the same: \(legend)")
    }

    @Test("with several policies, every row after the first has its paired ratio to the first and a 95% interval")
    func pairedJSON() throws {
        let config = try EnvironmentConfig.load(path: repositoryFile("env/default.json"))
        let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: 1)
        let setup = SimulationSetup(users: 60, days: 10, seed: 4)
        let reports = try [12, 14, 30].map { try runner.run(CadencePolicy.fixed(every: $0), setup: setup) }
        let comparison = Comparison(reports: reports)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(comparison.json(environment: "default", file: "env/default.json").utf8))
                as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 3 && results[0]["ratio_to_first"] == nil)
        for (index, result) in results.enumerated().dropFirst() {
            let ratio = try #require(result["ratio_to_first"] as? Double)
            let interval = try #require(result["ratio_to_first_ci95"] as? [Double])
            #expect(abs(ratio - reports[index].objectivePerUser / reports[0].objectivePerUser) < 1e-12)
            #expect(interval.count == 2 && interval[0] < ratio && ratio < interval[1])
            // Pairing on common random numbers: narrower than the unpaired interval of the two means.
            let unpaired = 1.96 * ratio * ((reports[index].objectiveStandardError / reports[index].objectivePerUser).squared
                + (reports[0].objectiveStandardError / reports[0].objectivePerUser).squared).squareRoot()
            #expect(interval[1] - ratio < unpaired, "paired half-width \(interval[1] - ratio), unpaired \(unpaired)")
        }
        // The last row also has its ratio to the row above (orderings such as dynamic ≥ plan oracle).
        #expect(results[1]["ratio_to_previous"] == nil)
        let previous = try #require(results[2]["ratio_to_previous"] as? Double)
        let previousInterval = try #require(results[2]["ratio_to_previous_ci95"] as? [Double])
        #expect(abs(previous - reports[2].objectivePerUser / reports[1].objectivePerUser) < 1e-12)
        #expect(previousInterval.count == 2 && previousInterval[0] < previous && previous < previousInterval[1])
    }
}

extension Double {
    var squared: Double { self * self }
}
