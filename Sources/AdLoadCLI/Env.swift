import AdLoadCore
import ArgumentParser
import Foundation
import Simulation
import Training

/// `adload env --stdio`: the environment model as a JSON-lines protocol on stdin and
/// stdout, for Gymnasium and other tools (env/PROTOCOL.md, env/python).
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Serve the environment model over a JSON-lines protocol on stdin/stdout (Gymnasium's adload-gym speaks it).",
        discussion: """
        Writes a hello line (batch, observation names, the action list), then answers each request line \
        ({"op": "reset", "seed": S}, {"op": "step", "actions": [...]}, {"op": "close"}) with one line. \
        --batch slots run users at once; a slot whose user churns or reaches the horizon starts the next \
        user. Observation and actions are the policy-gradient trainer's; the reward is realized session \
        revenue. See env/PROTOCOL.md.
        """)

    @Flag(help: "Speak the protocol on stdin/stdout (the only mode).")
    var stdio = false

    @Option(help: "Environment-model configuration (JSON).")
    var env = "env/default.json"

    @Option(parsing: .unconditional, help: "Users stepped at once (slots).")
    var batch = 1

    @Option(parsing: .unconditional, help: "Simulated days per user (the horizon: an episode is truncated there).")
    var days = 120

    @Option(help: "Population and luck seed (a reset may give another).")
    var seed: UInt64 = 1

    @Option(help: "Behavioural-history features of the observation: standard, all, or a comma-separated list.")
    var features = "standard"

    @Option(help: "Per-slot arrays as JSON arrays (json) or base64 of little-endian values (base64, for numpy).")
    var encoding: EnvironmentProtocol.Encoding = .json

    @Option(help: "What a step does with an action the mask does not allow: error (refuse the step) or no-ads (show none).")
    var invalidAction: EnvironmentSession.InvalidAction = .error

    func validate() throws {
        guard stdio else { throw ValidationError("adload env speaks its protocol on stdin/stdout only: pass --stdio") }
        try checkRange("--batch", batch, 1...65_536)
        try checkRange("--days", days, 1...3650)
        guard seed <= 1 << 53 else { throw ValidationError("--seed must be at most 2^53, got \(seed)") }
    }

    func run() throws {
        let config = try loadEnvironment(env)
        let history: [HistoryFeature]
        do { history = try HistoryFeature.parseList(features) } catch { throw ValidationError("--features: \(error)") }
        let schema = config.featureSchema.with(history: history)
        var server = EnvironmentProtocol(
            session: EnvironmentSession(model: EnvironmentModel(config: config), schema: schema, days: days, seed: seed, batch: batch),
            encoding: encoding, invalidAction: invalidAction)
        let output = FileHandle.standardOutput
        func send(_ bytes: [UInt8]) {
            var line = bytes
            line.append(0x0A)
            output.write(Data(line))
        }
        send(Array(server.hello().utf8))
        while let line = readLine(strippingNewline: true) {
            if line.allSatisfy(\.isWhitespace) { continue }
            let (response, close) = server.handle(Array(line.utf8))
            send(response)
            if close { return }
        }
    }
}

extension EnvironmentProtocol.Encoding: ExpressibleByArgument {}
extension EnvironmentSession.InvalidAction: ExpressibleByArgument {}
