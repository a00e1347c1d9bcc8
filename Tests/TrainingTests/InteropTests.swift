@testable import AdLoadCore
import Foundation
@testable import Policies
import Testing
@testable import Training

@Suite("Logs in other tools' formats: generic off-policy rows, VW DSJSON, CSV")
struct InteropTests {
    static func write(_ lines: [String], _ name: String) throws -> String {
        let path = temporaryPath(name)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("generic rows exported from a log give exactly the report of the log in our format")
    func genericMatchesOurs() throws {
        let (path, records, schema) = LogStreamTests.log
        let trained = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 2)
            .applied(to: try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .softmax(temperature: 0.02)))
        let target = contract(trained, schema: schema)
        let evaluation = try PolicyEvaluation(target: target, records: records, decisionSeed: 9)
        let bootstrap = BootstrapConfiguration(replicates: 300, seed: 4)
        let ours = try OffPolicyReport(decisions: evaluation.decisions, bootstrap: bootstrap)
        let generic = try Self.write(LogExport.genericRows(evaluation, records: records), "generic.jsonl")
        defer { try? FileManager.default.removeItem(atPath: generic) }
        let log = try GenericLog.read(paths: [generic])
        #expect(log.hasPredictions && log.estimatorNames.count == 5)
        let theirs = try OffPolicyReport(decisions: log.decisions, bootstrap: bootstrap)
        #expect(theirs == ours, "the same five estimates, intervals and effective sample sizes")
    }

    @Test("on rows whose target is the logging policy, IPS and SNIPS are the logged mean reward; without predictions only they are reported")
    func knownValue() throws {
        var random = TestRandomGenerator(seed: 21)
        var lines: [String] = []
        var total = 0.0
        for _ in 0..<500 {
            let propensity = 0.05 + 0.9 * random.next()
            let reward = random.next() < 0.3 ? 1.0 : 0.0
            total += reward
            lines.append(#"{"reward": \#(reward), "propensity": \#(propensity), "target_probability": \#(propensity)}"#)
        }
        let path = try Self.write(lines, "known.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try GenericLog.read(paths: [path])
        #expect(!log.hasPredictions && log.estimatorNames == ["IPS", "SNIPS"])
        let report = try OffPolicyReport(decisions: log.decisions, bootstrap: BootstrapConfiguration(replicates: 200, seed: 1))
        let mean = total / 500
        for estimate in report.estimates where log.estimatorNames.contains(estimate.name) {
            #expect(abs(estimate.value - mean) < 1e-12, "\(estimate.name): \(estimate.value) against \(mean)")
        }
        let rows = report.table(only: log.estimatorNames).split(separator: "\n").dropFirst(2).map { String($0.prefix(while: { $0 != " " })) }
        #expect(rows == ["IPS", "SNIPS"])
    }

    @Test("bad generic rows are refused with file, line and what is wrong")
    func badRows() throws {
        let good = #"{"reward": 1, "propensity": 0.5, "target_probability": 0.25}"#
        for (row, problem) in [
            (#"{"reward": 1, "target_probability": 0.2}"#, "missing key 'propensity'"),
            (#"{"reward": 1, "propensity": 0, "target_probability": 0.2}"#, "propensity = 0.0 is outside (0, 1]"),
            (#"{"reward": 1, "propensity": 0.5, "target_probability": 1.5}"#, "target_probability = 1.5 is outside [0, 1]"),
            (#"{"reward": 1, "propensity": 0.5, "target_probability": 0.2, "pscore": 1}"#, "unknown key 'pscore'"),
            (#"{"reward": 1, "propensity": 0.5, "action": 1, "target_distribution": [0.5, 0.4]}"#, "sum to 1"),
            (#"{"reward": 1, "propensity": 0.5, "target_probability": 0.2, "predictions": [0.1, 0.2]}"#, "predictions need target_distribution"),
            (#"{"reward": 1, "propensity": 0.5, "action": 0, "target_distribution": [0.5, 0.5], "predictions": [0.1, 0.2]}"#, "on some lines and not on others"),
            (#"{"reward": 1, "propensity": 0.5, "action": 1e20, "target_distribution": [0.5, 0.5]}"#, "action must be a non-negative integer"),
        ] {
            let path = try Self.write([good, row], "bad.jsonl")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let error = #expect(throws: DecisionLogError.self) { try GenericLog.read(paths: [path]) }
            #expect(error?.description.hasPrefix("\(path):2: ") == true && error?.description.contains(problem) == true, "\(String(describing: error))")
        }
    }

    @Test("DSJSON and CSV: one line per decision, the chosen plan labelled with cost −reward, every valid plan an action, every field a column")
    func dsjsonAndCSV() throws {
        let (_, records, schema) = LogStreamTests.log
        for record in records.prefix(200) {
            let line = LogExport.dsjson(record, contextNames: schema.contextNames)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["_labelIndex"] as? Int == record.chosen && object["_label_Action"] as? Int == record.chosen + 1)
            // (Foundation's JSONSerialization may lose the last digit; the writer prints the shortest exact form.)
            #expect(abs((object["_label_probability"] as? Double ?? .nan) - record.probability) <= 1e-15 * record.probability)
            #expect(abs((object["_label_cost"] as? Double ?? .nan) + record.reward) <= 1e-15 * max(1e-300, abs(record.reward)))
            let context = try #require(object["c"] as? [String: Any])
            let multi = try #require(context["_multi"] as? [[String: Any]])
            #expect(multi.count == record.candidates.count)
            let spec = try #require(multi[record.chosen]["Spec"] as? [String: Int])
            #expect(spec == ["first": record.candidates[record.chosen].first, "every": record.candidates[record.chosen].every, "max": record.candidates[record.chosen].max])
            let shared = try #require(context["Context"] as? [String: Double])
            #expect(shared.count == schema.contextCount && shared["bias"] == record.features[0])
            #expect((object["a"] as? [Int])?.sorted() == Array(1...record.candidates.count))
        }
        let header = LogExport.csvHeader(contextNames: schema.contextNames).split(separator: ",")
        for record in records.prefix(50) {
            #expect(LogExport.csvRow(record).split(separator: ",", omittingEmptySubsequences: false).count == header.count)
        }
        #expect(LogExport.csvField("a,\"b\"") == "\"a,\"\"b\"\"\"")
    }
}

/// Uniform draws in [0, 1) from a fixed seed (SplitMix64).
struct TestRandomGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}
