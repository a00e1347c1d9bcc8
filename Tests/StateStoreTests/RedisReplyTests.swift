import AdLoadCore
import Foundation
@testable import StateStore
import Testing

@Suite("RedisReply accessors")
struct RedisReplyTests {
    @Test("string decodes UTF-8 bulk strings and statuses only")
    func string() {
        #expect(RedisReply.bulk(Array("héllo".utf8)).string == "héllo")
        #expect(RedisReply.bulk([0xFF, 0xFE]).string == nil)
        #expect(RedisReply.status("OK").string == "OK")
        #expect(RedisReply.integer(1).string == nil)
        #expect(RedisReply.null.string == nil)
        #expect(RedisReply.error("ERR x").string == nil)
    }

    @Test("int reads integers and decimal bulk strings")
    func int() {
        #expect(RedisReply.integer(-42).int == -42)
        #expect(RedisReply.bulk(Array("1234".utf8)).int == 1234)
        #expect(RedisReply.bulk(Array("12a".utf8)).int == nil)
        #expect(RedisReply.null.int == nil)
        #expect(RedisReply.array([.integer(1)]).int == nil)
    }

    @Test("other accessors and checked()")
    func others() throws {
        #expect(RedisReply.bulk([0, 1]).bytes == [0, 1])
        #expect(RedisReply.array([.null]).array == [.null])
        #expect(RedisReply.null.isNull)
        #expect(!RedisReply.bulk([]).isNull)
        #expect(RedisReply.error("ERR x").errorMessage == "ERR x")
        #expect(try RedisReply.integer(3).checked() == .integer(3))
        #expect(throws: RedisError.server(message: "ERR x")) { try RedisReply.error("ERR x").checked() }
    }
}

@Suite("Decision entries as JSON")
struct DecisionEntryJSONTests {
    @Test("the hand-written JSON decodes back to the same entry, escapes strings, and sorts its keys")
    func roundTrip() throws {
        let entry = DecisionEntry(
            decisionID: "id-\"1\"\\\n", userID: "user\u{1}é", time: 20_001.123456789, region: "na", policyVersion: "fnv1a64:0123",
            features: [1, -0.25, 1e-300, 12345.678, -0.0, 3, 1e300], plan: [4, 12, 40], chosen: 1, adPositions: [4, 17, 30],
            probability: 0.3333333333333333, propensity: "estimated:100", fallback: true, feedLength: 60, adLimit: 40,
            sessionID: "s-\"7\"", contextSchema: "fnv1a64:00112233aabbccdd")
        let text = entry.jsonText
        let decoded = try JSONDecoder().decode(DecisionEntry.self, from: Data(text.utf8))
        #expect(decoded == entry)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let reference = try JSONSerialization.jsonObject(with: encoder.encode(entry)) as? [String: Any]
        let ours = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(reference.map { $0.keys.sorted() } == ours.map { $0.keys.sorted() })
        let keyOrder = ["ad_limit", "ad_positions", "chosen", "context_schema", "decision_id", "fallback", "features", "feed_length", "plan",
                        "policy_version", "probability", "propensity", "region", "session_id", "time", "user_id"]
        let positions = keyOrder.compactMap { text.range(of: "\"\($0)\":")?.lowerBound }
        #expect(positions.count == keyOrder.count && positions == positions.sorted())
    }

    @Test("an entry needs its plan; one without session id and context schema decodes with neither")
    func entryFields() throws {
        let entry = #"{"ad_limit":40,"ad_positions":[4,17],"chosen":1,"decision_id":"d","fallback":false,"features":[1],"feed_length":30,"plan":[4,12,40],"policy_version":"v","probability":0.5,"propensity":"exact","region":"na","time":2.5,"user_id":"u"}"#
        let decoded = try JSONDecoder().decode(DecisionEntry.self, from: Data(entry.utf8))
        #expect(decoded.plan == [4, 12, 40] && decoded.chosen == 1)
        #expect(decoded.sessionID == nil && decoded.contextSchema == nil)
        let withoutPlan = entry.replacingOccurrences(of: #""plan":[4,12,40],"#, with: #""candidates":[[0,0,0],[4,12,40]],"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(DecisionEntry.self, from: Data(withoutPlan.utf8)) }
    }
}
