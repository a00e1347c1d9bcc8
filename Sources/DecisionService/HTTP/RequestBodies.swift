import AdLoadCore
import Foundation
import StateStore

/// Limits of request fields.
enum RequestLimits {
    /// Length of user and session ids, characters.
    static let idLength = 1...128
    /// Latest accepted timestamp: 2100-01-01T00:00:00Z, Unix seconds.
    static let timestamps = 0.0...4_102_444_800.0
    /// Largest event value (dwell seconds, session length, revenue).
    static let eventValues = 0.0...1_000_000.0
    /// At most this many ad formats, each at most `formatLength` characters.
    static let maxFormats = 32
    static let formatLength = 64
    /// Longest decision id worth checking.
    static let decisionIDLength = 1...128
    /// The user-info key carrying the most events a feedback request may hold.
    static let maxEventsKey = CodingUserInfoKey(rawValue: "adload.maxEvents")
    /// Events allowed when the decoder does not say (the configuration's default).
    static let defaultMaxEvents = 1000
}

/// The body of `POST /v1/decide`, read strictly.
struct DecideBody: Decodable {
    static let fields: Set<String> = [
        "user_id", "session_id", "region", "device", "hour", "feed_length", "tenure", "ad_formats", "timestamp",
    ]

    let request: DecisionRequest

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, allowed: Self.fields)
        // Required fields in the documented order, so the first problem reported is stable.
        let userID = try reader.string("user_id", required: true, length: RequestLimits.idLength) ?? ""
        let sessionID = try reader.string("session_id", required: true, length: RequestLimits.idLength) ?? ""
        let region = try reader.string("region", required: true) ?? ""
        let device = try reader.string("device", required: true) ?? ""
        let hour = try reader.integer("hour", required: true, in: 0...23) ?? 0
        let feedLength = try reader.integer("feed_length", required: true, in: 1...512) ?? 0
        let tenure = try reader.string("tenure", required: false)
        let formats = try reader.strings(
            "ad_formats", required: false, maxCount: RequestLimits.maxFormats, maxLength: RequestLimits.formatLength)
        let timestamp = try reader.number("timestamp", required: false, in: RequestLimits.timestamps)
        request = DecisionRequest(
            userID: userID, sessionID: sessionID, region: region, device: device, hour: hour, feedLength: feedLength,
            tenure: tenure, adFormats: formats, timestamp: timestamp)
    }
}

extension DecisionRequest {
    /// Reads a `POST /v1/decide` body with the strict decoder (the one the service falls
    /// back to when ``DecideBodyFastPath`` declines).
    /// - Throws: `RequestError` naming the field.
    static func decodeStrictly(_ body: [UInt8]) throws(RequestError) -> DecisionRequest {
        do {
            return try JSONDecoder().decode(DecideBody.self, from: Data(body)).request
        } catch {
            throw RequestError.undecodable(error)
        }
    }
}

/// The body of `POST /v1/feedback`, read strictly.
struct FeedbackBody: Decodable {
    static let fields: Set<String> = ["decision_id", "user_id", "events", "timestamp", "region"]

    let decisionID: String
    let userID: String
    let events: [FeedbackEvent]
    let timestamp: Double?
    /// The user's region, as in the decide request: required while pacing is on (its counters are per region).
    let region: String?

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, allowed: Self.fields)
        decisionID = try reader.string("decision_id", required: true, length: RequestLimits.decisionIDLength) ?? ""
        userID = try reader.string("user_id", required: true, length: RequestLimits.idLength) ?? ""
        let maxEvents = RequestLimits.maxEventsKey.flatMap { decoder.userInfo[$0] as? Int } ?? RequestLimits.defaultMaxEvents
        events = try reader.objects("events", FeedbackEventBody.self, count: 1...maxEvents).map(\.event)
        timestamp = try reader.number("timestamp", required: false, in: RequestLimits.timestamps)
        region = try reader.string("region", required: false, length: RequestLimits.idLength)
    }
}

/// One event of a feedback body.
///
/// `position` (1...512) is required for impression, click, skip, hide, report and dwell
/// (it is what makes a repeated event recognizable), optional for conversion and not
/// allowed for session_end. `value` (0...10⁶) is required for dwell (seconds) and optional
/// otherwise (session length for session_end, revenue for impressions, clicks and conversions).
struct FeedbackEventBody: Decodable {
    static let fields: Set<String> = ["type", "position", "value"]

    let event: FeedbackEvent

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, allowed: Self.fields)
        let type = try reader.string("type", required: true) ?? ""
        guard let kind = FeedbackEvent.Kind(rawValue: type) else {
            throw RequestError.invalid(
                reader.path("type"),
                "unknown event type \(JSONText.quoted(type)), expected one of \(FeedbackEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let position = try reader.integer("position", required: false, in: FeedbackEvent.positions)
        let value = try reader.number("value", required: false, in: RequestLimits.eventValues)
        switch kind {
        case .impression, .click, .skip, .hide, .report, .dwell:
            if position == nil { throw RequestError.invalid(reader.path("position"), "is required for \(type) events") }
        case .sessionEnd:
            if position != nil { throw RequestError.invalid(reader.path("position"), "is not allowed for session_end events") }
        case .conversion:
            break
        }
        if kind == .dwell && value == nil {
            throw RequestError.invalid(reader.path("value"), "is required for dwell events (seconds)")
        }
        event = FeedbackEvent(kind: kind, position: position, value: value)
    }
}
