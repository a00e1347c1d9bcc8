import Foundation
import Testing

@Suite("adload policy show and explain")
struct PolicyCommandTests {
    static let context = #"{"user_id": "u1", "session_id": "s1", "region": "eu", "device": "android", "hour": 8, "feed_length": 30, "timestamp": 1728000000, "history": {"last_visit": 20000.5, "last_update": 20000.6, "week": [3, 120, 9, 0, 1], "month": [10, 400, 30, 1, 2], "recent_dwell": 7, "total_sessions": 40, "ad_reactions": [50, 4], "ads_today": 3}}"#

    @Test("show --json names the kind, version, provenance and features of every shipped kind", arguments: ["default-thompson", "default-ppo"])
    func show(policy: String) async throws {
        let run = try await runAdloadCapturing(["policy", "show", "policies/\(policy).json", "--json"])
        #expect(run.status == 0, "\(run.error)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(document["kind"] as? String == (policy.hasSuffix("ppo") ? "network" : "linear-bandit"))
        #expect((document["version"] as? String)?.hasPrefix("fnv1a64:") == true)
        #expect((document["provenance"] as? [String: Any])?["seed"] as? Int == 1)
        #expect((document["features"] as? [String])?.first == "bias")
        let influential = try #require(document["influential_features"] as? [[String: Any]])
        #expect(influential.count == 8 && (influential.first?["influence"] as? Double ?? 0) > 0)
        #expect(((document["training_curve"] as? [String: Any])?["values"] as? [Double])?.isEmpty == false)
    }

    @Test("explain --json lists every valid plan with its score and probability, and the chosen plan", arguments: ["default-egreedy", "default-thompson", "default-ppo"])
    func explain(policy: String) async throws {
        let run = try await runAdloadCapturing(["policy", "explain", "policies/\(policy).json", "--context", Self.context, "--json"])
        #expect(run.status == 0, "\(run.error)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let plans = try #require(document["plans"] as? [[String: Any]])
        #expect(plans.count > 10)
        #expect(plans.allSatisfy { $0["ad_positions"] is [Int] && $0["score"] is Double && $0["probability"] is Double })
        let total = plans.compactMap { $0["probability"] as? Double }.reduce(0, +)
        #expect(abs(total - 1) < 1e-9, "probabilities sum to \(total)")
        let chosen = try #require(document["chosen"] as? [String: Any])
        let index = try #require(chosen["index"] as? Int)
        #expect(chosen["ad_positions"] as? [Int] == plans[index]["ad_positions"] as? [Int])
    }

    @Test("bad input is one line naming what is wrong, and a failing exit status")
    func badInput() async throws {
        let missing = try await runAdloadCapturing([
            "policy", "explain", "policies/default-egreedy.json", "--context", #"{"user_id": "u", "region": "na", "device": "ios", "hour": 1, "feed_length": 30}"#,
        ])
        #expect(missing.status != 0 && missing.error.contains("session_id") && missing.error.split(separator: "\n").count == 1, "\(missing.error)")
        let region = try await runAdloadCapturing([
            "policy", "explain", "policies/default-egreedy.json", "--context",
            #"{"user_id": "u", "session_id": "s", "region": "mars", "device": "ios", "hour": 1, "feed_length": 30}"#,
        ])
        #expect(region.status != 0 && region.error.contains("region") && region.error.contains("mars"), "\(region.error)")
        let notPolicy = try await runAdloadCapturing(["policy", "show", "README.md"])
        #expect(notPolicy.status != 0 && notPolicy.error.contains("README.md"), "\(notPolicy.error)")
        let history = try await runAdloadCapturing([
            "policy", "explain", "policies/default-egreedy.json", "--context",
            #"{"user_id": "u", "session_id": "s", "region": "na", "device": "ios", "hour": 1, "feed_length": 30, "history": {"week": [1]}}"#,
        ])
        #expect(history.status != 0 && history.error.contains("history"), "\(history.error)")
    }

    @Test("whatif moves one input: one step per value, each with the plan explain chooses for that context; an unknown input or a bad --vary is refused")
    func whatIf() async throws {
        let run = try await runAdloadCapturing([
            "policy", "whatif", "policies/default-egreedy.json", "--context", Self.context, "--vary", "history.ad_reactions.1=0:40:5", "--json",
        ])
        #expect(run.status == 0, "\(run.error)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let steps = try #require(document["steps"] as? [[String: Any]])
        #expect(steps.map { $0["value"] as? Double } == [0, 10, 20, 30, 40])
        // The last step's choice is what explain chooses for that context.
        let last = Self.context.replacingOccurrences(of: "\"ad_reactions\": [50, 4]", with: "\"ad_reactions\": [50, 40]")
        let explained = try await runAdloadCapturing(["policy", "explain", "policies/default-egreedy.json", "--context", last, "--json"])
        let chosen = try #require((try JSONSerialization.jsonObject(with: Data(explained.output.utf8)) as? [String: Any])?["chosen"] as? [String: Any])
        #expect((steps.last?["chosen"] as? [String: Any])?["plan"] as? String == chosen["plan"] as? String)

        let unknown = try await runAdloadCapturing(["policy", "whatif", "policies/default-egreedy.json", "--context", Self.context, "--vary", "history.nope=0:1:3"])
        #expect(unknown.status != 0 && unknown.error.contains("history.nope"), "\(unknown.error)")
        let bad = try await runAdloadCapturing(["policy", "whatif", "policies/default-egreedy.json", "--context", Self.context, "--vary", "hour=0:23"])
        #expect(bad.status != 0 && bad.error.contains("PATH=FROM:TO:STEPS"), "\(bad.error)")
    }
}
