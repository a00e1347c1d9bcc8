import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite("adload policy diff, uplift and report")
struct PolicyInspectTests {
    /// Small populations, so that each test runs in seconds.
    static let small = ["--users", "300", "--days", "20", "--quiet"]

    /// A JSON object printed on stdout.
    static func object(_ output: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "not a JSON object: \(output.prefix(200))")
    }

    /// The JSON object `adload policy ARGUMENTS --json` prints, after checking that it succeeded.
    static func policyJSON(_ arguments: [String], sizes: [String] = small) async throws -> [String: Any] {
        let run = try await runAdloadCapturing(["policy"] + arguments + ["--json"] + sizes)
        #expect(run.status == 0, "\(run.error)")
        return try object(run.output)
    }

    /// A fresh temporary folder.
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-inspect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test("diff of a policy with itself: no disagreement and a paired difference of exactly 0")
    func diffWithItself() async throws {
        let document = try await Self.policyJSON(["diff", "policies/default-thompson.json", "policies/default-thompson.json"])
        #expect(document["disagreement"] as? Double == 0)
        #expect(document["greedy_disagreement"] as? Double == 0)
        let value = try #require(document["value"] as? [String: Any])
        #expect(value["difference"] as? Double == 0)
        #expect(value["ci95"] as? [Double] == [0, 0])
        let values = try #require(document["values"] as? [String: [String: Any]])
        #expect(values.values.allSatisfy { $0["difference"] as? Double == 0 }, "\(values)")
    }

    @Test("diff of Thompson sampling and PPO: they disagree, with every documented key")
    func diffOfDifferentPolicies() async throws {
        let document = try await Self.policyJSON(["diff", "policies/default-thompson.json", "policies/default-ppo.json"])
        for key in ["a", "b", "mode", "env", "users", "days", "seed", "decisions", "disagreement", "greedy_disagreement", "by_segment",
                    "by_history", "ad_load", "first_ad_position", "value", "values"] {
            #expect(document[key] != nil, "no \(key)")
        }
        let disagreement = try #require(document["disagreement"] as? Double)
        #expect(disagreement > 0.1 && disagreement <= 1, "disagreement \(disagreement)")
        let segments = try #require(document["by_segment"] as? [[String: Any]])
        #expect(segments.count == 18, "\(segments.count) segments")
        #expect(segments.allSatisfy { ($0["group"] as? String)?.split(separator: "/").count == 3 && ($0["decisions"] as? Int ?? 0) > 0 })
        let history = try #require(document["by_history"] as? [String: [[String: Any]]])
        #expect(Set(history.keys) == ["sessions_so_far", "ads_today", "recent_negatives"])
        for side in ["ad_load", "first_ad_position"] {
            let distribution = try #require(document[side] as? [String: Any])
            for key in ["a", "b"] {
                let shares = try #require(distribution[key] as? [Double])
                #expect(abs(shares.reduce(0, +) - 1) < 1e-9, "\(side).\(key) sums to \(shares.reduce(0, +))")
            }
        }
        let value = try #require(document["value"] as? [String: Any])
        let interval = try #require(value["ci95"] as? [Double])
        let difference = try #require(value["difference"] as? Double)
        #expect(interval.count == 2 && interval[0] <= difference && difference <= interval[1])
    }

    @Test("diff --logs: the disagreement on the logged contexts and both policies' DR with a paired interval on the difference")
    func diffOnLogs() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("decisions.jsonl").path
        let simulate = try await runAdloadCapturing([
            "simulate", "--policy", "policies/default-thompson.json", "--users", "60", "--days", "10", "--seed", "11", "--log", log, "--quiet",
        ])
        #expect(simulate.status == 0, "\(simulate.error)")
        let same = try await runAdloadCapturing(["policy", "diff", "policies/default-thompson.json", "policies/default-thompson.json", "--logs", log, "--json", "--quiet"])
        #expect(same.status == 0, "\(same.error)")
        let sameDocument = try Self.object(same.output)
        #expect(sameDocument["disagreement"] as? Double == 0)
        #expect((sameDocument["value"] as? [String: Any])?["difference"] as? Double == 0)

        let run = try await runAdloadCapturing(["policy", "diff", "policies/default-thompson.json", "policies/default-egreedy.json", "--logs", log, "--json", "--quiet"])
        #expect(run.status == 0, "\(run.error)")
        let document = try Self.object(run.output)
        #expect(document["mode"] as? String == "logs")
        #expect((document["disagreement"] as? Double ?? 0) > 0)
        let value = try #require(document["value"] as? [String: Any])
        for key in ["a", "b", "difference"] {
            let estimate = try #require(value[key] as? Double)
            let interval = try #require(value[key == "difference" ? "ci95" : "\(key)_ci95"] as? [Double])
            #expect(interval[0] <= estimate && estimate <= interval[1], "\(key): \(estimate) outside \(interval)")
        }
        let a = try #require(value["a"] as? Double), b = try #require(value["b"] as? Double)
        #expect(abs((value["difference"] as? Double ?? .nan) - (b - a)) < 1e-9)
        let estimates = try #require(document["estimates"] as? [String: [String: Any]])
        #expect((estimates["a"]?["estimates"] as? [[String: Any]])?.count == 5)
    }

    @Test("uplift: per segment, revenue and retention effects of one more ad inside their intervals; more ads shown, more revenue overall")
    func uplift() async throws {
        let document = try await Self.policyJSON(
            ["uplift", "--policy", "policies/default-thompson.json", "--env", "default"], sizes: ["--users", "1000", "--days", "20", "--quiet"])
        let segments = try #require(document["segments"] as? [[String: Any]])
        #expect(segments.count == 18, "\(segments.count) segments")
        for segment in segments {
            for key in ["ads_per_session", "revenue_per_user", "retention"] {
                let effect = try #require(segment[key] as? [String: Any], "\(segment["segment"] ?? "?"): no \(key)")
                let difference = try #require(effect["difference"] as? Double)
                let interval = try #require(effect["ci95"] as? [Double])
                #expect(interval[0] <= difference && difference <= interval[1], "\(segment["segment"] ?? "?") \(key): \(difference) outside \(interval)")
            }
            #expect(["negative", "zero_in_interval", "positive"].contains(segment["retention_effect_sign"] as? String))
        }
        let extra = try #require(document["extra_ad"] as? [String: Any])
        #expect((extra["no_room_share"] as? Double ?? 1) < 0.5)
        let overall = try #require(document["overall"] as? [String: Any])
        // One more ad per session shows more ads and, on the default preset, earns more (at
        // 3000 users × 30 days: +0.148 [+0.115, +0.181] per user; here 1000 users × 20 days).
        let ads = try #require((overall["ads_per_session"] as? [String: Any])?["ci95"] as? [Double])
        #expect(ads[0] > 0.2, "ads per session Δ interval \(ads)")
        let revenue = try #require((overall["revenue_per_user"] as? [String: Any])?["ci95"] as? [Double])
        #expect(revenue[0] > 0, "revenue per user Δ interval \(revenue)")
    }

    @Test("report: one self-contained page whose SVG charts are valid XML, each with data, and no network reference")
    func report() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("report.html").path
        let run = try await runAdloadCapturing(
            ["policy", "report", "policies/default-thompson.json", "--env", "default", "--out", out] + Self.small)
        #expect(run.status == 0, "\(run.error)")
        let html = try String(contentsOfFile: out, encoding: .utf8)
        var charts: [Substring] = []
        var rest = html[...]
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            charts.append(rest[start.lowerBound..<end.upperBound])
            rest = rest[end.upperBound...]
        }
        #expect(charts.count >= 7, "\(charts.count) charts")
        for (index, chart) in charts.enumerated() {
            let reader = ChartReader()
            let parser = XMLParser(data: Data(chart.utf8))
            parser.delegate = reader
            #expect(parser.parse(), "chart \(index) is not valid XML: \(parser.parserError.map { "\($0)" } ?? "?")")
            #expect(reader.dataMarks > 0, "chart \(index) has no data: \(chart.prefix(300))")
        }
        let references = html.ranges(of: /https?:\/\/[^"'\s<]*/).map { String(html[$0]) }
        #expect(references.allSatisfy { $0 == "http://www.w3.org/2000/svg" }, "\(Set(references))")
        #expect(!html.contains("<script"))
    }

    @Test("bad input is one line naming the file or option")
    func badInput() async throws {
        let notPolicy = try await runAdloadCapturing(["policy", "diff", "README.md", "policies/default-thompson.json"] + Self.small)
        #expect(notPolicy.status != 0 && notPolicy.error.contains("README.md") && Self.oneLine(notPolicy.error), "\(notPolicy.error)")
        let unknownEnv = try await runAdloadCapturing(["policy", "uplift", "--policy", "policies/default-thompson.json", "--env", "env/nope.json"] + Self.small)
        #expect(unknownEnv.status != 0 && unknownEnv.error.contains("env/nope.json") && Self.oneLine(unknownEnv.error), "\(unknownEnv.error)")
        let missingLogs = try await runAdloadCapturing(["policy", "diff", "policies/default-thompson.json", "policies/default-ppo.json", "--logs", "/nonexistent/decisions.jsonl"])
        #expect(missingLogs.status != 0 && missingLogs.error.contains("/nonexistent/decisions.jsonl") && Self.oneLine(missingLogs.error), "\(missingLogs.error)")
        let both = try await runAdloadCapturing([
            "policy", "diff", "policies/default-thompson.json", "policies/default-ppo.json", "--env", "default", "--logs", "README.md",
        ])
        #expect(both.status != 0 && both.error.contains("--logs") && both.error.contains("--env") && Self.oneLine(both.error), "\(both.error)")
        let notWritable = try await runAdloadCapturing([
            "policy", "report", "policies/default-thompson.json", "--env", "default", "--out", "/nonexistent/report.html",
        ])
        #expect(notWritable.status != 0 && notWritable.error.contains("--out") && Self.oneLine(notWritable.error), "\(notWritable.error)")
        let notPolicyReport = try await runAdloadCapturing(["policy", "report", "README.md", "--env", "default", "--out", "/tmp/adload-report-unused.html"])
        #expect(notPolicyReport.status != 0 && notPolicyReport.error.contains("README.md") && Self.oneLine(notPolicyReport.error), "\(notPolicyReport.error)")
    }

    /// Whether an error is one line: the message, then at most ArgumentParser's usage block for an invalid option.
    static func oneLine(_ error: String) -> Bool {
        let lines = error.split(separator: "\n")
        return lines.count == 1 || (lines.count > 1 && lines[1].hasPrefix("Usage:"))
    }
}

/// Counts an SVG chart's data marks: paths with at least two points, circles, and rects
/// with an area that are not legend swatches (`class="key"`).
final class ChartReader: NSObject, XMLParserDelegate {
    var dataMarks = 0

    func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        switch element {
        case "path":
            if (attributes["d"] ?? "").contains("L") { dataMarks += 1 }
        case "circle":
            dataMarks += 1
        case "rect":
            let area = (Double(attributes["width"] ?? "") ?? 0) * (Double(attributes["height"] ?? "") ?? 0)
            if attributes["class"] != "key" && area > 0 { dataMarks += 1 }
        default:
            break
        }
    }
}
