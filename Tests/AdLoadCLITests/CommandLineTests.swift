@testable import AdLoadCLI
import AdLoadCore
import AdLoadTestSupport
import ArgumentParser
import Foundation
import Synchronization
import Policies
import Simulation
import Testing
import Training

#if canImport(Glibc)
import Glibc
#endif

/// The package root, for the shipped environment and policy files.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func repositoryFile(_ path: String) -> String { packageRoot.appendingPathComponent(path).path }

/// What `adload ARGS` prints first on stderr when parsing or validation fails, and its exit code.
func refusal(_ arguments: [String]) -> (firstLine: String, exitCode: Int32)? {
    do {
        _ = try AdLoad.parseAsRoot(arguments)
        return nil
    } catch {
        let message = AdLoad.message(for: error)
        return (String(message.split(separator: "\n").first ?? ""), AdLoad.exitCode(for: error).rawValue)
    }
}

/// Runs the built `adload` executable (beside this test bundle) with `arguments` in a process
/// of its own, waiting for it on a thread of its own, and returns its exit status, what it
/// wrote to stderr, and how long it ran from launch to exit.
func runAdload(_ arguments: [String]) async throws -> (status: Int32, standardError: String, elapsed: Duration) {
    let run = try await runAdloadCapturing(arguments)
    return (run.status, run.error, run.elapsed)
}

/// Runs the built `adload` with `arguments` from the package root: its status, both
/// streams (read concurrently, so neither pipe fills) and the wall time.
func runAdloadCapturing(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String, elapsed: Duration) {
    let executable = try #require(Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("adload"))
    try #require(FileManager.default.isExecutableFile(atPath: executable.path), "no adload executable at \(executable.path): build the package first")
    return try await onOwnThread {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let clock = ContinuousClock()
        let start = clock.now
        try process.run()
        let errorText = Mutex(Data())
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errorText.withLock { $0 = error.fileHandleForReading.readDataToEndOfFile() } }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let elapsed = clock.now - start
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self),
                String(decoding: errorText.withLock { $0 }, as: UTF8.self), elapsed)
    }
}

func subcommandHelp(_ name: String) throws -> String {
    let command = try #require(AdLoad.configuration.subcommands.first { $0._commandName == name }, "no subcommand \(name)")
    return AdLoad.helpMessage(for: command)
}

@Suite("The adload command line")
struct CommandLineTests {
    @Test("the help lists every command, and each command's help names its options and groups")
    func helpText() throws {
        let root = AdLoad.helpMessage()
        for command in ["serve", "learn", "replay", "simulate", "train", "evaluate", "bench"] {
            #expect(root.contains(command), "root help lacks \(command)")
        }
        // Every command that reports results takes --json; the ones with progress take --quiet.
        for command in ["simulate", "evaluate", "bench", "replay"] {
            #expect(try subcommandHelp(command).contains("--json"), "\(command) has no --json")
        }
        for command in ["simulate", "evaluate", "replay"] {
            #expect(try subcommandHelp(command).contains("--quiet"), "\(command) has no --quiet")
        }
        let help = try subcommandHelp("simulate")
        let words = help.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("fixed:every=0 fills every allowed slot, the same as myopic"), "fixed:every=0 is documented: \(help)")
        #expect(help.contains("--users") && help.contains("--threads") && help.contains("--env") && help.contains("--compare"))
        let learn = try subcommandHelp("learn")
        #expect(learn.contains("--log-level"))
        for level in ["trace", "debug", "info", "notice", "warning", "error", "critical"] {
            #expect(learn.contains(level), "learn --help does not list the log level \(level)")
        }
        #expect(learn.contains("--redis") && learn.contains("--data-dir"))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let expected: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let refusals: [Case] = [
        Case(arguments: ["learn", "--log-level", "verbose"], expected: "verbose"),
        Case(arguments: ["serve", "--log-level", "loud"], expected: "loud"),
        Case(arguments: ["serve", "--redis-io", "pigeons"], expected: "pigeons"),
        Case(arguments: ["simulate", "--compare", "--users", "-5"], expected: "--users must be in 1...10000000, got -5"),
        Case(arguments: ["simulate", "--compare", "--days", "0"], expected: "--days must be in 1...3650, got 0"),
        Case(arguments: ["simulate", "--compare", "--threads", "0"], expected: "--threads must be in 1...1024, got 0"),
        Case(arguments: ["simulate"], expected: "give at least one --policy"),
        Case(arguments: ["bench", "--users", "0"], expected: "--users must be in 1...10000000, got 0"),
        Case(arguments: ["bench", "--every", "0"], expected: "--every must be in 1...512, got 0"),
        Case(arguments: ["replay", "--users", "-5"], expected: "--users must be in 1...1000000, got -5"),
        Case(arguments: ["train", "bandit", "--out", "/nonexistent/dir/p.json"], expected: "the folder /nonexistent/dir does not exist"),
        Case(arguments: ["train", "bandit", "--algo", "ucb", "--out", "/tmp/p.json"], expected: "ucb"),
        Case(arguments: ["train", "bandit", "--users", "-1", "--out", "/tmp/p.json"], expected: "--users must be in 1...10000000, got -1"),
        Case(
            arguments: ["simulate", "--policy", "policies/default-egreedy.json", "--log", "/nonexistent/dir/log.jsonl"],
            expected: "the folder /nonexistent/dir does not exist"),
        Case(arguments: ["simulate", "--policy", "none", "--compare", "--targets", "t.json"], expected: "--targets paces the first --policy and compares the others with it (no --compare, no --log)"),
        Case(arguments: ["simulate", "--policy", "none", "--pacing-plot", "/tmp/p.svg"], expected: "--pacing-plot needs --targets"),
        Case(arguments: ["simulate", "--policy", "priced:every=x"], expected: "K must be an integer"),
    ]

    @Test("each invalid command line is refused before any work, with one line naming the option and a usage exit code", arguments: refusals)
    func refused(_ refusedCase: Case) throws {
        let outcome = try #require(refusal(refusedCase.arguments), "accepted: \(refusedCase.arguments)")
        #expect(outcome.exitCode == ExitCode.validationFailure.rawValue)
        #expect(outcome.firstLine.contains(refusedCase.expected), "\(outcome.firstLine)")
    }

    @Test("replay against a closed port fails in under 2 s with one line, before replaying anyone")
    func replayClosedPort() async throws {
        let arguments = [
            "replay", "--target", "http://127.0.0.1:1", "--users", "3", "--days", "1", "--env", repositoryFile("env/default.json"),
        ]
        var command = try #require(try AdLoad.parseAsRoot(arguments) as? AsyncParsableCommand)
        let error = await #expect(throws: (any Error).self) { try await command.run() }
        let message = AdLoad.message(for: try #require(error))
        #expect(message.contains("cannot reach the decision service at http://127.0.0.1:1 (connection refused)"), "\(message)")
        #expect(!message.contains("\n") && !message.contains("NSURLErrorDomain"))
        #expect(AdLoad.exitCode(for: try #require(error)) != .success)

        // The time is taken on the executable, in a process of its own: run here, the
        // command's tasks and URLSession's callbacks would wait for threads behind the other
        // tests of the parallel run, and the measure would be theirs.
        let run = try await runAdload(arguments)
        #expect(run.elapsed < .seconds(2))
        #expect(run.status != 0)
        let lines = run.standardError.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("cannot reach the decision service at http://127.0.0.1:1 (connection refused)"),
                "\(run.standardError)")
    }

    @Test("train with no tuning flags uses the tuned defaults per algorithm; --engagement-weight sets the items weight",
          arguments: [("linucb", 1e5, 0.02), ("thompson", 1e5, 0.05), ("egreedy", 3e5, 0.02), ("softmax", 5e4, 0.05)])
    func trainDefaults(algorithm: String, lambda: Double, returned: Double) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("adload-train-\(UUID().uuidString).json").path
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: out.replacingOccurrences(of: ".json", with: ".csv"))
        }
        var command = try AdLoad.parseAsRoot([
            "train", "bandit", "--algo", algorithm, "--env", repositoryFile("env/default.json"), "--users", "3", "--days", "1",
            "--threads", "1", "--engagement-weight", "2e-4", "--quiet", "--out", out,
        ])
        try command.run()
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let parameters = try #require(policy["parameters"] as? [String: Any])
        let reward = try #require(policy["reward"] as? [String: Double])
        #expect(parameters["lambda"] as? Double == lambda)
        #expect(reward["returned"] == returned && reward["load_squared"] == 0.02 && reward["items"] == 2e-4)
    }

    @Test("an environment's training settings are train bandit's defaults there; --lambda and --reward still override them")
    func environmentTrainingDefaults() throws {
        func trained(_ extra: [String]) throws -> (lambda: Double?, reward: [String: Double]) {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("adload-train-\(UUID().uuidString).json").path
            defer {
                try? FileManager.default.removeItem(atPath: out)
                try? FileManager.default.removeItem(atPath: out.replacingOccurrences(of: ".json", with: ".csv"))
            }
            var command = try AdLoad.parseAsRoot([
                "train", "bandit", "--algo", "thompson", "--env", repositoryFile("env/field-calibrated.json"), "--users", "3", "--days", "1",
                "--threads", "1", "--quiet", "--out", out,
            ] + extra)
            try command.run()
            let policy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
            return ((policy["parameters"] as? [String: Any])?["lambda"] as? Double, try #require(policy["reward"] as? [String: Double]))
        }
        let defaults = try trained([])
        #expect(defaults.lambda == 1)
        #expect(defaults.reward["items"] == 2e-4 && defaults.reward["negatives"] == 0.005 && defaults.reward["returned"] == 0.01
            && defaults.reward["load_squared"] == 0)
        let overridden = try trained(["--lambda", "7", "--reward", "returned=0.3"])
        #expect(overridden.lambda == 7 && overridden.reward["returned"] == 0.3 && overridden.reward["negatives"] == 0.005)
    }

    @Test("an environment whose training reward names an unknown weight is refused by train, naming the file and key")
    func environmentTrainingRewardTypo() async throws {
        let text = try String(contentsOfFile: repositoryFile("env/field-calibrated.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"negatives\": 0.005, \"returned\"", with: "\"negativs\": 0.005, \"returned\"")
        let env = FileManager.default.temporaryDirectory.appendingPathComponent("adload-env-\(UUID().uuidString).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: env))
        defer { try? FileManager.default.removeItem(atPath: env) }
        let message = try await runFailure([
            "train", "bandit", "--env", env, "--users", "2", "--days", "1", "--quiet", "--out",
            FileManager.default.temporaryDirectory.appendingPathComponent("adload-never-\(UUID().uuidString).json").path,
        ])
        #expect(message.hasPrefix("\(env): key 'training.reward': reward weight 'negativs'"), "\(message)")
    }

    @Test("train pg writes a policy that simulate runs; the same seed gives the same network whatever --threads is")
    func trainPolicyGradient() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var networks: [NSDictionary] = []
        for threads in ["1", "2"] {
            let out = folder.appendingPathComponent("ppo-\(threads).json").path
            var command = try AdLoad.parseAsRoot([
                "train", "pg", "--env", repositoryFile("env/default.json"), "--users", "40", "--days", "5", "--iterations", "2",
                "--episodes", "16", "--threads", threads, "--quiet", "--out", out,
            ])
            try command.run()
            let policy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
            #expect(policy["algorithm"] as? String == "ppo")
            let settings = try #require(policy["hyperparameters"] as? [String: Double])
            #expect(settings["branch_points"] == 16 && settings["branch_actions"] == 4 && settings["learning_rate"] == 0.01,
                    "branches by default, at their learning rate: \(settings)")
            #expect(settings["paired_rollouts"] == nil)
            #expect(settings["restarts"] == 3 && (1...3).contains(settings["restart_chosen"] ?? 0), "three restarts by default: \(settings)")
            #expect(settings["branch_portfolio"] == 3 && (1...3).contains(settings["cut_chosen"] ?? 0), "the portfolio of three cuts by default: \(settings)")
            let stop = try #require(settings["stop_chosen"].map(Int.init), "two stops by default: \(settings)")
            #expect(settings["stops"] == 2 && (1...2).contains(stop), "two stops by default: \(settings)")
            #expect(settings["average_from"] == Double(stop / 2 + 1) && settings["averaged_iterations"] == 1,
                    "the second half of the iterations up to the stop averaged: \(settings)")
            let provenance = try #require(policy["provenance"] as? [String: Any])
            #expect((provenance["env_fingerprint"] as? String)?.hasPrefix("fnv1a64:") == true && (provenance["sessions"] as? Int ?? 0) > 0)
            networks.append(try #require(policy["network"] as? NSDictionary))
            let curve = try String(contentsOfFile: folder.appendingPathComponent("ppo-\(threads).csv").path, encoding: .utf8)
            #expect(curve.split(separator: "\n").count == stop + 1, "a header and one row per iteration up to the stop")
            let plot = try String(contentsOfFile: folder.appendingPathComponent("ppo-\(threads).svg").path, encoding: .utf8)
            #expect(plot.hasPrefix("<svg") && plot.contains("<path d=\"M") && plot.components(separatedBy: " L").count == stop,
                    "an SVG line through the iterations up to the stop: \(plot)")
            var simulate = try AdLoad.parseAsRoot([
                "simulate", "--policy", out, "--env", repositoryFile("env/default.json"), "--users", "5", "--days", "2",
                "--threads", "1", "--quiet", "--json",
            ])
            try simulate.run()
        }
        #expect(networks[0] == networks[1], "the network depends on the seed, not on --threads")
    }

    @Test("train pg --restarts writes the restart that earns most on held-out users; --resume with or without a further restart's checkpoint gives the uninterrupted run's network")
    func trainPolicyGradientRestarts() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-restarts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func train(_ name: String, iterations: Int, resume: String? = nil) async throws -> (policy: [String: Any], output: [String: Any]) {
            let out = folder.appendingPathComponent("\(name).json").path
            let run = try await runAdloadCapturing([
                "train", "pg", "--env", "env/default.json", "--users", "24", "--days", "5", "--iterations", "\(iterations)",
                "--episodes", "8", "--threads", "2", "--restarts", "2", "--average-from", "1", "--checkpoint-every", "1", "--no-branch-portfolio",
                "--quiet", "--json", "--out", out,
            ] + (resume.map { ["--resume", $0] } ?? []))
            try #require(run.status == 0, "\(run.error)")
            let output = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            let policy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
            return (policy, output)
        }
        let whole = try await train("whole", iterations: 2)
        let settings = try #require(whole.policy["hyperparameters"] as? [String: Double])
        let candidates = try #require(whole.output["candidates"] as? [[String: Any]])
        #expect(candidates.map { $0["restart"] as? Int } == [1, 2] && candidates.allSatisfy { $0["stop"] as? Int == 2 },
                "one candidate per restart with --average-from (one stop): \(candidates)")
        let objectives = candidates.compactMap { $0["objective"] as? Double }
        let chosen = try #require(whole.output["restart_chosen"] as? Int)
        #expect(settings["restarts"] == 2 && settings["restart_chosen"] == Double(chosen) && settings["branch_portfolio"] == nil,
                "--no-branch-portfolio trains one cut: \(settings)")
        #expect(objectives.count == 2 && objectives[chosen - 1] == objectives.max(), "the restart with the highest objective: \(objectives)")
        #expect(objectives[0] != objectives[1], "the restarts train on luck of their own")
        let core = try #require(whole.output["openblas_core"] as? String, "the JSON names OpenBLAS's kernels: \(whole.output)")
        #expect(!core.isEmpty && core != "unknown")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("whole.restart-2.checkpoint").path))

        _ = try await train("part", iterations: 1)
        let resumed = try await train("part", iterations: 2, resume: folder.appendingPathComponent("part.checkpoint").path)
        #expect((resumed.policy["network"] as? NSDictionary) == (whole.policy["network"] as? NSDictionary))
        #expect((resumed.output["candidates"] as? [[String: Any]])?.compactMap { $0["objective"] as? Double } == objectives)

        _ = try await train("lost", iterations: 1)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("lost.restart-2.checkpoint"))
        let restarted = try await train("lost", iterations: 2, resume: folder.appendingPathComponent("lost.checkpoint").path)
        #expect((restarted.policy["network"] as? NSDictionary) == (whole.policy["network"] as? NSDictionary),
                "a restart without a checkpoint starts afresh from the same warm start")
    }

    @Test("train pg --stops and --branch-portfolio write the stop and cut that earn most on held-out users, as the shorter or single-cut run writes it; impossible ones are refused")
    func trainPolicyGradientStops() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-stops-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func train(_ name: String, days: Int = 5, _ options: [String]) async throws -> (policy: [String: Any], output: [String: Any]) {
            let out = folder.appendingPathComponent("\(name).json").path
            // One cut (to the horizon) unless the portfolio is asked for or a cut is given.
            let cut = options.contains("--branch-portfolio") || options.contains("--branch-days") ? [] : ["--no-branch-portfolio"]
            let run = try await runAdloadCapturing([
                "train", "pg", "--env", "env/default.json", "--users", "24", "--days", "\(days)", "--episodes", "8", "--threads", "2",
                "--restarts", "1", "--checkpoint-every", "0", "--no-held-out-check", "--quiet", "--json", "--out", out,
            ] + cut + options)
            try #require(run.status == 0, "\(run.error)")
            let output = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            let policy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
            return (policy, output)
        }
        let stopped = try await train("stopped", ["--iterations", "4", "--stops", "2"])
        let candidates = try #require(stopped.output["candidates"] as? [[String: Any]])
        #expect(candidates.map { $0["stop"] as? Int } == [2, 4], "\(candidates)")
        let objectives = candidates.compactMap { $0["objective"] as? Double }
        #expect(objectives.count == 2 && objectives[0] != objectives[1])
        let chosen = try #require(stopped.output["stop_chosen"] as? Int)
        #expect(chosen == (objectives[0] > objectives[1] ? 2 : 4), "the stop with the highest objective: \(objectives)")
        let settings = try #require(stopped.policy["hyperparameters"] as? [String: Double])
        #expect(settings["stops"] == 2 && settings["stop_chosen"] == Double(chosen) && settings["restarts"] == nil)
        // Each stop is what a run of that many iterations writes (its own second half averaged).
        let short = try await train("short", ["--iterations", "2", "--stops", "1"])
        let long = try await train("long", ["--iterations", "4", "--stops", "1"])
        let expected = chosen == 2 ? short : long
        #expect((stopped.policy["network"] as? NSDictionary) == (expected.policy["network"] as? NSDictionary))
        #expect((short.policy["network"] as? NSDictionary) != (long.policy["network"] as? NSDictionary))
        #expect(stopped.output["sessions"] as? Int == expected.output["sessions"] as? Int)
        let rows = try String(contentsOfFile: folder.appendingPathComponent("stopped.csv").path, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == chosen + 1, "the curve up to the stop written")

        // Restarts × stops: every restart's stops are candidates, and the best of all is written.
        let grid = try await train("grid", ["--iterations", "2", "--stops", "2", "--restarts", "2"])
        let entries = try #require(grid.output["candidates"] as? [[String: Any]])
        #expect(entries.map { $0["restart"] as? Int } == [1, 1, 2, 2] && entries.map { $0["stop"] as? Int } == [1, 2, 1, 2], "\(entries)")
        let scores = entries.compactMap { $0["objective"] as? Double }
        let best = try #require(scores.indices.max { scores[$0] < scores[$1] })
        #expect(grid.output["restart_chosen"] as? Int == best / 2 + 1 && grid.output["stop_chosen"] as? Int == best % 2 + 1, "\(grid.output)")

        // A run with stops resumed from its checkpoint writes the uninterrupted run's file.
        let whole = try await train("whole", ["--iterations", "3", "--stops", "2", "--checkpoint-every", "1"])
        _ = try await train("part", ["--iterations", "2", "--stops", "2", "--checkpoint-every", "1"])
        let resumed = try await train(
            "part", ["--iterations", "3", "--stops", "2", "--resume", folder.appendingPathComponent("part.checkpoint").path])
        #expect((resumed.policy["network"] as? NSDictionary) == (whole.policy["network"] as? NSDictionary))
        #expect(resumed.output["stop_chosen"] as? Int == whole.output["stop_chosen"] as? Int)

        // A portfolio of cuts: each cut's run is the run with that cut's flags, and the best is written.
        let portfolio = try await train("portfolio", days: 70, ["--iterations", "2", "--stops", "1", "--branch-portfolio"])
        let cuts = try #require(portfolio.output["candidates"] as? [[String: Any]])
        #expect(cuts.map { $0["cut"] as? Int } == [1, 2, 3] && cuts.allSatisfy { $0["restart"] as? Int == 1 }, "\(cuts)")
        let cutScores = cuts.compactMap { $0["objective"] as? Double }
        let chosenCut = try #require(portfolio.output["cut_chosen"] as? Int)
        #expect(cutScores.count == 3 && cutScores[chosenCut - 1] == cutScores.max(), "the best cut on held-out users: \(cutScores)")
        let cutSettings = try #require(portfolio.policy["hyperparameters"] as? [String: Double])
        #expect(cutSettings["branch_portfolio"] == 3 && cutSettings["cut_chosen"] == Double(chosenCut), "\(cutSettings)")
        var singles: [NSDictionary] = []
        for (index, flags) in [[], ["--branch-days", "60"], ["--branch-days", "30", "--branch-value"]].enumerated() {
            let single = try await train("single-\(index)", days: 70, ["--iterations", "2", "--stops", "1"] + flags)
            singles.append(try #require(single.policy["network"] as? NSDictionary))
        }
        #expect(singles[0] != singles[1] && singles[1] != singles[2] && singles[0] != singles[2], "over 70 days each cut trains its own network")
        #expect((portfolio.policy["network"] as? NSDictionary) == singles[chosenCut - 1], "the cut written is the run with its flags alone")

        let common = [
            "train", "pg", "--env", repositoryFile("env/default.json"), "--users", "8", "--days", "2", "--episodes", "4", "--threads", "1",
            "--quiet", "--checkpoint-every", "0", "--out", folder.appendingPathComponent("never.json").path,
        ]
        for (flags, expected) in [
            (["--branch-portfolio", "--branch-days", "30"], "--branch-portfolio trains its own cuts; drop --branch-days"),
            (["--branch-portfolio", "--paired-rollouts", "4"], "--branch-portfolio needs branches"),
        ] {
            #expect {
                try AdLoad.parseAsRoot(common + ["--iterations", "2"] + flags)
            } throws: { error in
                AdLoad.message(for: error).contains(expected)
            }
        }
        let many = try await runFailure(common + ["--iterations", "2", "--stops", "3"])
        #expect(many.contains("--stops 3 is more than --iterations 2"), "\(many)")
        let late = try await runFailure(common + ["--iterations", "4", "--stops", "2", "--average-from", "3"])
        #expect(late.contains("--average-from 3 is past the first stop's last iteration (2 of 4 with --stops 2)"), "\(late)")
    }

    @Test("the held-out check warns when the policy is below its teacher, notes when it earns less within the interval, and is silent otherwise")
    func heldOutAdvice() throws {
        let below = try #require(TrainPolicyGradient.heldOutAdvice(ratio: 0.97, high: 0.99))
        #expect(below.hasPrefix("warning: the policy written is below its teacher"))
        let less = try #require(TrainPolicyGradient.heldOutAdvice(ratio: 0.988, high: 1.002))
        #expect(less.hasPrefix("note: the policy written earns less than its teacher") && less.contains("0.988×") && less.contains("--seed"))
        #expect(TrainPolicyGradient.heldOutAdvice(ratio: 1.012, high: 1.03) == nil)
        #expect(TrainPolicyGradient.heldOutAdvice(ratio: 1.047, high: 1.064) == nil)
    }

    @Test("train pg --priced writes a priced policy (an organic item worth the revenue per item when the environment has no engagement weight); --resume gives the uninterrupted run's network")
    func trainPricedPolicyGradient() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-priced-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func train(_ name: String, iterations: Int, resume: String? = nil) throws -> [String: Any] {
            let out = folder.appendingPathComponent("\(name).json").path
            var command = try AdLoad.parseAsRoot([
                "train", "pg", "--env", repositoryFile("env/default.json"), "--users", "30", "--days", "5", "--iterations", "\(iterations)",
                "--episodes", "8", "--threads", "2", "--priced", "--quiet", "--checkpoint-every", "1", "--out", out,
            ] + (resume.map { ["--resume", $0] } ?? []))
            try command.run()
            return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        }
        let whole = try train("whole", iterations: 2)
        let settings = try #require(whole["hyperparameters"] as? [String: Double])
        #expect(settings["paired_rollouts"] == 4 && settings["branch_points"] == nil && settings["learning_rate"] == 0.0003,
                "a priced run keeps the paired defaults: \(settings)")
        #expect(settings["average_from"] == nil, "and writes its last iteration's network")
        let pricing = try #require(whole["pricing"] as? [String: Any])
        let scales = try #require(pricing["scales"] as? [String: Double])
        let reward = try #require(whole["reward"] as? [String: Double])
        #expect((scales["organic_items"] ?? 0) > 0 && reward["items"] == scales["organic_items"])
        #expect((scales["impressions"] ?? 0) > 0 && (scales["negatives"] ?? 0) > 0)
        let sizes = try #require((whole["network"] as? [String: Any])?["sizes"] as? [Int])
        let config = try EnvironmentConfig.load(path: repositoryFile("env/default.json"))
        #expect(sizes.first == config.featureSchema.contextCount + 4, "the context's features and the four prices")

        _ = try train("part", iterations: 1)
        let resumed = try train("part", iterations: 2, resume: folder.appendingPathComponent("part.checkpoint").path)
        #expect((resumed["network"] as? NSDictionary) == (whole["network"] as? NSDictionary))
        #expect((resumed["pricing"] as? NSDictionary) == (whole["pricing"] as? NSDictionary))

        var simulate = try AdLoad.parseAsRoot([
            "simulate", "--policy", folder.appendingPathComponent("whole.json").path, "--env", repositoryFile("env/default.json"),
            "--targets", repositoryFile("env/targets/default.json"), "--users", "20", "--days", "3", "--threads", "1", "--quiet", "--json",
        ])
        try simulate.run()
    }

    @Test("train pg --warm-start clones a shipped bandit before PPO; a missing teacher or --warm-start-episodes without one is refused")
    func warmStart() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-warm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("warm.json").path
        let base = [
            "train", "pg", "--env", repositoryFile("env/default.json"), "--users", "20", "--days", "5", "--iterations", "1",
            "--episodes", "8", "--threads", "1", "--quiet", "--checkpoint-every", "0", "--out", out,
        ]
        var command = try AdLoad.parseAsRoot(
            base + ["--warm-start", repositoryFile("policies/default-thompson.json"), "--warm-start-episodes", "10", "--branch-days", "2.5", "--branch-value"])
        try command.run()
        let policy = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        #expect(policy["algorithm"] as? String == "ppo")
        let settings = try #require(policy["hyperparameters"] as? [String: Double])
        #expect(settings["branch_days"] == 2.5 && settings["branch_value"] == 1, "the file records the branches' cut and its critic: \(settings)")

        let missing = folder.appendingPathComponent("no-such-teacher.json").path
        let line = try await runFailure(base + ["--warm-start", missing])
        #expect(line.contains("--warm-start") && line.contains(missing), "\(line)")
        #expect(throws: (any Error).self) { try AdLoad.parseAsRoot(base + ["--warm-start", "none", "--warm-start-episodes", "10"]) }
        let late = try await runFailure(base + ["--average-from", "2"])
        #expect(late.contains("--average-from 2 is past the last iteration (1)"), "\(late)")
        for (bad, expected) in [
            (["--branches", "8x2", "--paired-rollouts", "4"], "--branches and --paired-rollouts are two ways to measure advantages"),
            (["--branches", "8"], "--branches must be POINTSxACTIONS"),
            (["--branches", "8x1"], "--branches must be POINTSxACTIONS"),
            (["--paired-rollouts", "4", "--branch-plans", "distinct"], "--branch-plans needs branches"),
            (["--branch-plans", "some"], "--branch-plans"),
            (["--paired-rollouts", "4", "--branch-days", "30"], "--branch-days needs branches"),
            (["--branch-days", "0"], "--branch-days must be a positive number of days, got 0"),
            (["--branch-days", "inf"], "--branch-days must be a positive number of days"),
            (["--branch-value"], "--branch-value needs --branch-days"),
            (["--paired-rollouts", "4", "--branch-value"], "--branch-value needs branches"),
        ] {
            #expect {
                try AdLoad.parseAsRoot(base + bad)
            } throws: { error in
                AdLoad.message(for: error).contains(expected)
            }
        }
    }

    @Test("train pg's default warm start trains the same model as train bandit --algo TEACHER, the environment's teacher",
          arguments: [("env/default.json", "thompson")])
    func defaultTeacherIsTrainBandit(environment: String, teacherName: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-teacher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("\(teacherName).json").path
        let env = repositoryFile(environment)
        var command = try AdLoad.parseAsRoot([
            "train", "bandit", "--algo", teacherName, "--env", env, "--users", "24", "--days", "6", "--seed", "3", "--quiet", "--out", out,
        ])
        try command.run()
        let config = try EnvironmentConfig.load(path: env)
        #expect(config.training.teacher == teacherName)
        let teacher = try WarmStart.trainBandit(
            model: EnvironmentModel(config: config), schema: config.featureSchema, setup: SimulationSetup(users: 24, days: 6, seed: 3),
            engagementWeight: config.objective.engagementWeight, threads: 2,
            provenance: PolicyProvenance(
                environment: config.name, environmentFile: env, environmentFingerprint: config.fingerprint, seed: 3, sessions: 0,
                users: 24, days: 6, trainedAt: "2026-12-03T00:00:00Z", source: .simulation))
        let fromCLI = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? NSDictionary)
        let fromRun = try #require(try JSONSerialization.jsonObject(with: Data(teacher.rendered().utf8)) as? NSDictionary)
        for key in ["parameters", "hyperparameters", "reward", "algorithm"] {
            let cli = try #require(fromCLI[key] as? NSObject), run = try #require(fromRun[key] as? NSObject)
            #expect(cli == run, "\(key) differs")
        }
        #expect((fromCLI["provenance"] as? NSDictionary)?["sessions"] as? Int == teacher.provenance.sessions)
    }

    @Test("train pg on the field-calibrated preset clones best-plan: it runs, writes a network policy, and the teacher is one valid plan per region")
    func bestPlanTeacher() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-best-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("ppo.json").path
        let env = repositoryFile("env/field-calibrated.json")
        var command = try AdLoad.parseAsRoot([
            "train", "pg", "--env", env, "--users", "12", "--days", "4", "--seed", "3", "--iterations", "1", "--episodes", "8",
            "--checkpoint-every", "0", "--quiet", "--out", out,
        ])
        try command.run()
        let policy = try PolicyFile.load(path: out, expectedSchema: nil)
        #expect(policy.algorithm == "ppo")
        let config = try EnvironmentConfig.load(path: env)
        #expect(config.training.teacher == "best-plan")
        let specs = try WarmStart.bestPlan(model: EnvironmentModel(config: config), setup: SimulationSetup(users: 12, days: 4, seed: 3), threads: 2)
        let catalog = config.planCatalog()
        #expect(specs.count == config.regions.count)
        for (region, spec) in specs.enumerated() {
            #expect(spec.isEmpty || catalog.specs(region: region).contains(spec), "region \(region): \(spec) is not one of its plans")
        }
    }

    @Test("a tiny simulate run through the library logs every decision of a shipped policy")
    func tinySimulate() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("adload-cli-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var command = try AdLoad.parseAsRoot([
            "simulate", "--policy", repositoryFile("policies/default-egreedy.json"), "--env", repositoryFile("env/default.json"),
            "--users", "4", "--days", "2", "--threads", "1", "--quiet", "--json", "--log", log,
        ])
        try command.run()
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 4, "expected at least a decision per user, got \(lines.count)")
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["policy"] as? String == "default-egreedy")
        #expect((first["probability"] as? Double).map { $0 > 0 && $0 <= 1 } == true)
    }

    /// The first line of what `adload ARGS` prints when running it fails.
    func runFailure(_ arguments: [String]) async throws -> String {
        var command = try AdLoad.parseAsRoot(arguments)
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            #expect(AdLoad.exitCode(for: error) != .success)
            return String(AdLoad.message(for: error).split(separator: "\n").first ?? "")
        }
        Issue.record("adload \(arguments.joined(separator: " ")) did not fail")
        return ""
    }

    @Test("a policy trained on another environment is refused, naming both; --allow-env-mismatch runs it")
    func environmentMismatch() async throws {
        let arguments = [
            "simulate", "--policy", repositoryFile("policies/default-egreedy.json"), "--env", repositoryFile("env/field-calibrated.json"),
            "--users", "2", "--days", "1", "--threads", "1", "--quiet", "--json",
        ]
        let line = try await runFailure(arguments)
        #expect(line.contains("was trained on environment \"default\""), "\(line)")
        #expect(line.contains("not \"field-calibrated\"") && line.contains("--allow-env-mismatch"), "\(line)")
        var allowed = try AdLoad.parseAsRoot(arguments + ["--allow-env-mismatch"])
        try allowed.run()
    }

    @Test("an environment with the policy's name but other parameters is refused; a reformatted copy is not")
    func environmentFingerprint() async throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: repositoryFile("env/default.json")))
        var document = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-env-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Same content, other formatting and key order, another description: the same environment.
        document["description"] = "reformatted"
        let reformatted = folder.appendingPathComponent("reformatted.json")
        try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]).write(to: reformatted)
        let reformattedConfig = try EnvironmentConfig.load(path: reformatted.path)
        #expect(reformattedConfig.fingerprint == (try EnvironmentConfig.load(path: repositoryFile("env/default.json"))).fingerprint)
        // One parameter changed under the same name: another environment.
        var dynamics = try #require(document["dynamics"] as? [String: Any])
        dynamics["fatigue_decay"] = 0.8
        document["dynamics"] = dynamics
        let changed = folder.appendingPathComponent("changed.json")
        try JSONSerialization.data(withJSONObject: document).write(to: changed)

        let policy = repositoryFile("policies/default-egreedy.json")
        let common = ["--users", "2", "--days", "1", "--threads", "1", "--quiet", "--json"]
        var accepted = try AdLoad.parseAsRoot(["simulate", "--policy", policy, "--env", reformatted.path] + common)
        try accepted.run()
        let line = try await runFailure(["simulate", "--policy", policy, "--env", changed.path] + common)
        #expect(line.contains("has the same name but other parameters") && line.contains("--allow-env-mismatch"), "\(line)")
    }

    @Test("serve on a busy port is refused before anything starts")
    func servePortBusy() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(listener, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("adload-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let line = try await runFailure([
            "serve", "--port", "\(port)", "--data-dir", dataDir, "--env", repositoryFile("env/default.json"),
            "--policy", repositoryFile("policies/default-egreedy.json"),
        ])
        #expect(line.contains("127.0.0.1:\(port) is already in use"), "\(line)")
        #expect(!FileManager.default.fileExists(atPath: dataDir + "/redis"), "no redis-server was started")
    }

    @Test("a second serve on one data folder is refused, naming the pid that holds it")
    func serveDataDirLocked() async throws {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("adload-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let held = try DataDirectoryLock(dataDirectory: dataDir)
        let line = try await runFailure([
            "serve", "--port", "1", "--host", "not-an-ipv4-literal", "--data-dir", dataDir,
            "--env", repositoryFile("env/default.json"),
        ])
        #expect(line.contains("is in use by another adload serve (pid \(getpid()))"), "\(line)")
        withExtendedLifetime(held) {}
    }

    @Test("serve refuses an unreadable --policy before starting Redis; a missing env file names the folder it was looked for in")
    func serveBadInputs() async throws {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("adload-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let policy = try await runFailure([
            "serve", "--port", "1", "--host", "not-an-ipv4-literal", "--data-dir", dataDir, "--env", repositoryFile("env/default.json"),
            "--policy", "nope.json",
        ])
        #expect(policy.contains("nope.json: cannot be read"), "\(policy)")
        #expect(!FileManager.default.fileExists(atPath: dataDir + "/redis"), "no redis-server was started")
        let env = try await runFailure(["simulate", "--compare", "--env", "env/nowhere.json", "--users", "1", "--days", "1"])
        #expect(env.contains("env/nowhere.json") && env.contains("pass --env PATH"), "\(env)")
    }

    @Test("evaluate refuses a log of another feature layout from its first line, before reading the rest")
    func evaluateLayout() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adload-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("log.jsonl").path
        let policy = folder.appendingPathComponent("all.json").path
        let env = repositoryFile("env/default.json")
        var simulate = try AdLoad.parseAsRoot([
            "simulate", "--policy", repositoryFile("policies/default-egreedy.json"), "--env", env,
            "--users", "3", "--days", "1", "--threads", "1", "--quiet", "--json", "--log", log,
        ])
        try simulate.run()
        var train = try AdLoad.parseAsRoot([
            "train", "bandit", "--features", "all", "--env", env, "--users", "3", "--days", "1", "--threads", "1", "--quiet",
            "--out", policy,
        ])
        try train.run()
        // A broken line after the first: reading the whole log would fail on it, the layout check does not get there.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not json\n".utf8))
        try handle.close()
        let line = try await runFailure(["evaluate", "--policy", policy, "--logs", log, "--quiet"])
        #expect(line.contains("\(log):1:") && line.contains("context features") && line.contains("the log was written with"), "\(line)")
    }
}
