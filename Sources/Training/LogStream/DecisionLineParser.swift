import AdLoadCore
import Foundation

/// What learning and estimation read of one decision-log line, parsed by
/// ``DecisionLineParser`` into storage reused from line to line.
package struct ParsedDecision: Sendable {
    /// Context features c.
    package var features: [Double] = []
    /// The valid plans offered, in order.
    package var candidates: [PlanSpec] = []
    package var chosen = -1
    package var probability = Double.nan
    package var reward = Double.nan
    package var feedLength = -1
    package var adLimit = -1
    /// FNV-1a 64 of the `context_schema` text, or `nil` when the line has none (the standard layout).
    package var contextSchemaHash: UInt64?
    /// FNV-1a 64 of `decision_id` (it keys a target's random stream in evaluation).
    package var decisionIDHash: UInt64 = 0
    /// The outcome's priced quantities.
    package var revenue = Double.nan
    package var ads = -1, negatives = -1, items = -1
    /// The simulated user and session index, for logs written by `adload simulate --log`.
    package var simUser: Int?
    package var simSession: Int?
    /// The pacing prices the decision used (the defaults when the line has none).
    package var prices = PacingPrices.defaults

    package init() {}

    /// Clears the fields for the next line, keeping the arrays' storage.
    mutating func reset() {
        features.removeAll(keepingCapacity: true)
        candidates.removeAll(keepingCapacity: true)
        chosen = -1
        probability = .nan
        reward = .nan
        feedLength = -1
        adLimit = -1
        contextSchemaHash = nil
        decisionIDHash = 0
        revenue = .nan
        ads = -1
        negatives = -1
        items = -1
        simUser = nil
        simSession = nil
        prices = .defaults
    }

    /// The chosen plan laid out in the session.
    package var chosenPlan: AdPlan { candidates[chosen].plan(feedLength: feedLength, limit: adLimit) }
}

/// Why a line did not parse: the problem in words (the caller adds file and line).
package struct LineProblem: Error, Sendable {
    package let message: String
    init(_ message: String) { self.message = message }
}

/// A JSON parser for decision-log lines (`adload simulate --log`, the service's logs), built
/// for throughput: it walks the bytes once, keeps the keys learning and estimation read and
/// skips the others without building them, and allocates nothing per line once its arrays
/// have grown. The log stays ordinary JSON Lines; anything that is not valid JSON, and any
/// key the reader needs that is missing or of the wrong type, is refused with a message.
package struct DecisionLineParser {
    var bytes: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    var position = 0
    let keys = Keys()

    package init() {}

    /// Parses one line into `record` (cleared first).
    /// - Throws: ``LineProblem`` naming the key or the byte where the line goes wrong.
    package mutating func parse(_ line: UnsafeRawBufferPointer, into record: inout ParsedDecision) throws(LineProblem) {
        bytes = line
        position = 0
        record.reset()
        try expect(UInt8(ascii: "{"))
        var seen: UInt32 = 0
        if try !consume(UInt8(ascii: "}")) {
            repeat {
                let key = try keyHash()
                try expect(UInt8(ascii: ":"))
                switch key {
                case keys.features where seen & 1 != 0, keys.candidates where seen & 2 != 0:
                    throw LineProblem("a key given twice (features or candidates)")
                case keys.features:
                    seen |= 1
                    try parseNumberArray(into: &record.features)
                case keys.candidates:
                    seen |= 2
                    try parseCandidates(into: &record.candidates)
                case keys.chosen:
                    seen |= 4
                    record.chosen = try integer("chosen")
                case keys.probability:
                    seen |= 8
                    record.probability = try number("probability")
                case keys.reward:
                    seen |= 16
                    record.reward = try number("reward")
                case keys.feedLength:
                    seen |= 32
                    record.feedLength = try integer("feed_length")
                case keys.adLimit:
                    seen |= 64
                    record.adLimit = try integer("ad_limit")
                case keys.outcome:
                    seen |= 128
                    try parseOutcome(into: &record)
                case keys.decisionID:
                    seen |= 256
                    record.decisionIDHash = try stringHash("decision_id")
                case keys.contextSchema:
                    if try !consumeNull() { record.contextSchemaHash = try stringHash("context_schema") }
                case keys.sim:
                    if try !consumeNull() { try parseSim(into: &record) }
                case keys.prices:
                    if try !consumeNull() { try parsePrices(into: &record) }
                default:
                    try skipValue()
                }
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        }
        skipWhitespace()
        guard position == bytes.count else { throw problem("text after the record's closing brace") }
        let required: [(UInt32, String)] = [
            (1, "features"), (2, "candidates"), (4, "chosen"), (8, "probability"), (16, "reward"), (32, "feed_length"), (64, "ad_limit"),
            (128, "outcome"), (256, "decision_id"),
        ]
        for (bit, name) in required where seen & bit == 0 { throw LineProblem("missing key '\(name)'") }
        guard record.revenue.isFinite, record.ads >= 0, record.negatives >= 0, record.items >= 0 else {
            throw LineProblem("outcome needs revenue, ads, negatives and items")
        }
        guard !record.candidates.isEmpty else { throw LineProblem("candidates is empty") }
        guard record.candidates.indices.contains(record.chosen) else {
            throw LineProblem("chosen = \(record.chosen) is not an index of the \(record.candidates.count) candidates")
        }
        guard record.probability > 0 && record.probability <= 1 else {
            throw LineProblem("probability = \(record.probability) is outside (0, 1]")
        }
        guard record.reward.isFinite else { throw LineProblem("reward is not finite") }
    }

    /// FNV-1a 64 hashes of the key names the parser reads, computed once per parser (stored,
    /// so the hot loop does not check a lazy global's initialization at every key).
    struct Keys {
        let features = FNV1a64.hash("features")
        let candidates = FNV1a64.hash("candidates")
        let first = FNV1a64.hash("first")
        let every = FNV1a64.hash("every")
        let max = FNV1a64.hash("max")
        let chosen = FNV1a64.hash("chosen")
        let probability = FNV1a64.hash("probability")
        let reward = FNV1a64.hash("reward")
        let feedLength = FNV1a64.hash("feed_length")
        let adLimit = FNV1a64.hash("ad_limit")
        let outcome = FNV1a64.hash("outcome")
        let decisionID = FNV1a64.hash("decision_id")
        let contextSchema = FNV1a64.hash("context_schema")
        let sim = FNV1a64.hash("sim")
        let revenue = FNV1a64.hash("revenue")
        let ads = FNV1a64.hash("ads")
        let negatives = FNV1a64.hash("negatives")
        let items = FNV1a64.hash("items")
        let user = FNV1a64.hash("user")
        let session = FNV1a64.hash("session")
        let prices = FNV1a64.hash("prices")
    }

    // MARK: Structure

    mutating func parseCandidates(into candidates: inout [PlanSpec]) throws(LineProblem) {
        try expect(UInt8(ascii: "["))
        if try consume(UInt8(ascii: "]")) { return }
        repeat {
            try expect(UInt8(ascii: "{"))
            var first = -1, every = -1, max = -1
            if try !consume(UInt8(ascii: "}")) {
                repeat {
                    let key = try keyHash()
                    try expect(UInt8(ascii: ":"))
                    switch key {
                    case keys.first: first = try integer("candidates.first")
                    case keys.every: every = try integer("candidates.every")
                    case keys.max: max = try integer("candidates.max")
                    default: try skipValue()
                    }
                } while try consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"))
            }
            guard first >= 0, every >= 0, max >= 0 else {
                throw LineProblem("candidate \(candidates.count + 1) needs first, every and max, non-negative")
            }
            candidates.append(PlanSpec(first: first, spacing: every, maxAds: max))
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
    }

    mutating func parseOutcome(into record: inout ParsedDecision) throws(LineProblem) {
        try expect(UInt8(ascii: "{"))
        if try consume(UInt8(ascii: "}")) { return }
        repeat {
            let key = try keyHash()
            try expect(UInt8(ascii: ":"))
            switch key {
            case keys.revenue: record.revenue = try number("outcome.revenue")
            case keys.ads: record.ads = try integer("outcome.ads")
            case keys.negatives: record.negatives = try integer("outcome.negatives")
            case keys.items: record.items = try integer("outcome.items")
            default: try skipValue()
            }
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    mutating func parseSim(into record: inout ParsedDecision) throws(LineProblem) {
        try expect(UInt8(ascii: "{"))
        if try consume(UInt8(ascii: "}")) { return }
        repeat {
            let key = try keyHash()
            try expect(UInt8(ascii: ":"))
            switch key {
            case keys.user: record.simUser = try integer("sim.user")
            case keys.session: record.simSession = try integer("sim.session")
            default: try skipValue()
            }
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    /// `prices`: four non-negative numbers (revenue, impressions, negatives, organic).
    mutating func parsePrices(into record: inout ParsedDecision) throws(LineProblem) {
        try expect(UInt8(ascii: "["))
        var values = (0.0, 0.0, 0.0, 0.0)
        var count = 0
        if try !consume(UInt8(ascii: "]")) {
            repeat {
                let value = try number("prices")
                guard value.isFinite && value >= 0 else { throw LineProblem("prices must be non-negative numbers, got \(value)") }
                switch count {
                case 0: values.0 = value
                case 1: values.1 = value
                case 2: values.2 = value
                case 3: values.3 = value
                default: break
                }
                count += 1
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        }
        guard count == 4 else { throw LineProblem("prices must hold four numbers (revenue, impressions, negatives, organic), got \(count)") }
        record.prices = PacingPrices(revenue: values.0, impressions: values.1, negatives: values.2, organic: values.3)
    }

    mutating func parseNumberArray(into values: inout [Double]) throws(LineProblem) {
        try expect(UInt8(ascii: "["))
        if try consume(UInt8(ascii: "]")) { return }
        repeat {
            values.append(try number("features"))
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
    }

    // MARK: Tokens

    func problem(_ what: String) -> LineProblem {
        LineProblem("not valid JSON at byte \(position + 1): \(what)")
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A else { return }
            position += 1
        }
    }

    mutating func expect(_ byte: UInt8) throws(LineProblem) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else {
            throw problem("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    mutating func consume(_ byte: UInt8) throws(LineProblem) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw problem("the line ends inside the record") }
        if bytes[position] == byte {
            position += 1
            return true
        }
        return false
    }

    mutating func consumeNull() throws(LineProblem) -> Bool {
        skipWhitespace()
        guard position + 4 <= bytes.count, bytes[position] == UInt8(ascii: "n") else { return false }
        guard bytes[position + 1] == UInt8(ascii: "u"), bytes[position + 2] == UInt8(ascii: "l"), bytes[position + 3] == UInt8(ascii: "l") else {
            throw problem("expected null")
        }
        position += 4
        return true
    }

    /// The hash of a key (a string); keys with escapes hash their raw bytes, so match no known key.
    mutating func keyHash() throws(LineProblem) -> UInt64 {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw problem("expected a key") }
        return try stringHashAfterQuote()
    }

    mutating func stringHash(_ key: String) throws(LineProblem) -> UInt64 {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw LineProblem("key '\(key)' is not a string") }
        return try stringHashAfterQuote()
    }

    /// Hashes the raw bytes of the string at `position` (its opening quote) and moves past it.
    mutating func stringHashAfterQuote() throws(LineProblem) -> UInt64 {
        position += 1
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return hash
            }
            if byte == UInt8(ascii: "\\") {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
                position += 1
                guard position < bytes.count else { break }
            } else if byte < 0x20 {
                throw problem("a control character inside a string")
            }
            hash ^= UInt64(bytes[position])
            hash &*= 0x0000_0100_0000_01B3
            position += 1
        }
        throw problem("the line ends inside a string")
    }

    /// Moves past the string at `position` (its opening quote) without hashing it.
    mutating func skipStringAfterQuote() throws(LineProblem) {
        position += 1
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte == UInt8(ascii: "\\") {
                position += 1
            } else if byte < 0x20 {
                position -= 1
                throw problem("a control character inside a string")
            }
        }
        throw problem("the line ends inside a string")
    }

    /// A JSON number, converted with `strtod` (correctly rounded, as Foundation's decoder).
    mutating func number(_ key: String) throws(LineProblem) -> Double {
        skipWhitespace()
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            let isNumberByte = (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            guard isNumberByte else { break }
            position += 1
        }
        let length = position - start
        guard length > 0, length < 64 else { throw LineProblem("key '\(key)' is not a number") }
        let first = bytes[start]
        guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            throw LineProblem("key '\(key)' is not a number")
        }
        let bytes = bytes
        let parsed: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
            for index in 0..<length { text[index] = CChar(bitPattern: bytes[start + index]) }
            text[length] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(text.baseAddress!, &end)
            return end == text.baseAddress! + length ? value : nil
        }
        guard let parsed, parsed.isFinite else { throw LineProblem("key '\(key)' is not a number") }
        return parsed
    }

    /// A JSON number that is a whole number within Int's range.
    mutating func integer(_ key: String) throws(LineProblem) -> Int {
        skipWhitespace()
        var value = 0
        var digits = 0
        let negative = position < bytes.count && bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9"), digits < 18 {
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            digits += 1
            position += 1
        }
        let fraction = position < bytes.count
            && (bytes[position] == UInt8(ascii: ".") || bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E"))
        if fraction || digits == 18 {
            // Not a plain integer literal: read it as a number and insist it is whole.
            position -= digits + (negative ? 1 : 0)
            let number = try number(key)
            guard number == number.rounded(), abs(number) < 1e15 else { throw LineProblem("key '\(key)' is not a whole number") }
            return Int(number)
        }
        guard digits > 0 else { throw LineProblem("key '\(key)' is not a number") }
        return negative ? -value : value
    }

    /// Skips any JSON value (checking its syntax).
    mutating func skipValue() throws(LineProblem) {
        skipWhitespace()
        guard position < bytes.count else { throw problem("expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "\""):
            try skipStringAfterQuote()
        case UInt8(ascii: "{"):
            position += 1
            if try consume(UInt8(ascii: "}")) { return }
            repeat {
                _ = try keyHash()
                try expect(UInt8(ascii: ":"))
                try skipValue()
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            position += 1
            if try consume(UInt8(ascii: "]")) { return }
            repeat {
                try skipValue()
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try skipNumber()
        }
    }

    /// Moves past a number without converting it (a skipped value needs only its syntax).
    mutating func skipNumber() throws(LineProblem) {
        let start = position
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        let digitsStart = position
        while position < bytes.count {
            let byte = bytes[position]
            guard (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") else { break }
            position += 1
        }
        guard position > digitsStart, bytes[digitsStart] >= UInt8(ascii: "0"), bytes[digitsStart] <= UInt8(ascii: "9") else {
            position = start
            throw problem("expected a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(LineProblem) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw problem("expected \(word)") }
        for index in 0..<count where bytes[position + index] != word.utf8Start[index] {
            throw problem("expected \(word)")
        }
        position += count
    }
}
