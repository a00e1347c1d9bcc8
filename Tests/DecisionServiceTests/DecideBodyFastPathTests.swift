import AdLoadCore
@testable import DecisionService
import Testing

@Suite("Decide body fast path")
struct DecideBodyFastPathTests {
    @Test("the bodies feed servers send take the fast path and read exactly as the strict decoder reads them")
    func commonBodies() throws {
        let bodies = [
            decideBody(),
            decideBody(timestamp: nil),
            decideBody(timestamp: 1_764_201_600.125),
            decideBody(extra: #""tenure": "veteran""#),
            #"{"user_id":"load-7","session_id":"s7","region":"eu","device":"android","hour":0,"feed_length":512}"#,
            "{\n  \"feed_length\" : 1 ,\t\"hour\" : 23,\r\n \"device\":\"ios\", \"region\":\"apac\", \"session_id\":\"x\", \"user_id\":\"y\"\n}\n",
        ]
        for body in bodies {
            let bytes = Array(body.utf8)
            let fast = try #require(DecideBodyFastPath.parse(bytes), "the fast path declined \(body)")
            #expect(fast == (try DecisionRequest.decodeStrictly(bytes)), "\(body)")
        }
    }

    @Test("on seeded random bodies, whatever the fast path accepts the strict decoder reads the same; the rest it declines")
    func randomBodiesAgree() throws {
        let random = CounterRandom(seed: 20_261_127, domain: 1)
        var counter: UInt64 = 0
        func draw(_ count: Int) -> Int {
            counter += 1
            return Int(random.bits(counter) % UInt64(count))
        }
        let stringValues = [
            #""u1""#, #""""#, #""na""#, #""ios""#, #""a\"b""#, #""\u0041""#, #""é""#, #""tab\there""#, "\"\(String(repeating: "x", count: 129))\"",
            "7", "null", "true", "[]", "{}",
        ]
        let numberValues = [
            "0", "20", "23", "24", "-1", "-0", "007", "3.5", "1e2", "512", "513", "99999999999", "1764201600.5", "1764201600",
            "4102444801", "-5", "1.", ".5", "\"12\"", "null", "1E300",
        ]
        let keys = ["user_id", "session_id", "region", "device", "hour", "feed_length", "tenure", "timestamp", "ad_formats", "colour"]
        let spaces = ["", " ", "\n", "\t ", "\r\n"]
        var accepted = 0
        var trials = 0
        for _ in 0..<4000 {
            var fields: [String] = []
            for key in keys.shuffled(using: random, counter: &counter) {
                let include = draw(20) < (["ad_formats", "colour", "tenure", "timestamp"].contains(key) ? 3 : 19)
                guard include else { continue }
                let value: String
                switch key {
                case "hour", "feed_length", "timestamp":
                    value = draw(8) == 0 ? numberValues[draw(numberValues.count)] : (key == "hour" ? "\(draw(24))" : key == "feed_length" ? "\(1 + draw(512))" : "1764201600.\(draw(1000))")
                case "ad_formats":
                    value = #"["video"]"#
                default:
                    value = draw(8) == 0 ? stringValues[draw(stringValues.count)] : #""v\#(draw(50))""#
                }
                let space = spaces[draw(spaces.count)]
                fields.append("\"\(key)\"\(space):\(space)\(value)")
                if draw(40) == 0 { fields.append("\"\(key)\":\(value)") }
            }
            var body = spaces[draw(spaces.count)] + "{" + fields.joined(separator: "," + spaces[draw(spaces.count)]) + "}"
            if draw(30) == 0 { body += "x" }
            if draw(30) == 0 { body.removeLast() }
            let bytes = Array(body.utf8)
            trials += 1
            guard let fast = DecideBodyFastPath.parse(bytes) else { continue }
            accepted += 1
            let strict = try DecisionRequest.decodeStrictly(bytes)
            #expect(fast == strict, "\(body)")
        }
        // Both branches must be exercised for the comparison to mean anything.
        #expect(accepted > trials / 5 && accepted < trials, "accepted \(accepted) of \(trials)")
    }
}

extension Array {
    /// A seeded shuffle (Fisher–Yates over counter-based draws).
    fileprivate func shuffled(using random: CounterRandom, counter: inout UInt64) -> [Element] {
        var copy = self
        for index in stride(from: copy.count - 1, to: 0, by: -1) {
            counter += 1
            let other = Int(random.bits(counter) % UInt64(index + 1))
            copy.swapAt(index, other)
        }
        return copy
    }
}
