import AdLoadCore
import ArgumentParser
import Foundation
import Simulation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure simulator throughput: sessions and positions per second, one thread and all threads.")

    @Option(help: "Environment-model configuration (JSON).")
    var env = "env/default.json"

    @Option(parsing: .unconditional, help: "Simulated users per measurement.")
    var users = 2000

    @Option(parsing: .unconditional, help: "Simulated days per user.")
    var days = 120

    @Option(parsing: .unconditional, help: "Fixed cadence K of the measured policy (an ad after every K organic items).")
    var every = 12

    @Option(parsing: .unconditional, help: "Repetitions; the best (fastest) is reported.")
    var repeats = 3

    @Flag(help: "Print one JSON object (per thread count: sessions/s, positions/s, scaling) instead of lines.")
    var json = false

    func validate() throws {
        try checkRange("--users", users, 1...10_000_000)
        try checkRange("--days", days, 1...3650)
        try checkRange("--every", every, 1...512)
        try checkRange("--repeats", repeats, 1...100)
    }

    func run() throws {
        let config = try loadEnvironment(env)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let setup = SimulationSetup(users: users, days: days, seed: 1)
        let policy = CadencePolicy.fixed(every: every)
        if !json {
            print("simulator throughput, \(config.name), fixed:every=\(every), \(users) users × \(days) days, best of \(repeats)")
        }
        var single = 0.0
        var rows: [String] = []
        for threads in Array(Set([1, cores])).sorted() {
            let runner = SimulationRunner(model: EnvironmentModel(config: config), threads: threads)
            var best: SimulationReport?
            for _ in 0..<max(1, repeats) {
                let report = try runner.run(policy, setup: setup)
                if best == nil || report.elapsedSeconds < best!.elapsedSeconds { best = report }
            }
            guard let report = best else { continue }
            let sessionsPerSecond = report.sessionsPerSecond
            if threads == 1 { single = sessionsPerSecond }
            let positionsPerSecond = Double(report.positions) / report.elapsedSeconds
            rows.append("{\"threads\": \(threads), \"sessions_per_second\": \(JSONNumber.json(sessionsPerSecond)), "
                + "\"positions_per_second\": \(JSONNumber.json(positionsPerSecond)), "
                + "\"scaling\": \(JSONNumber.json(single > 0 ? sessionsPerSecond / single : 1))}")
            if json { continue }
            print(String(
                format: "threads %d: %.3f M sessions/s (%.3f M per core), %.1f M positions/s, %.1f positions/session%@",
                threads, sessionsPerSecond / 1e6, sessionsPerSecond / 1e6 / Double(threads),
                Double(report.positions) / report.elapsedSeconds / 1e6, Double(report.positions) / Double(report.sessions),
                threads > 1 && single > 0 ? String(format: ", scaling %.2fx", sessionsPerSecond / single) : ""))
        }
        if json {
            print("{\"environment\": \(JSONValue.quoted(config.name)), \"policy\": \"fixed:every=\(every)\", \"users\": \(users), "
                + "\"days\": \(days), \"repeats\": \(repeats), \"runs\": [\(rows.joined(separator: ", "))]}")
        }
    }
}
