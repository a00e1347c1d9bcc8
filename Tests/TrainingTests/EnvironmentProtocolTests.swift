import AdLoadCore
import Foundation
@testable import Simulation
import Testing
@testable import Training

@Suite("adload env's protocol: the environment model as batched episodes over JSON lines")
struct EnvironmentProtocolTests {
    static func server(batch: Int, encoding: EnvironmentProtocol.Encoding = .json, invalid: EnvironmentSession.InvalidAction = .error) throws -> EnvironmentProtocol {
        let config = try defaultEnvironment()
        let session = EnvironmentSession(model: EnvironmentModel(config: config), schema: config.featureSchema, days: 8, seed: 12, batch: batch)
        return EnvironmentProtocol(session: session, encoding: encoding, invalidAction: invalid)
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static func send(_ server: inout EnvironmentProtocol, _ line: String) throws -> [String: Any] {
        try object(server.handle(Array(line.utf8)).response)
    }

    @Test("no-ads steps through the protocol live the simulator's users: the same sessions, users in order, every episode ending once")
    func matchesTheSimulator() throws {
        var server = try Self.server(batch: 3)
        let hello = try Self.object(Array(server.hello().utf8))
        #expect(hello["batch"] as? Int == 3 && (hello["observation_names"] as? [String])?.first == "bias")
        let noAds = try #require(hello["no_ads_action"] as? Int)
        #expect(try Self.send(&server, #"{"op": "step", "actions": [0, 0, 0]}"#)["error"] as? String == "step: step before reset: send {\"op\": \"reset\"} first")
        let reset = try Self.send(&server, #"{"op": "reset", "seed": 12}"#)
        #expect(reset["users"] as? [Int] == [0, 1, 2])
        // Run until users 0..<6 have ended; count their sessions.
        var sessions = [Int: Int]()
        var ended = Set<Int>()
        let line = #"{"op": "step", "actions": [\#(noAds), \#(noAds), \#(noAds)]}"#
        while !(0..<6).allSatisfy(ended.contains) {
            let step = try Self.send(&server, line)
            let info = try #require(step["info"] as? [String: Any])
            let users = try #require(info["user"] as? [Int])
            let terminated = try #require(step["terminated"] as? [Bool]), truncated = try #require(step["truncated"] as? [Bool])
            #expect((step["rewards"] as? [Double])?.allSatisfy { $0 == 0 } == true)
            for (slot, user) in users.enumerated() {
                #expect(!ended.contains(user), "user \(user) stepped after its episode ended")
                sessions[user, default: 0] += 1
                if terminated[slot] || truncated[slot] { ended.insert(user) }
            }
        }
        let baseline = try SimulationRunner(model: server.session.model, threads: 1).run(
            CadencePolicy.none, setup: SimulationSetup(users: 6, days: 8, seed: 12))
        #expect((0..<6).reduce(0) { $0 + (sessions[$1] ?? 0) } == baseline.sessions)
        #expect(try Self.send(&server, #"{"op": "close"}"#)["closed"] as? Bool == true)
    }

    @Test("bad requests get an error line and move nothing; base64 columns hold the json encoding's values")
    func errorsAndEncodings() throws {
        var plain = try Self.server(batch: 2)
        var packed = try Self.server(batch: 2, encoding: .base64)
        var untouched = try Self.server(batch: 2)
        var actionsBuffer: [Int] = []
        // A seed whose first user's first session forbids some plan (another region's, or
        // one whose first ad lies past the feed).
        var seed = 0
        var allowed: [[Bool]] = []
        repeat {
            seed += 1
            allowed = try #require(try Self.send(&plain, #"{"op": "reset", "seed": \#(seed)}"#)["masks"] as? [[Bool]])
        } while !allowed[0].contains(false) && seed < 200
        let forbidden = try #require(allowed[0].firstIndex(of: false))
        let valid = try #require(allowed[1].firstIndex(of: true))
        for (line, message) in [
            ("{", "the request is not valid JSON"),
            (#"{"op": "jump"}"#, "unknown op \"jump\""),
            (#"{"op": "step", "actions": [0]}"#, "actions has 1 entries, the batch is 2"),
            (#"{"op": "step", "actions": [0, 9999]}"#, "actions[1] = 9999 is not an action index"),
            (#"{"op": "step", "actions": [\#(forbidden), \#(valid)]}"#, "actions[0] = \(forbidden)"),
            (#"{"op": "reset", "seed": -1}"#, "seed must be an integer"),
            (#"{"op": "step", "actions": [0, 0], "speed": 2}"#, "unknown key \"speed\""),
        ] {
            let error = try Self.send(&plain, line)["error"] as? String
            #expect(error?.contains(message) == true, "\(line): \(String(describing: error))")
        }
        // After the refusals, a valid step gives what it gives on a server that saw none.
        _ = try Self.send(&untouched, #"{"op": "reset", "seed": \#(seed)}"#)
        let step = #"{"op": "step", "actions": [\#(valid), \#(valid)]}"#
        let afterErrors = try Self.send(&plain, step)
        let clean = try Self.send(&untouched, step)
        #expect(afterErrors["rewards"] as? [Double] == clean["rewards"] as? [Double])
        #expect(afterErrors["observations"] as? [[Double]] == clean["observations"] as? [[Double]])

        // The compact form a Python client writes takes a fast path: the same answers, errors included.
        var compact = try Self.server(batch: 2)
        var spaced = try Self.server(batch: 2)
        _ = try Self.send(&compact, #"{"op": "reset", "seed": \#(seed)}"#)
        _ = try Self.send(&spaced, #"{"op": "reset", "seed": \#(seed)}"#)
        for actions in ["[\(valid),\(valid)]", "[\(forbidden),\(valid)]", "[\(valid)]", "[]", "[\(valid),99999]", "[\(valid),\(valid)]"] {
            let fast = compact.handle(Array(#"{"op":"step","actions":\#(actions)}"#.utf8)).response
            let slow = spaced.handle(Array(#"{"op": "step", "actions": \#(actions)}"#.utf8)).response
            #expect(fast == slow, "\(actions)")
        }
        #expect(EnvironmentProtocol.compactStep(Array(#"{"op":"step","actions":[1,2]}"#.utf8), into: &actionsBuffer) && actionsBuffer == [1, 2])
        for text in [#"{"op":"step","actions":[1,2]} "#, #"{"op":"step","actions":[1,-2]}"#, #"{"op":"step","actions":[1.5]}"#, #"{"op":"step","actions":[1,2],"x":1}"#, #"{"op":"step","actions":[01,2]}"#] {
            #expect(!EnvironmentProtocol.compactStep(Array(text.utf8), into: &actionsBuffer), "\(text) goes to the full parser")
        }

        // no-ads replaces a forbidden action and says so.
        var lenient = try Self.server(batch: 2, invalid: .noAds)
        _ = try Self.send(&lenient, #"{"op": "reset", "seed": \#(seed)}"#)
        let lenientStep = try Self.send(&lenient, #"{"op": "step", "actions": [\#(forbidden), \#(valid)]}"#)
        let replaced = try #require(lenientStep["info"] as? [String: Any])
        #expect(replaced["replaced"] as? [Bool] == [true, false] && (replaced["ads"] as? [Int])?.first == 0)

        // base64: the same numbers, as little-endian float32 observations and float64 rewards.
        _ = try Self.send(&packed, #"{"op": "reset", "seed": \#(seed)}"#)
        let packedStep = try Self.send(&packed, step)
        let observationText = try #require(packedStep["observations"] as? String)
        let observations = try #require(Data(base64Encoded: observationText))
        let floats = observations.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let cleanObservations = try #require(clean["observations"] as? [[Double]])
        let expected = cleanObservations.flatMap { $0.map(Float.init) }
        #expect(floats == expected)
        let rewardText = try #require(packedStep["rewards"] as? String)
        let rewards = try #require(Data(base64Encoded: rewardText))
        #expect(rewards.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) } == clean["rewards"] as? [Double])
    }
}
