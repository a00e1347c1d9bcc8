import AdLoadCore
import Foundation

/// The JSON-lines protocol of `adload env --stdio` over an ``EnvironmentSession``
/// (env/PROTOCOL.md): a hello line first, then one response line per request line
/// (`reset`, `step`, `close`). A request that cannot be served gets `{"error": …}` and
/// changes nothing; the session goes on.
///
/// Per-slot arrays are columns: in the `json` encoding, JSON arrays (observations and
/// masks one array per slot); in the `base64` encoding, each column is the base64 of its
/// little-endian values, row-major (observations float32, rewards and other reals float64,
/// integers int32, flags and masks uint8), which numpy reads with `frombuffer` at no cost.
package struct EnvironmentProtocol: Sendable {
    /// How per-slot arrays are written.
    package enum Encoding: String, Sendable, CaseIterable {
        case json, base64
    }

    package static let version = 1

    package private(set) var session: EnvironmentSession
    package let encoding: Encoding
    package let invalidAction: EnvironmentSession.InvalidAction
    var results: [EnvironmentSession.SlotStep] = []
    var actions: [Int] = []

    package init(session: EnvironmentSession, encoding: Encoding, invalidAction: EnvironmentSession.InvalidAction) {
        self.session = session
        self.encoding = encoding
        self.invalidAction = invalidAction
    }

    /// The first line: what the session is, for the client to build its spaces from.
    package func hello() -> String {
        var writer = JSONWriter(capacity: 4096)
        writer.beginObject()
        writer.key("protocol")
        writer.string("adload-env")
        writer.key("version")
        writer.integer(Self.version)
        writer.key("batch")
        writer.integer(session.batch)
        writer.key("days")
        writer.integer(session.days)
        writer.key("seed")
        writer.integer(Int(truncatingIfNeeded: session.seed))
        writer.key("encoding")
        writer.string(encoding.rawValue)
        writer.key("invalid_action")
        writer.string(invalidAction.rawValue)
        writer.key("reward")
        writer.string("realized session revenue")
        writer.key("observation_names")
        writer.byte(UInt8(ascii: "["))
        for (index, name) in session.schema.contextNames.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.string(name)
        }
        writer.byte(UInt8(ascii: "]"))
        writer.key("actions")
        writer.byte(UInt8(ascii: "["))
        for (index, spec) in session.actions.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            var action = JSONWriter(capacity: 48)
            action.beginObject()
            action.key("first")
            action.integer(spec.first)
            action.key("every")
            action.integer(spec.spacing)
            action.key("max")
            action.integer(spec.maxAds)
            action.endObject()
            for byte in action.bytes { writer.byte(byte) }
        }
        writer.byte(UInt8(ascii: "]"))
        writer.key("no_ads_action")
        writer.integer(session.noAdsAction)
        writer.endObject()
        return writer.text
    }

    /// Serves one request line; `close` is true after a `close` request.
    package mutating func handle(_ line: some Collection<UInt8>) -> (response: [UInt8], close: Bool) {
        let bytes = Array(line)
        if Self.compactStep(bytes, into: &actions) {
            do {
                try session.step(actions, invalid: invalidAction, into: &results)
            } catch {
                return (Self.error("step: \(error.message)"), false)
            }
            return (observationResponse(step: true), false)
        }
        return handleParsed(bytes)
    }

    /// `{"op":"step","actions":[a,b,…]}` written compactly (as Python's
    /// `json.dumps(…, separators=(",", ":"))` writes it), read without building a JSON
    /// document: the hot request of a training loop. Anything else is left to the full
    /// parser (which gives the same answer, errors included).
    static func compactStep(_ bytes: [UInt8], into actions: inout [Int]) -> Bool {
        let prefix = Array(#"{"op":"step","actions":["#.utf8)
        guard bytes.count > prefix.count + 1, bytes.starts(with: prefix) else { return false }
        actions.removeAll(keepingCapacity: true)
        var index = prefix.count
        if bytes[index] == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                var value = 0
                var digits = 0
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 9 {
                    value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                    index += 1
                    digits += 1
                }
                // A leading zero before more digits is not JSON: the full parser refuses it.
                guard digits > 0, index < bytes.count, !(digits > 1 && bytes[index - digits] == UInt8(ascii: "0")) else { return false }
                actions.append(value)
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    break
                } else {
                    return false
                }
            }
        }
        return index == bytes.count - 1 && bytes[index] == UInt8(ascii: "}")
    }

    mutating func handleParsed(_ line: [UInt8]) -> (response: [UInt8], close: Bool) {
        let request: [String: JSONValue]
        do {
            guard case let .object(fields) = try JSONValue.parse(Data(line), file: "request") else {
                return (Self.error("a request is a JSON object with an \"op\""), false)
            }
            request = fields
        } catch {
            return (Self.error("the request \(error.problem)"), false)
        }
        guard case let .string(op)? = request["op"] else {
            return (Self.error("the request has no \"op\" (reset, step or close)"), false)
        }
        switch op {
        case "reset":
            let allowed: Set<String> = ["op", "seed"]
            if let unknown = request.keys.sorted().first(where: { !allowed.contains($0) }) {
                return (Self.error("reset: unknown key \"\(unknown)\" (allowed: op, seed)"), false)
            }
            var seed: UInt64?
            switch request["seed"] {
            case nil, .null?: seed = nil
            case let .number(value)? where value >= 0 && value <= 9_007_199_254_740_992 && value == value.rounded():
                seed = UInt64(value)
            case let value?:
                return (Self.error("reset: seed must be an integer in [0, 2^53], got \(value.summary)"), false)
            }
            session.reset(seed: seed)
            return (observationResponse(step: false), false)
        case "step":
            let allowed: Set<String> = ["op", "actions", "invalid_action"]
            if let unknown = request.keys.sorted().first(where: { !allowed.contains($0) }) {
                return (Self.error("step: unknown key \"\(unknown)\" (allowed: op, actions, invalid_action)"), false)
            }
            guard case let .array(values)? = request["actions"] else {
                return (Self.error("step: actions must be an array of \(session.batch) action indices"), false)
            }
            var actions: [Int] = []
            actions.reserveCapacity(values.count)
            for (index, value) in values.enumerated() {
                guard case let .number(number) = value, number == number.rounded(), abs(number) < 1e9 else {
                    return (Self.error("step: actions[\(index)] must be an integer, got \(value.summary)"), false)
                }
                actions.append(Int(number))
            }
            var invalid = invalidAction
            if let value = request["invalid_action"] {
                guard case let .string(name) = value, let parsed = EnvironmentSession.InvalidAction(rawValue: name) else {
                    return (Self.error("step: invalid_action must be \"error\" or \"no-ads\", got \(value.summary)"), false)
                }
                invalid = parsed
            }
            do {
                try session.step(actions, invalid: invalid, into: &results)
            } catch {
                return (Self.error("step: \(error.message)"), false)
            }
            return (observationResponse(step: true), false)
        case "close":
            var writer = JSONWriter(capacity: 32)
            writer.beginObject()
            writer.key("closed")
            writer.bool(true)
            writer.endObject()
            return (writer.bytes, true)
        default:
            return (Self.error("unknown op \"\(op)\" (reset, step or close)"), false)
        }
    }

    static func error(_ message: String) -> [UInt8] {
        var writer = JSONWriter(capacity: message.utf8.count + 16)
        writer.beginObject()
        writer.key("error")
        writer.string(message)
        writer.endObject()
        return writer.bytes
    }

    /// The slots' observations, masks and users, and for a step the step's columns.
    func observationResponse(step: Bool) -> [UInt8] {
        let batch = session.batch
        let width = session.observationCount
        let actionCount = session.actions.count
        var writer = JSONWriter(capacity: batch * (encoding == .json ? 16 * (width + actionCount) : 8 * (width + actionCount)) + 1024)
        writer.beginObject()
        writer.key("observations")
        switch encoding {
        case .json:
            writer.byte(UInt8(ascii: "["))
            for slot in 0..<batch {
                if slot > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.numbers(session.current[slot]?.observation ?? [])
            }
            writer.byte(UInt8(ascii: "]"))
        case .base64:
            var values = [Float](repeating: 0, count: batch * width)
            for slot in 0..<batch {
                guard let observation = session.current[slot]?.observation else { continue }
                for index in 0..<min(width, observation.count) { values[slot * width + index] = Float(observation[index]) }
            }
            Self.base64(values, into: &writer)
        }
        writer.key("masks")
        switch encoding {
        case .json:
            writer.byte(UInt8(ascii: "["))
            for slot in 0..<batch {
                if slot > 0 { writer.byte(UInt8(ascii: ",")) }
                Self.jsonBools(session.current[slot]?.mask ?? [], into: &writer)
            }
            writer.byte(UInt8(ascii: "]"))
        case .base64:
            var bytes = [UInt8](repeating: 0, count: batch * actionCount)
            for slot in 0..<batch {
                guard let mask = session.current[slot]?.mask else { continue }
                for index in 0..<min(actionCount, mask.count) where mask[index] { bytes[slot * actionCount + index] = 1 }
            }
            Self.base64(bytes, into: &writer)
        }
        writer.key("users")
        integers(session.users, into: &writer)
        if step {
            writer.key("rewards")
            reals(results.map(\.reward), into: &writer)
            writer.key("terminated")
            flags(results.map(\.terminated), into: &writer)
            writer.key("truncated")
            flags(results.map(\.truncated), into: &writer)
            writer.key("info")
            writer.beginObject()
            writer.key("user")
            integers(results.map(\.user), into: &writer)
            writer.key("session")
            integers(results.map(\.session), into: &writer)
            writer.key("action")
            integers(results.map(\.action), into: &writer)
            writer.key("replaced")
            flags(results.map(\.replaced), into: &writer)
            writer.key("items")
            integers(results.map(\.outcome.items), into: &writer)
            writer.key("ads")
            integers(results.map(\.outcome.ads), into: &writer)
            writer.key("clicks")
            integers(results.map(\.outcome.clicks), into: &writer)
            writer.key("negatives")
            integers(results.map(\.outcome.negatives), into: &writer)
            writer.key("revenue")
            reals(results.map(\.outcome.revenue), into: &writer)
            writer.key("dwell")
            reals(results.map(\.outcome.dwell), into: &writer)
            writer.key("churned")
            flags(results.map(\.outcome.churned), into: &writer)
            writer.key("gap_days")
            reals(results.map { $0.outcome.gapToNext.isFinite ? $0.outcome.gapToNext : .nan }, into: &writer)
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }

    func integers(_ values: [Int], into writer: inout JSONWriter) {
        switch encoding {
        case .json: writer.integers(values)
        case .base64: Self.base64(values.map { Int32(truncatingIfNeeded: $0) }, into: &writer)
        }
    }

    func reals(_ values: [Double], into writer: inout JSONWriter) {
        switch encoding {
        case .json: writer.numbers(values)
        case .base64: Self.base64(values, into: &writer)
        }
    }

    func flags(_ values: [Bool], into writer: inout JSONWriter) {
        switch encoding {
        case .json: Self.jsonBools(values, into: &writer)
        case .base64: Self.base64(values.map { $0 ? UInt8(1) : 0 }, into: &writer)
        }
    }

    /// Writes `[true,false,…]`.
    static func jsonBools(_ values: [Bool], into writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.bool(value)
        }
        writer.byte(UInt8(ascii: "]"))
    }

    /// Writes `"…"`: the base64 of the values' little-endian bytes.
    static func base64<T>(_ values: [T], into writer: inout JSONWriter) {
        let encoded = values.withUnsafeBytes { Data($0).base64EncodedData() }
        writer.byte(UInt8(ascii: "\""))
        for byte in encoded { writer.byte(byte) }
        writer.byte(UInt8(ascii: "\""))
    }
}
