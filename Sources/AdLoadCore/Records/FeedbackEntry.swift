/// One event the feed server reports for a decision.
public struct FeedbackEvent: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case impression, click, conversion, skip, hide, report, dwell
        case sessionEnd = "session_end"
    }

    public var kind: Kind
    /// 1-based feed position, where the event has one (impression, click, skip, hide, report, dwell).
    public var position: Int?
    /// Dwell seconds for `dwell`; session length (positions) for `session_end`.
    public var value: Double?

    public init(kind: Kind, position: Int? = nil, value: Double? = nil) {
        self.kind = kind
        self.position = position
        self.value = value
    }

    /// The identity used for idempotency: a repeated event with the same identity for the
    /// same decision is counted once.
    public var identity: String { "\(kind.rawValue):\(position.map(String.init) ?? "-")" }

    /// The feed positions an event may name (the service accepts the same range).
    public static let positions = 1...AdPlan.maxPosition
}

/// Feedback for one decision, as accepted by the service.
public struct FeedbackEntry: Sendable, Equatable {
    public var decisionID: String
    public var userID: String
    /// Event time, days since the epoch.
    public var time: Double
    public var events: [FeedbackEvent]
    /// When the session started (the decision's time, days since the epoch), which a
    /// `session_end` records as the user's last visit; `nil` when unknown, and then `time`
    /// stands in. The service reads it from the decision id, which carries it.
    public var sessionStart: Double?

    public init(decisionID: String, userID: String, time: Double, events: [FeedbackEvent], sessionStart: Double? = nil) {
        self.decisionID = decisionID
        self.userID = userID
        self.time = time
        self.events = events
        self.sessionStart = sessionStart
    }
}
