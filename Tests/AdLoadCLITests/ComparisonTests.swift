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
        #expect(legend.contains("vs best: objective / the best fixed cadence's (every="))
        // Cadences 2 and 3 are below every region's minimum gap: the rules clamp both to the same plans.
        #expect(reports[0].positions == reports[1].positions)
        #expect(legend.contains("same plans as fixed:every=2: fixed:every=3"), "\(legend)")
        #expect(!legend.contains("fixed:every=6:"), "distinct cadences are not listed as the same: \(legend)")
    }
}
