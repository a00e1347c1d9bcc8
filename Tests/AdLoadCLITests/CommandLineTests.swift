import AdLoadCLI
import AdLoadTestSupport
import ArgumentParser
import Foundation
import Testing

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
    let executable = try #require(Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("adload"))
    try #require(FileManager.default.isExecutableFile(atPath: executable.path), "no adload executable at \(executable.path): build the package first")
    return try await onOwnThread {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let standardError = Pipe()
        process.standardError = standardError
        process.standardOutput = FileHandle.nullDevice
        let clock = ContinuousClock()
        let start = clock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = clock.now - start
        let text = String(decoding: standardError.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text, elapsed)
    }
}

/// The help text of `adload NAME --help`.
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
        let help = try subcommandHelp("simulate")
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
}
