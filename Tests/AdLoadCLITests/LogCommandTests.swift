import Foundation
import Testing

@Suite("train bandit --logs, train merge and evaluate --logs on the command line")
struct LogCommandTests {
    @Test("shards learned with --emit-stats and merged give the policy one pass gives; a glob names the shards; evaluate reads several logs")
    func shardsOnTheCommandLine() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-logs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let env = repositoryFile("env/default.json")
        let simulate = try await runAdloadCapturing([
            "simulate", "--policy", repositoryFile("policies/default-egreedy.json"), "--env", env, "--users", "40", "--days", "8",
            "--log", "\(folder)/all.jsonl", "--quiet",
        ])
        try #require(simulate.status == 0, "\(simulate.error)")
        let lines = try String(contentsOfFile: "\(folder)/all.jsonl", encoding: .utf8).split(separator: "\n")
        for shard in 0..<3 {
            let part = lines.enumerated().filter { $0.offset * 3 / lines.count == shard }.map(\.element)
            try Data((part.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(folder)/shard-\(shard).jsonl"))
        }
        let train = ["train", "bandit", "--algo", "egreedy", "--env", env, "--quiet"]
        let whole = try await runAdloadCapturing(train + ["--logs", "\(folder)/shard-*.jsonl", "--out", "\(folder)/whole.json"])
        try #require(whole.status == 0, "\(whole.error)")
        for shard in 0..<3 {
            let emitted = try await runAdloadCapturing(train + ["--logs", "\(folder)/shard-\(shard).jsonl", "--emit-stats", "\(folder)/s\(shard).json"])
            try #require(emitted.status == 0, "\(emitted.error)")
        }
        let merge = try await runAdloadCapturing([
            "train", "merge", "\(folder)/s0.json", "\(folder)/s1.json", "\(folder)/s2.json", "--env", env, "--out", "\(folder)/merged.json", "--json",
        ])
        try #require(merge.status == 0, "\(merge.error)")
        #expect(merge.output.contains("\"decisions\": \(lines.count)"))
        func theta(_ path: String) throws -> [Double] {
            let object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            let parameters = try #require(object["parameters"] as? [String: Any])
            return try #require(parameters["b"] as? [Double]) + (try #require(parameters["a"] as? [Double]))
        }
        let (merged, single) = (try theta("\(folder)/merged.json"), try theta("\(folder)/whole.json"))
        let scale = single.map(abs).max() ?? 1
        #expect(zip(merged, single).allSatisfy { abs($0 - $1) <= 1e-9 * scale }, "the merged policy differs from one pass")

        // Shards learned with other settings are refused, naming the file.
        let other = try await runAdloadCapturing(train + ["--logs", "\(folder)/shard-0.jsonl", "--max-weight", "3", "--emit-stats", "\(folder)/o.json"])
        try #require(other.status == 0)
        let mixed = try await runAdloadCapturing(["train", "merge", "\(folder)/s1.json", "\(folder)/o.json", "--env", env, "--out", "\(folder)/x.json"])
        #expect(mixed.status != 0 && mixed.error.contains("\(folder)/o.json: learned with other settings"), "\(mixed.error)")
        let notStatistics = try await runAdloadCapturing(["train", "merge", "\(folder)/whole.json", "--env", env, "--out", "\(folder)/x.json"])
        #expect(notStatistics.status != 0 && notStatistics.error.contains("\(folder)/whole.json"), "\(notStatistics.error)")
        let noMatch = try await runAdloadCapturing(train + ["--logs", "\(folder)/nothing-*.jsonl", "--out", "\(folder)/x.json"])
        #expect(noMatch.status != 0 && noMatch.error.contains("no file matches"), "\(noMatch.error)")

        // evaluate over the three shards equals evaluate over the whole log.
        let evaluate = ["evaluate", "--policy", repositoryFile("policies/default-thompson.json"), "--json", "--quiet", "--bootstrap", "50"]
        let shards = try await runAdloadCapturing(evaluate + ["--logs", "\(folder)/shard-*.jsonl"])
        let all = try await runAdloadCapturing(evaluate + ["--logs", "\(folder)/all.jsonl"])
        try #require(shards.status == 0 && all.status == 0, "\(shards.error) \(all.error)")
        func estimates(_ text: String) throws -> [Double] {
            let object = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object["decisions"] as? Int == lines.count)
            let report = try #require(object["estimates"] as? [String: Any])
            let list = try #require(report["estimates"] as? [[String: Any]])
            return list.compactMap { $0["value"] as? Double }
        }
        let (fromShards, fromAll) = (try estimates(shards.output), try estimates(all.output))
        #expect(fromShards.count == 5 && zip(fromShards, fromAll).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) }, "\(fromShards) vs \(fromAll)")

        // Sharded evaluation: the reward model from every shard (round 1), each shard's sums
        // with it (round 2), merged: the estimates of one pass.
        for shard in 0..<3 {
            let round1 = try await runAdloadCapturing(evaluate + ["--logs", "\(folder)/shard-\(shard).jsonl", "--emit-model-stats", "\(folder)/m\(shard).json"])
            try #require(round1.status == 0, "\(round1.error)")
        }
        let models = (0..<3).flatMap { ["--model-stats", "\(folder)/m\($0).json"] }
        for shard in 0..<3 {
            let round2 = try await runAdloadCapturing(
                evaluate + ["--logs", "\(folder)/shard-\(shard).jsonl", "--shard", "\(shard)", "--emit-stats", "\(folder)/e\(shard).json"] + models)
            try #require(round2.status == 0, "\(round2.error)")
        }
        let mergedEvaluation = try await runAdloadCapturing(evaluate + ["--merge", "\(folder)/e0.json", "--merge", "\(folder)/e1.json", "--merge", "\(folder)/e2.json"])
        try #require(mergedEvaluation.status == 0, "\(mergedEvaluation.error)")
        let fromMerge = try estimates(mergedEvaluation.output)
        #expect(fromMerge.count == 5 && zip(fromMerge, fromAll).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) }, "\(fromMerge) vs \(fromAll)")
        let twice = try await runAdloadCapturing(evaluate + ["--merge", "\(folder)/e0.json", "--merge", "\(folder)/e0.json"])
        #expect(twice.status != 0 && twice.error.contains("shard 0 again"), "\(twice.error)")
    }
}
