import AdLoadCore
import Foundation

extension LiveStore {
    /// Ignores `timeout` (see the requirement).
    package func userRecord(userID: String, day: Int, timeout: Duration) async throws(StoreError) -> UserRecord? {
        try await userRecord(userID: userID, day: day)
    }

    /// `false`: callers time calls out themselves.
    package var honoursTimeouts: Bool { false }

    /// One store is one failure domain: 0 for every user.
    package func failureDomain(ofUser userID: String) -> Int { 0 }

    /// One stream per name: `nil` for every user.
    package func streamShard(ofUser userID: String) -> Int? { nil }
}

extension FeedbackEvent {
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

/// What applying feedback did.
package struct FeedbackOutcome: Sendable, Equatable {
    /// Events counted now (those not seen before for this decision).
    package var newEvents: Int
    /// Events ignored because this decision already had them.
    package var duplicateEvents: Int
    /// The events counted now, in request order (what pacing counters add).
    package var counted: [FeedbackEvent]
    /// Set when the events are counted but their stream entry could not be written yet
    /// (Redis Cluster: the stream shard's master failed; the entry waits in the user's
    /// outbox). The caller counts what was counted, then answers as a failure so the client
    /// retries: the retry counts nothing again and writes the entry.
    package var notStreamed: StoreError?

    package init(newEvents: Int, duplicateEvents: Int, counted: [FeedbackEvent] = [], notStreamed: StoreError? = nil) {
        self.newEvents = newEvents
        self.duplicateEvents = duplicateEvents
        self.counted = counted
        self.notStreamed = notStreamed
    }
}

/// What a conditional policy publication did.
package enum PublishOutcome: Sendable, Equatable {
    /// The blob is stored and its version is active.
    case published
    /// Nothing was written: the active version was this one (`nil`: none), not the expected one.
    case activeChanged(String?)
}

/// The two streams learners read.
package enum StreamName: String, Sendable, CaseIterable {
    case decisions = "adload:decisions"
    case feedback = "adload:feedback"
}

/// How decisions are laid out in the decision stream: each entry's field `d` holds up to
/// ``decisionsPerEntry`` decisions as JSON (``DecisionEntry/jsonBytes``), one per line.
///
/// One entry per write rather than per decision: a Redis command per decision cost about a
/// tenth of the service's decide throughput (docs/reliability.md). Entries written before
/// 2026-12-05 hold one decision, which reads the same way.
package enum DecisionStreamFormat {
    /// Most decisions in one entry (a write of more makes several entries).
    package static let decisionsPerEntry = 16

    /// The `d` field of one entry: `decisions`' JSON, newline-separated (JSON strings escape
    /// newlines, so a line is one decision).
    package static func field(_ decisions: some Collection<DecisionEntry>) -> [UInt8] {
        var bytes: [UInt8] = []
        for decision in decisions {
            if !bytes.isEmpty { bytes.append(UInt8(ascii: "\n")) }
            bytes += decision.jsonBytes
        }
        return bytes
    }

    /// The JSON texts of the decisions in a `d` field, in order.
    package static func decisions(inField text: String) -> [Substring] {
        text.split(separator: "\n")
    }
}

/// One entry read from a stream: its id and its fields.
package struct StreamEntry: Sendable, Equatable {
    package var id: String
    package var fields: [String: String]

    package init(id: String, fields: [String: String]) {
        self.id = id
        self.fields = fields
    }
}

/// A store operation that failed; the service answers from its fallback, or 503.
package enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The store cannot be reached (connection refused, broken, circuit open).
    case unavailable(String)
    /// The store did not answer in time.
    case timeout
    /// The store answered with an error or data this code cannot read.
    case failed(String)

    package var description: String {
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
package protocol LiveStore: Sendable {
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

    /// Which part of the store the user's state lives on, so that a caller can keep one
    /// circuit breaker per part: 0 for a store that fails as a whole (the default, one
    /// Redis); on Redis Cluster, 1 + the index of the node that owns the user's slot (0 while
    /// the slot map is unknown).
    func failureDomain(ofUser userID: String) -> Int

    /// Which shard of the streams holds the user's decisions and feedback, when the streams
    /// are sharded (Redis Cluster); `nil` for one stream per name (the default). A writer
    /// that keeps one batch per shard sees a shard's failure hold back only that shard.
    func streamShard(ofUser userID: String) -> Int?

    /// Appends decisions to the decision stream, in order, ``DecisionStreamFormat/decisionsPerEntry``
    /// to an entry at most (decisions of different shards never share one). A call that
    /// fails may have written some of them (another shard's, or a pipeline cut short); its
    /// retry writes those again, and readers count a decision id once.
    func recordDecisions(_ entries: [DecisionEntry]) async throws(StoreError)

    /// Applies feedback to the user's record atomically and idempotently (an event already
    /// counted for this decision is ignored), then appends the new events to the feedback stream.
    /// Only returns once the store has it, or with ``FeedbackOutcome/notStreamed`` set when it
    /// counted the events but could not stream them yet.
    func applyFeedback(_ entry: FeedbackEntry) async throws(StoreError) -> FeedbackOutcome

    /// The active policy version in the registry, if any.
    func activePolicyVersion() async throws(StoreError) -> String?
    /// A policy blob by version.
    func policyBlob(version: String) async throws(StoreError) -> Data?
    /// Makes `version` active only if the active version is still `expected` (`nil`: none),
    /// storing `blob` under it first when given (`nil`: the registry must hold that version
    /// already, as for a rollback), and appends `event` to the registry history, all in one
    /// atomic update. A learner publishes this way so it never replaces a version someone
    /// else made active since it last looked; promotion and rollback do too.
    /// - Throws: ``StoreError/failed(_:)`` when `blob` is `nil` and the registry has no such version.
    func publishPolicy(version: String, blob: Data?, ifActive expected: String?, event: RegistryEvent) async throws(StoreError) -> PublishOutcome
    /// The registry history (``RegistryEvent``), newest first, at most `limit` events.
    func policyHistory(limit: Int) async throws(StoreError) -> [RegistryEvent]
    /// Every version the registry holds a blob for, sorted.
    func policyVersions() async throws(StoreError) -> [String]

    /// The newest `count` entries of `stream` with ids before `before` (`nil`: the newest of
    /// all), oldest first (a read outside any consumer group).
    func latestEntries(_ stream: StreamName, before: String?, count: Int) async throws(StoreError) -> [StreamEntry]
    /// At most `count` entries of `stream` with ids after `after` ("0" for the first page),
    /// oldest first (a read outside any consumer group).
    func entries(_ stream: StreamName, after: String, count: Int) async throws(StoreError) -> [StreamEntry]

    /// Reads new entries of `stream` for a consumer group (creating the group at the
    /// stream's start if needed), waiting up to `block` for some to arrive.
    func readStream(
        _ stream: StreamName, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry]
    /// Entries delivered to `consumer` but not yet acknowledged (after a restart), oldest
    /// first (shard by shard on sharded streams), at most `count` of them after `after`
    /// ("0" for the first page, else the last id of the previous page).
    func pendingEntries(_ stream: StreamName, group: String, consumer: String, count: Int, after: String) async throws(StoreError) -> [StreamEntry]
    /// Acknowledges processed entries.
    func acknowledge(_ stream: StreamName, group: String, ids: [String]) async throws(StoreError)

    /// Round trip check (for readiness).
    func ping() async throws(StoreError)
}
