import AdLoadCore
import Foundation

/// What the decision service keeps per user, as read on the decide path.
///
/// The counts are exponentially decayed sums (time constants 7, 30 and 90 days, the same
/// definitions as `AdLoadCore.BehaviourHistory`) as of `lastUpdate`; times are in days
/// since the Unix epoch.
public struct UserRecord: Sendable, Equatable {
    /// Start of the user's last session (days since the epoch), or `nil` for a new user.
    public var lastVisit: Double?
    /// Time the decayed counts are as of.
    public var lastUpdate: Double?
    /// 7-day decayed counts: sessions, items, ads, clicks, negatives.
    public var week: [Double]
    /// 30-day decayed counts: sessions, items, ads, clicks, negatives.
    public var month: [Double]
    /// Exponential moving average of organic dwell per item, seconds.
    public var recentDwell: Double
    public var totalSessions: Int
    /// 90-day decayed ad reactions: ads (impressions), and adverse reactions (hide, report
    /// and skip events, plus one per session whose last position held a counted impression).
    /// What `AdLoadCore.BehaviourHistory/adAversion` is computed from.
    public var adReactions: [Double]
    /// Ad impressions counted today (the daily-cap counter).
    public var adsToday: Int

    public init(
        lastVisit: Double? = nil, lastUpdate: Double? = nil, week: [Double] = Array(repeating: 0, count: 5),
        month: [Double] = Array(repeating: 0, count: 5), recentDwell: Double = 0, totalSessions: Int = 0,
        adReactions: [Double] = [0, 0], adsToday: Int = 0
    ) {
        self.lastVisit = lastVisit
        self.lastUpdate = lastUpdate
        self.week = week
        self.month = month
        self.recentDwell = recentDwell
        self.totalSessions = totalSessions
        self.adReactions = adReactions
        self.adsToday = adsToday
    }

    /// A user never seen.
    public static let new = UserRecord()
}

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

    /// Refuses an event naming a position outside ``positions``; both stores check every
    /// event of a feedback call before counting any, so they accept and refuse the same feedback.
    /// - Throws: ``StoreError/failed(_:)`` naming the decision, the event and the position.
    static func checkPosition(_ event: FeedbackEvent, index: Int, decisionID: String) throws(StoreError) {
        if let position = event.position, !positions.contains(position) {
            throw .failed(
                "feedback for decision \(decisionID): event \(index + 1) (\(event.kind.rawValue)) has position \(position), outside \(positions.lowerBound)...\(positions.upperBound)")
        }
    }
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

extension LiveStore {
    /// Ignores `timeout` (see the requirement).
    public func userRecord(userID: String, day: Int, timeout: Duration) async throws(StoreError) -> UserRecord? {
        try await userRecord(userID: userID, day: day)
    }

    /// `false`: callers time calls out themselves.
    public var honoursTimeouts: Bool { false }
}

/// What applying feedback did.
public struct FeedbackOutcome: Sendable, Equatable {
    /// Events counted now (those not seen before for this decision).
    public var newEvents: Int
    /// Events ignored because this decision already had them.
    public var duplicateEvents: Int

    public init(newEvents: Int, duplicateEvents: Int) {
        self.newEvents = newEvents
        self.duplicateEvents = duplicateEvents
    }
}

/// A decision as appended to the decision stream (JSON in the stream entry's `d` field).
///
/// The valid plans offered are not stored: they are a function of the policy version's
/// plan family, the region's rules, `feed_length` and `ad_limit`
/// (`PlanCatalog.candidates`), and `chosen` indexes that list. Entries written before
/// this field existed carried the whole list as `candidates`; they still decode, with
/// `plan` taken from the chosen candidate.
public struct DecisionEntry: Sendable, Equatable, Codable {
    public var decisionID: String
    public var userID: String
    /// Decision time, days since the epoch.
    public var time: Double
    public var region: String
    public var policyVersion: String
    /// Context features c.
    public var features: [Double]
    /// The chosen plan family member as [first, every, max].
    public var plan: [Int]
    /// Index of the chosen plan among the valid plans for (region, feed length, ad limit).
    public var chosen: Int
    public var adPositions: [Int]
    public var probability: Double
    /// "exact" or "estimated:N".
    public var propensity: String
    public var fallback: Bool
    public var feedLength: Int
    public var adLimit: Int
    /// The feed server's session id from the decide request; `nil` in entries written
    /// before it was logged.
    public var sessionID: String?
    /// `FeatureSchema.contextFingerprint` of the layout of `features`; `nil` in entries
    /// written before it was logged (the standard history features).
    public var contextSchema: String?

    enum CodingKeys: String, CodingKey {
        case contextSchema = "context_schema"
        case time, region, features, plan, candidates, chosen, probability, propensity, fallback
        case decisionID = "decision_id", userID = "user_id", policyVersion = "policy_version", sessionID = "session_id"
        case adPositions = "ad_positions", feedLength = "feed_length", adLimit = "ad_limit"
    }

    public init(
        decisionID: String, userID: String, time: Double, region: String, policyVersion: String, features: [Double],
        plan: [Int], chosen: Int, adPositions: [Int], probability: Double, propensity: String, fallback: Bool,
        feedLength: Int, adLimit: Int, sessionID: String? = nil, contextSchema: String? = nil
    ) {
        self.sessionID = sessionID
        self.contextSchema = contextSchema
        self.decisionID = decisionID
        self.userID = userID
        self.time = time
        self.region = region
        self.policyVersion = policyVersion
        self.features = features
        self.plan = plan
        self.chosen = chosen
        self.adPositions = adPositions
        self.probability = probability
        self.propensity = propensity
        self.fallback = fallback
        self.feedLength = feedLength
        self.adLimit = adLimit
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        decisionID = try container.decode(String.self, forKey: .decisionID)
        userID = try container.decode(String.self, forKey: .userID)
        time = try container.decode(Double.self, forKey: .time)
        region = try container.decode(String.self, forKey: .region)
        policyVersion = try container.decode(String.self, forKey: .policyVersion)
        features = try container.decode([Double].self, forKey: .features)
        chosen = try container.decode(Int.self, forKey: .chosen)
        if let plan = try container.decodeIfPresent([Int].self, forKey: .plan) {
            self.plan = plan
        } else {
            let candidates = try container.decode([[Int]].self, forKey: .candidates)
            guard candidates.indices.contains(chosen) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .chosen, in: container, debugDescription: "chosen \(chosen) is not an index of the \(candidates.count) candidates")
            }
            plan = candidates[chosen]
        }
        adPositions = try container.decode([Int].self, forKey: .adPositions)
        probability = try container.decode(Double.self, forKey: .probability)
        propensity = try container.decode(String.self, forKey: .propensity)
        fallback = try container.decode(Bool.self, forKey: .fallback)
        feedLength = try container.decode(Int.self, forKey: .feedLength)
        adLimit = try container.decode(Int.self, forKey: .adLimit)
        sessionID = try container.decodeIfPresent(String.self, forKey: .sessionID)
        contextSchema = try container.decodeIfPresent(String.self, forKey: .contextSchema)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(decisionID, forKey: .decisionID)
        try container.encode(userID, forKey: .userID)
        try container.encode(time, forKey: .time)
        try container.encode(region, forKey: .region)
        try container.encode(policyVersion, forKey: .policyVersion)
        try container.encode(features, forKey: .features)
        try container.encode(plan, forKey: .plan)
        try container.encode(chosen, forKey: .chosen)
        try container.encode(adPositions, forKey: .adPositions)
        try container.encode(probability, forKey: .probability)
        try container.encode(propensity, forKey: .propensity)
        try container.encode(fallback, forKey: .fallback)
        try container.encode(feedLength, forKey: .feedLength)
        try container.encode(adLimit, forKey: .adLimit)
        try container.encodeIfPresent(sessionID, forKey: .sessionID)
        try container.encodeIfPresent(contextSchema, forKey: .contextSchema)
    }
}

/// What a conditional policy publication did.
public enum PublishOutcome: Sendable, Equatable {
    /// The blob is stored and its version is active.
    case published
    /// Nothing was written: the active version was this one (`nil`: none), not the expected one.
    case activeChanged(String?)
}

/// The two streams learners read.
public enum StreamName: String, Sendable, CaseIterable {
    case decisions = "adload:decisions"
    case feedback = "adload:feedback"
}

/// One entry read from a stream: its id and its fields.
public struct StreamEntry: Sendable, Equatable {
    public var id: String
    public var fields: [String: String]

    public init(id: String, fields: [String: String]) {
        self.id = id
        self.fields = fields
    }
}

/// A store operation that failed; the service answers from its fallback, or 503.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The store cannot be reached (connection refused, broken, circuit open).
    case unavailable(String)
    /// The store did not answer in time.
    case timeout
    /// The store answered with an error or data this code cannot read.
    case failed(String)

    public var description: String {
        switch self {
        case let .unavailable(reason): "state store unavailable: \(reason)"
        case .timeout: "state store timed out"
        case let .failed(reason): "state store error: \(reason)"
        }
    }
}

/// The live state behind the decision service: per-user records, the decision and
/// feedback streams, and the policy registry. Two implementations: Redis (production,
/// `RedisLiveStore`) and in memory (`InMemoryLiveStore`, for unit tests and as the
/// reference semantics the Redis scripts must match).
public protocol LiveStore: Sendable {
    /// The user's record and today's ad count, in one round trip; `nil` for a user never seen.
    /// - Parameter day: the calendar day (days since the epoch, rounded down) of the daily counter.
    func userRecord(userID: String, day: Int) async throws(StoreError) -> UserRecord?

    /// ``userRecord(userID:day:)`` with a deadline: when ``honoursTimeouts`` is true, the
    /// call fails with ``StoreError/timeout`` once `timeout` has passed, so the caller needs
    /// no timer of its own. The default ignores `timeout`.
    func userRecord(userID: String, day: Int, timeout: Duration) async throws(StoreError) -> UserRecord?

    /// Whether ``userRecord(userID:day:timeout:)`` enforces its deadline itself (the Redis
    /// store does, through its client's deadline thread); `false` by default.
    var honoursTimeouts: Bool { get }

    /// Appends decisions to the decision stream, in order.
    func recordDecisions(_ entries: [DecisionEntry]) async throws(StoreError)

    /// Applies feedback to the user's record atomically and idempotently (an event already
    /// counted for this decision is ignored), then appends the new events to the feedback stream.
    /// Only returns once the store has it.
    func applyFeedback(_ entry: FeedbackEntry) async throws(StoreError) -> FeedbackOutcome

    /// The active policy version in the registry, if any.
    func activePolicyVersion() async throws(StoreError) -> String?
    /// A policy blob by version.
    func policyBlob(version: String) async throws(StoreError) -> Data?
    /// Stores a policy blob and makes it the active version (blob first, then the pointer).
    func publishPolicy(version: String, blob: Data) async throws(StoreError)
    /// Stores a policy blob and makes it the active version only if the active version is
    /// still `expected` (`nil`: none), atomically; a learner publishes this way so it never
    /// replaces a version someone else made active since it last looked.
    func publishPolicy(version: String, blob: Data, ifActive expected: String?) async throws(StoreError) -> PublishOutcome

    /// Reads new entries of `stream` for a consumer group (creating the group at the
    /// stream's start if needed), waiting up to `block` for some to arrive.
    func readStream(
        _ stream: StreamName, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry]
    /// Entries delivered to `consumer` but not yet acknowledged (after a restart), oldest
    /// first, at most `count` of them with ids after `after` ("0" for the first page).
    func pendingEntries(_ stream: StreamName, group: String, consumer: String, count: Int, after: String) async throws(StoreError) -> [StreamEntry]
    /// Acknowledges processed entries.
    func acknowledge(_ stream: StreamName, group: String, ids: [String]) async throws(StoreError)

    /// Round trip check (for readiness).
    func ping() async throws(StoreError)
}
