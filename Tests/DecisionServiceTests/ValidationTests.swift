@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Testing

/// One malformed request and the answer it must get.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let route: String
    let body: String
    let status: Int
    let field: String

    var testDescription: String { name }
}

let validEvent = #"{"type": "impression", "position": 3}"#

func feedbackBody(events: String, extra: String = "") -> String {
    #"{"decision_id": "abc-def-0123456789abcdef", "user_id": "u1", "events": "# + events + extra + "}"
}

let malformedCases: [MalformedCase] = [
    MalformedCase(name: "bad JSON", route: "/v1/decide", body: #"{"user_id": "u1", "#, status: 400, field: "body"),
    MalformedCase(name: "empty body", route: "/v1/decide", body: "", status: 400, field: "body"),
    MalformedCase(name: "not an object", route: "/v1/decide", body: "[1, 2]", status: 400, field: "body"),
    MalformedCase(name: "wrong type (string hour)", route: "/v1/decide", body: decideBody(extra: "").replacingOccurrences(of: "\"hour\": 20", with: "\"hour\": \"20\""), status: 400, field: "hour"),
    MalformedCase(name: "wrong type (fractional hour)", route: "/v1/decide", body: decideBody(extra: "").replacingOccurrences(of: "\"hour\": 20", with: "\"hour\": 3.5"), status: 400, field: "hour"),
    MalformedCase(name: "wrong type (numeric user id)", route: "/v1/decide", body: decideBody(user: "x").replacingOccurrences(of: "\"user_id\": \"x\"", with: "\"user_id\": 7"), status: 400, field: "user_id"),
    MalformedCase(name: "unknown field", route: "/v1/decide", body: decideBody(extra: #""colour": "red""#), status: 400, field: "colour"),
    MalformedCase(name: "missing field", route: "/v1/decide", body: decideBody(extra: "").replacingOccurrences(of: "\"region\": \"na\", ", with: ""), status: 400, field: "region"),
    MalformedCase(name: "null field", route: "/v1/decide", body: decideBody(extra: "").replacingOccurrences(of: "\"region\": \"na\"", with: "\"region\": null"), status: 400, field: "region"),
    MalformedCase(name: "negative feed_length", route: "/v1/decide", body: decideBody(feedLength: -1), status: 422, field: "feed_length"),
    MalformedCase(name: "feed_length 10000", route: "/v1/decide", body: decideBody(feedLength: 10_000), status: 422, field: "feed_length"),
    MalformedCase(name: "feed_length 1e300", route: "/v1/decide", body: decideBody(extra: "").replacingOccurrences(of: "\"feed_length\": 50", with: "\"feed_length\": 1e300"), status: 422, field: "feed_length"),
    MalformedCase(name: "hour 24", route: "/v1/decide", body: decideBody(hour: 24), status: 422, field: "hour"),
    MalformedCase(name: "negative timestamp", route: "/v1/decide", body: decideBody(timestamp: -5), status: 422, field: "timestamp"),
    MalformedCase(name: "unknown region", route: "/v1/decide", body: decideBody(region: "mars"), status: 422, field: "region"),
    MalformedCase(name: "unknown device", route: "/v1/decide", body: decideBody(device: "toaster"), status: 422, field: "device"),
    MalformedCase(name: "unknown tenure", route: "/v1/decide", body: decideBody(extra: #""tenure": "ancient""#), status: 422, field: "tenure"),
    MalformedCase(name: "empty user id", route: "/v1/decide", body: decideBody(user: ""), status: 422, field: "user_id"),
    MalformedCase(name: "user id of 129 characters", route: "/v1/decide", body: decideBody(user: String(repeating: "u", count: 129)), status: 422, field: "user_id"),
    MalformedCase(name: "ad_formats not strings", route: "/v1/decide", body: decideBody(extra: #""ad_formats": [1, 2]"#), status: 400, field: "ad_formats"),
    MalformedCase(name: "huge decide body", route: "/v1/decide", body: decideBody(extra: #""tenure": ""# + String(repeating: "x", count: 70_000) + "\""), status: 413, field: "body"),
    MalformedCase(name: "unknown event type", route: "/v1/feedback", body: feedbackBody(events: #"[{"type": "purchase"}]"#), status: 422, field: "events[0].type"),
    MalformedCase(name: "unknown event type (second event)", route: "/v1/feedback", body: feedbackBody(events: "[\(validEvent), {\"type\": \"like\", \"position\": 1}]"), status: 422, field: "events[1].type"),
    MalformedCase(name: "too many events", route: "/v1/feedback", body: feedbackBody(events: "[" + Array(repeating: #"{"type":"session_end"}"#, count: 1001).joined(separator: ",") + "]"), status: 422, field: "events"),
    MalformedCase(name: "no events", route: "/v1/feedback", body: feedbackBody(events: "[]"), status: 422, field: "events"),
    MalformedCase(name: "events not an array", route: "/v1/feedback", body: feedbackBody(events: "{}"), status: 400, field: "events"),
    MalformedCase(name: "event not an object", route: "/v1/feedback", body: feedbackBody(events: "[3]"), status: 400, field: "events[0]"),
    MalformedCase(name: "unknown event field", route: "/v1/feedback", body: feedbackBody(events: #"[{"type": "click", "position": 1, "colour": 1}]"#), status: 400, field: "events[0].colour"),
    MalformedCase(name: "position 0", route: "/v1/feedback", body: feedbackBody(events: #"[{"type": "click", "position": 0}]"#), status: 422, field: "events[0].position"),
    MalformedCase(name: "missing position", route: "/v1/feedback", body: feedbackBody(events: #"[{"type": "click"}]"#), status: 422, field: "events[0].position"),
    MalformedCase(name: "negative value", route: "/v1/feedback", body: feedbackBody(events: #"[{"type": "dwell", "position": 2, "value": -1}]"#), status: 422, field: "events[0].value"),
    MalformedCase(name: "dwell without value", route: "/v1/feedback", body: feedbackBody(events: #"[{"type": "dwell", "position": 2}]"#), status: 422, field: "events[0].value"),
    MalformedCase(name: "missing decision id", route: "/v1/feedback", body: #"{"user_id": "u1", "events": [\#(validEvent)]}"#, status: 400, field: "decision_id"),
    MalformedCase(name: "unknown feedback field", route: "/v1/feedback", body: feedbackBody(events: "[\(validEvent)]", extra: #", "session": 1"#), status: 400, field: "session"),
    MalformedCase(name: "huge feedback body", route: "/v1/feedback", body: feedbackBody(events: "[" + Array(repeating: validEvent, count: 2000).joined(separator: ",") + "]"), status: 413, field: "body"),
]

@Suite("Validation")
struct ValidationTests {
    @Test("malformed requests get a 4xx naming the field", arguments: malformedCases)
    func malformed(_ malformed: MalformedCase) async throws {
        let store = CountingStore()
        let server = try Fixtures.server(store: store)
        try await buildApplication(server: server).test(.router) { client in
            let response = try await client.execute(
                uri: malformed.route, method: .post, headers: [.contentType: "application/json"], body: body(malformed.body))
            #expect(response.status.code == malformed.status, "\(response.text)")
            let answer = try response.decode(ErrorAnswer.self)
            #expect(answer.error.field == malformed.field, "\(answer.error.message)")
            #expect(!answer.error.message.isEmpty)
        }
        #expect(store.userRecordCalls.load(ordering: .relaxed) == 0, "an invalid request never reaches the store")
        #expect(store.feedbackCalls.load(ordering: .relaxed) == 0)
    }
}
