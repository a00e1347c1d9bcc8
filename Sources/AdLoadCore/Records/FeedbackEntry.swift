/// One event the feed server reports for a decision.
package struct FeedbackEvent: Sendable, Equatable, Hashable {
    package enum Kind: String, Sendable, CaseIterable {
        case impression, click, conversion, skip, hide, report, dwell
        case sessionEnd = "session_end"
    }

    package var kind: Kind
    /// 1-based feed position, where the event has one (impression, click, skip, hide, report, dwell).
    package var position: Int?
    /// Dwell seconds for `dwell`; session length (positions) for `session_end`.
    package var value: Double?

    package init(kind: Kind, position: Int? = nil, value: Double? = nil) {
        self.kind = kind
        self.position = position
        self.value = value
    }

    /// The identity used for idempotency: a repeated event with the same identity for the
    /// same decision is counted once.
    package var identity: String { "\(kind.rawValue):\(position.map(String.init) ?? "-")" }

    /// The feed positions an event may name (the service accepts the same range).
    package static let positions = 1...AdPlan.maxPosition
}

/// Feedback for one decision, as accepted by the service.
package struct FeedbackEntry: Sendable, Equatable {
    package var decisionID: String
    package var userID: String
    /// Event time, days since the epoch.
    package var time: Double
    package var events: [FeedbackEvent]
    /// When the session started (the decision's time, days since the epoch), which a
    /// `session_end` records as the user's last visit; `nil` when unknown, and then `time`
    /// stands in. The service reads it from the decision id, which carries it.
    package var sessionStart: Double?

    package init(decisionID: String, userID: String, time: Double, events: [FeedbackEvent], sessionStart: Double? = nil) {
        self.decisionID = decisionID
        self.userID = userID
        self.time = time
        self.events = events
        self.sessionStart = sessionStart
    }
}
