/// Compact JSON written straight into bytes, for the documents the service writes on every
/// request (decision stream entries, decide answers), where Foundation's `JSONEncoder` and
/// string interpolation cost more than the decision itself.
///
/// The caller opens and closes the object and names each key (the writer puts the commas
/// and colons between them); the writer renders values: strings
/// escaped as ``JSONValue/quoted(_:)`` describes (that function uses this writer), integers
/// in decimal, doubles in Swift's shortest round-trip form (`null` for NaN and infinities,
/// which JSON cannot hold).
package struct JSONWriter: Sendable {
    /// The bytes written so far.
    package private(set) var bytes: [UInt8]
    /// Whether the next key follows another in the open object (and needs a comma).
    var afterFirstKey = false

    /// An empty writer with room for `capacity` bytes.
    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends ASCII text as is (punctuation and keys known to need no escaping).
    package mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends one ASCII byte.
    package mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    /// Opens an object (`{`); keys written next are its fields.
    package mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        afterFirstKey = false
    }

    /// Closes the object opened by ``beginObject()``.
    package mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
    }

    /// Appends `"key":`, preceded by a comma unless it is the object's first key.
    package mutating func key(_ name: StaticString) {
        if afterFirstKey { bytes.append(UInt8(ascii: ",")) }
        afterFirstKey = true
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends `"name":` for a key known only at run time (escaped as any string), preceded
    /// by a comma unless it is the object's first key.
    package mutating func dynamicKey(_ name: String) {
        if afterFirstKey { bytes.append(UInt8(ascii: ",")) }
        afterFirstKey = true
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends `text` as a JSON string literal: `"` and `\` escaped, control characters as
    /// `\n`, `\r`, `\t` or `\u00XX`, everything else (multi-byte UTF-8 included) as is.
    package mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
                case 0..<0x20:
                    raw("\\u00")
                    bytes.append(Self.hexDigit(byte >> 4))
                    bytes.append(Self.hexDigit(byte & 0xF))
                default:
                    bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an integer in decimal.
    package mutating func integer(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
        }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) {
                bytes.append(buffer[index])
            }
        }
    }

    /// Appends a double in Swift's shortest round-trip form, or `null` when it is not finite.
    package mutating func number(_ value: Double) {
        guard value.isFinite else {
            raw("null")
            return
        }
        if value == value.rounded(), abs(value) < 1e15, !(value == 0 && value.sign == .minus) {
            // What `description` prints for these, without formatting a string.
            integer(Int(value))
            raw(".0")
            return
        }
        var text = value.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends `true` or `false`.
    package mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// Appends `[a,b,...]` of integers.
    package mutating func integers(_ values: [Int]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            integer(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends `[a,b,...]` of doubles.
    package mutating func numbers(_ values: [Double]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            number(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The bytes as a `String` (they are valid UTF-8 when every string written was).
    package var text: String { String(decoding: bytes, as: UTF8.self) }

    static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
