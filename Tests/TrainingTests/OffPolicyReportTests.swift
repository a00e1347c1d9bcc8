import Foundation
import Testing
@testable import Training

@Suite("Off-policy report")
struct OffPolicyReportTests {
    let decisions: [LoggedDecision]
    let bootstrap = BootstrapConfiguration(replicates: 200, seed: 42)

    init() {
        let bandit = SyntheticBandit()
        decisions = bandit.decisions(bandit.interactions(count: 400, seed: 77)) { context, action in
            0.9 * bandit.meanReward(context: context, action: action)
        }
    }

    @Test("each estimate equals the estimator's own estimate with the same bootstrap configuration")
    func matchesEstimators() throws {
        let report = try OffPolicyReport(decisions: decisions, switchThreshold: 3, bootstrap: bootstrap)
        let expected = try OffPolicyEstimator.all(switchThreshold: 3).map { try $0.estimate(decisions, bootstrap: bootstrap) }
        #expect(report.estimates == expected)
        #expect(report.estimates.map(\.name) == ["IPS", "SNIPS", "DM", "DR", "switch-DR"])
        #expect(report.n == 400 && report.estimates.allSatisfy { $0.n == 400 })
        #expect(report.switchThreshold == 3 && report.bootstrap == bootstrap)
    }

    @Test("JSON has the documented keys in a fixed order, parses, and round-trips the numbers")
    func json() throws {
        let report = try OffPolicyReport(decisions: decisions, bootstrap: bootstrap)
        let text = report.json
        #expect(text == (try OffPolicyReport(decisions: decisions, bootstrap: bootstrap)).json)
        let keys = ["\"n\"", "\"switch_threshold\"", "\"bootstrap_replicates\"", "\"bootstrap_seed\"", "\"estimates\"",
                    "\"name\"", "\"value\"", "\"standard_error\"", "\"lower95\"", "\"upper95\"", "\"effective_sample_size\""]
        let positions = try keys.map { key in try #require(text.range(of: key)).lowerBound }
        #expect(positions == positions.sorted())

        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["n"] as? Int == 400)
        #expect(object["switch_threshold"] as? Double == 20)
        #expect(object["bootstrap_replicates"] as? Int == 200)
        #expect(object["bootstrap_seed"] as? Int == 42)
        let estimates = try #require(object["estimates"] as? [[String: Any]])
        #expect(estimates.map { $0["name"] as? String } == ["IPS", "SNIPS", "DM", "DR", "switch-DR"])
        // Swift prints the shortest text that parses back to the same Double; corelibs
        // JSONSerialization's number parser can be off by an ulp, hence the tolerance.
        for (parsed, estimate) in zip(estimates, report.estimates) {
            #expect(text.contains("\"value\": \(estimate.value), \"standard_error\": \(estimate.standardError), "))
            #expect(text.contains("\"lower95\": \(estimate.lower95), \"upper95\": \(estimate.upper95), "))
            #expect(text.contains("\"effective_sample_size\": \(estimate.effectiveSampleSize), \"n\": 400}"))
            #expect(isClose(try #require(parsed["value"] as? Double), estimate.value, tolerance: 1e-15))
            #expect(isClose(try #require(parsed["lower95"] as? Double), estimate.lower95, tolerance: 1e-15))
            #expect(isClose(try #require(parsed["upper95"] as? Double), estimate.upper95, tolerance: 1e-15))
            #expect(isClose(try #require(parsed["standard_error"] as? Double), estimate.standardError, tolerance: 1e-15))
            #expect(isClose(try #require(parsed["effective_sample_size"] as? Double), estimate.effectiveSampleSize, tolerance: 1e-15))
            #expect(parsed["n"] as? Int == 400)
        }
    }

    @Test("an infinite switch threshold is null in JSON and ∞ in the table")
    func infiniteThreshold() throws {
        let report = try OffPolicyReport(decisions: decisions, switchThreshold: .infinity, bootstrap: bootstrap)
        #expect(report.json.contains("\"switch_threshold\": null,"))
        #expect(report.table.hasPrefix("n = 400, bootstrap B = 200 (seed 42), switch-DR τ = ∞\n"))
    }

    @Test("the table has a header and one aligned row per estimator with value, interval, SE and ESS")
    func table() throws {
        let constant = [LoggedDecision](
            repeating: LoggedDecision(reward: 0.5, loggingPropensity: 0.5, targetProbability: 0.25, predictedLogged: 0.4, predictedTarget: 0.45),
            count: 8
        )
        let report = try OffPolicyReport(decisions: constant, bootstrap: BootstrapConfiguration(replicates: 10))
        // w = 0.5 everywhere: IPS 0.25, SNIPS 0.5, DM 0.45, DR 0.45 + 0.5·0.1 = 0.5; every resample is the same.
        let expected = """
            n = 8, bootstrap B = 10 (seed 0), switch-DR τ = 20.00
            estimator   value      95% interval  std. error  ESS
            IPS        0.2500  [0.2500, 0.2500]      0.0000  8.0
            SNIPS      0.5000  [0.5000, 0.5000]      0.0000  8.0
            DM         0.4500  [0.4500, 0.4500]      0.0000  8.0
            DR         0.5000  [0.5000, 0.5000]      0.0000  8.0
            switch-DR  0.5000  [0.5000, 0.5000]      0.0000  8.0

            """
        #expect(report.table == expected)
    }
}
