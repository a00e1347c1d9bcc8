import AdLoadCore
import Foundation
import Testing

@Suite("Writing JSON and numbers")
struct JSONWriterTests {
    static let numbers: [Double] = [
        0, -0.0, 1, -1, 3, 0.1, -2.5, 1e-5, 1e15, -1e15, 1e16, 0x1p53, 0x1p53 + 2, 123_456_789.125, .pi, .leastNonzeroMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
    ]

    @Test("numbers are written in Swift's shortest round-trip form, and read back identically", arguments: numbers)
    func number(_ value: Double) throws {
        var writer = JSONWriter()
        writer.number(value)
        #expect(writer.text == value.description)
        #expect(writer.text == JSONNumber.json(value))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(writer.bytes), options: .fragmentsAllowed) as? NSNumber)
        #expect(parsed.doubleValue == value)
        #expect(parsed.doubleValue.sign == value.sign)
        // The compact form reads back identically too.
        #expect(Double(JSONNumber.compact(value)) == value)
    }

    @Test("NaN and infinities are not JSON numbers: written as null")
    func nonFinite() throws {
        for value in [Double.nan, .infinity, -.infinity] {
            var writer = JSONWriter()
            writer.numbers([1, value])
            #expect(writer.text == "[1.0,null]")
            #expect(JSONNumber.json(value) == "null")
        }
    }

    @Test("the compact form: integers without a fraction below 2^53, -0 as 0, everything else as Swift prints it")
    func compact() {
        #expect(JSONNumber.compact(12) == "12")
        #expect(JSONNumber.compact(-0.0) == "0")
        #expect(JSONNumber.compact(1e15) == "1000000000000000")
        #expect(JSONNumber.compact(0x1p53) == (0x1p53 as Double).description, "2^53 is not below 2^53: Swift's form, not an integer")
        #expect(JSONNumber.compact(0x1p53 - 1) == "9007199254740991")
        #expect(JSONNumber.compact(0.1) == "0.1")
        #expect(JSONNumber.compact(1e-5) == "1e-05")
        #expect(JSONNumber.compact(.infinity) == "inf")
    }

    @Test("strings are escaped so that a JSON reader gets the same text back")
    func escapes() throws {
        let texts = ["plain", "quote \" and backslash \\", "line\nfeed\r\ttab", "\u{0}\u{1}\u{1F}", "é ünï 广告 🎬", ""]
        for text in texts {
            var writer = JSONWriter()
            writer.string(text)
            let parsed = try JSONSerialization.jsonObject(with: Data(writer.bytes), options: .fragmentsAllowed) as? String
            #expect(parsed == text, "\(writer.text)")
            #expect(!writer.bytes.contains { $0 < 0x20 }, "a control character was written raw: \(writer.text)")
        }
        var writer = JSONWriter()
        writer.string("\u{1}")
        #expect(writer.text == #""\u0001""#)
    }

    @Test("an object gets commas between its keys only")
    func object() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("a")
        writer.integers([1, 2])
        writer.key("b")
        writer.bool(true)
        writer.key("c")
        writer.string("x")
        writer.endObject()
        #expect(writer.text == #"{"a":[1,2],"b":true,"c":"x"}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any])
        #expect(parsed.count == 3)
    }
}
