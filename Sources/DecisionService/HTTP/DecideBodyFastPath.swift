import Hummingbird

/// Reads the common shape of a `POST /v1/decide` body without Foundation's `JSONDecoder`,
/// which cost as much as the decision itself.
///
/// It accepts only bodies it can read with certainty: one object of the known keys, each
/// at most once, with ASCII strings free of escapes, plain integers for `hour` and
/// `feed_length`, a plain decimal `timestamp`, every required key present and every value in
/// range. Anything else (unknown or repeated keys, escapes, non-ASCII text, `null`,
/// `ad_formats`, exponents, out-of-range values, malformed JSON) returns `nil`, and the caller
/// reads the body with the strict decoder, which accepts the same bodies and gives the error
/// message for the rest. So this path changes speed, never answers
/// (``DecisionRequest/decodeStrictly(_:)`` is the other reader; tests compare the two).
enum DecideBodyFastPath {
    /// The request in `buffer`'s readable bytes, or `nil` to use the strict decoder.
    static func parse(_ buffer: ByteBuffer) -> DecisionRequest? {
        buffer.withUnsafeReadableBytes { parse($0) }
    }

    /// The request in `bytes`, or `nil` to use the strict decoder.
    static func parse(_ bytes: [UInt8]) -> DecisionRequest? {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// The request, or `nil` to use the strict decoder.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> DecisionRequest? {
        var scanner = Scanner(bytes: bytes)
        var userID: String?, sessionID: String?, region: String?, device: String?, tenure: String?
        var hour: Int?, feedLength: Int?
        var timestamp: Double?
        scanner.skipSpace()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        scanner.skipSpace()
        if scanner.take(UInt8(ascii: "}")) { return nil }
        while true {
            guard let key = scanner.plainKey(), scanner.skipSpaceAndTake(UInt8(ascii: ":")) else { return nil }
            scanner.skipSpace()
            switch key {
            case Key.userID:
                guard userID == nil, let value = scanner.plainString() else { return nil }
                userID = value
            case Key.sessionID:
                guard sessionID == nil, let value = scanner.plainString() else { return nil }
                sessionID = value
            case Key.region:
                guard region == nil, let value = scanner.plainString() else { return nil }
                region = value
            case Key.device:
                guard device == nil, let value = scanner.plainString() else { return nil }
                device = value
            case Key.tenure:
                guard tenure == nil, let value = scanner.plainString() else { return nil }
                tenure = value
            case Key.hour:
                guard hour == nil, let value = scanner.plainInteger() else { return nil }
                hour = value
            case Key.feedLength:
                guard feedLength == nil, let value = scanner.plainInteger() else { return nil }
                feedLength = value
            case Key.timestamp:
                guard timestamp == nil, let value = scanner.plainDecimal() else { return nil }
                timestamp = value
            default:
                return nil
            }
            scanner.skipSpace()
            if scanner.take(UInt8(ascii: ",")) {
                scanner.skipSpace()
                continue
            }
            guard scanner.take(UInt8(ascii: "}")) else { return nil }
            break
        }
        scanner.skipSpace()
        guard scanner.atEnd,
              let userID, RequestLimits.idLength.contains(userID.utf8.count),
              let sessionID, RequestLimits.idLength.contains(sessionID.utf8.count),
              let region, let device,
              let hour, (0...23).contains(hour),
              let feedLength, (1...512).contains(feedLength)
        else { return nil }
        if let timestamp, !RequestLimits.timestamps.contains(timestamp) { return nil }
        return DecisionRequest(
            userID: userID, sessionID: sessionID, region: region, device: device, hour: hour, feedLength: feedLength,
            tenure: tenure, adFormats: nil, timestamp: timestamp)
    }

    /// The keys as UTF-8, compared without building strings.
    enum Key {
        static let userID: [UInt8] = Array("user_id".utf8)
        static let sessionID: [UInt8] = Array("session_id".utf8)
        static let region: [UInt8] = Array("region".utf8)
        static let device: [UInt8] = Array("device".utf8)
        static let tenure: [UInt8] = Array("tenure".utf8)
        static let hour: [UInt8] = Array("hour".utf8)
        static let feedLength: [UInt8] = Array("feed_length".utf8)
        static let timestamp: [UInt8] = Array("timestamp".utf8)
    }

    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
                default: return
                }
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpaceAndTake(_ byte: UInt8) -> Bool {
            skipSpace()
            return take(byte)
        }

        /// A string of printable ASCII without escapes, as its bytes' text.
        mutating func plainString() -> String? {
            guard let range = plainStringRange() else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }

        /// A string of printable ASCII without escapes, as its bytes (for keys).
        mutating func plainKey() -> [UInt8]? {
            guard let range = plainStringRange() else { return nil }
            return Array(bytes[range])
        }

        mutating func plainStringRange() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
                index += 1
            }
            return nil
        }

        /// An optional `-` and 1–9 digits without a leading zero (or a lone `0`), ending at a
        /// delimiter, not a fraction or exponent.
        mutating func plainInteger() -> Int? {
            let negative = take(UInt8(ascii: "-"))
            let start = index
            var value = 0
            while index < bytes.count, let digit = Self.digit(bytes[index]) {
                value = value * 10 + digit
                index += 1
                if index - start > 9 { return nil }
            }
            let count = index - start
            guard count > 0, !(count > 1 && bytes[start] == UInt8(ascii: "0")), endsNumber() else { return nil }
            return negative ? -value : value
        }

        /// Digits with an optional fraction (no sign, no exponent, at most 20 characters),
        /// converted as the strict decoder converts it (correctly rounded).
        mutating func plainDecimal() -> Double? {
            let start = index
            var digits = 0
            while index < bytes.count, Self.digit(bytes[index]) != nil {
                index += 1
                digits += 1
            }
            guard digits > 0, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else { return nil }
            if take(UInt8(ascii: ".")) {
                var fraction = 0
                while index < bytes.count, Self.digit(bytes[index]) != nil {
                    index += 1
                    fraction += 1
                }
                guard fraction > 0 else { return nil }
            }
            guard index - start <= 20, endsNumber() else { return nil }
            return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
        }

        /// Whether the next byte may follow a number in this object.
        func endsNumber() -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                return true
            default:
                return false
            }
        }

        static func digit(_ byte: UInt8) -> Int? {
            byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
        }
    }
}
