import AdLoadCore
import Foundation
import Synchronization

/// A ``LiveStore`` in process memory: the reference semantics of the Redis store, used by
/// unit tests and by `adload serve --memory`. Nothing survives the process.
final class InMemoryLiveStore: LiveStore {
    struct Group {
        var nextIndex = 0
        /// Delivered but not acknowledged, by consumer: entry indices.
        var pending: [String: [Int]] = [:]
    }

    struct State {
        var users: [String: UserRecord] = [:]
        var dailyAds: [String: Int] = [:]
        var seenEvents: Set<String> = []
        /// Length of each decision's first counted session end (0 when not a whole position).
        var sessionLengths: [String: Int] = [:]
        var streams: [StreamName: [StreamEntry]] = [:]
        var groups: [String: Group] = [:]
        var sequence = 0
        var activeVersion: String?
        var blobs: [String: Data] = [:]
        /// Registry events as JSON, newest first.
        var history: [String] = []
        var unavailable = false
        var loseNextPublishAnswer = false
        var pacing = PacingMemory()
    }

    let state = Mutex(State())

    init() {}

    /// Makes every operation fail with ``StoreError/unavailable(_:)`` (to test fallbacks).
    func setUnavailable(_ unavailable: Bool) {
        state.withLock { $0.unavailable = unavailable }
    }

    /// Makes the next conditional publication happen but fail with ``StoreError/timeout``, as
    /// a Redis write whose reply was lost (to test that learners recover from it).
    func loseNextPublishAnswer() {
        state.withLock { $0.loseNextPublishAnswer = true }
    }

    func checkAvailable(_ state: State) throws(StoreError) {
        if state.unavailable { throw .unavailable("in-memory store switched off") }
    }

    func userRecord(userID: String, day: Int) async throws(StoreError) -> UserRecord? {
        try state.withLock { (state: inout State) throws(StoreError) -> UserRecord? in
            try checkAvailable(state)
            guard var record = state.users[userID] else { return nil }
            record.adsToday = state.dailyAds["\(userID):\(day)"] ?? 0
            return record
        }
    }

    func recordDecisions(_ entries: [DecisionEntry]) async throws(StoreError) {
        let perEntry = DecisionStreamFormat.decisionsPerEntry
        let fields = stride(from: 0, to: entries.count, by: perEntry).map {
            String(decoding: DecisionStreamFormat.field(entries[$0..<min(entries.count, $0 + perEntry)]), as: UTF8.self)
        }
        try state.withLock { (state: inout State) throws(StoreError) in
            try checkAvailable(state)
            for text in fields {
                append(&state, .decisions, ["d": text])
            }
        }
    }

    func append(_ state: inout State, _ stream: StreamName, _ fields: [String: String]) {
        state.sequence += 1
        state.streams[stream, default: []].append(StreamEntry(id: "0-\(state.sequence)", fields: fields))
    }

    func applyFeedback(_ entry: FeedbackEntry) async throws(StoreError) -> FeedbackOutcome {
        for (index, event) in entry.events.enumerated() {
            try FeedbackEvent.checkPosition(event, index: index, decisionID: entry.decisionID)
        }
        return try state.withLock { (state: inout State) throws(StoreError) -> FeedbackOutcome in
            try checkAvailable(state)
            var fresh: [FeedbackEvent] = []
            for event in entry.events {
                let key = "\(entry.decisionID)|\(event.identity)"
                if state.seenEvents.insert(key).inserted { fresh.append(event) }
            }
            if !fresh.isEmpty {
                var record = state.users[entry.userID] ?? .new
                let day = Int(entry.time.rounded(.down))
                record.adsToday = state.dailyAds["\(entry.userID):\(day)"] ?? 0
                var endedOnAd = false
                if let length = state.sessionLengths[entry.decisionID] {
                    endedOnAd = length > 0 && fresh.contains { $0.kind == .impression && $0.position == length }
                } else if let end = fresh.first(where: { $0.kind == .sessionEnd }) {
                    let length = UserRecord.sessionLength(end.value)
                    state.sessionLengths[entry.decisionID] = length
                    endedOnAd = length > 0 && state.seenEvents.contains("\(entry.decisionID)|impression:\(length)")
                }
                record.apply(fresh, at: entry.time, sessionStart: entry.sessionStart ?? entry.time, endedOnAd: endedOnAd)
                state.dailyAds["\(entry.userID):\(day)"] = record.adsToday
                state.users[entry.userID] = record
                let events = fresh.map { event -> String in
                    "\(event.kind.rawValue):\(event.position.map(String.init) ?? ""):\(event.value.map { "\($0)" } ?? "")"
                }
                append(&state, .feedback, [
                    "decision_id": entry.decisionID, "user_id": entry.userID, "time": "\(entry.time)",
                    "events": events.joined(separator: ","),
                ])
            }
            return FeedbackOutcome(newEvents: fresh.count, duplicateEvents: entry.events.count - fresh.count, counted: fresh)
        }
    }

    func activePolicyVersion() async throws(StoreError) -> String? {
        try state.withLock { (state: inout State) throws(StoreError) -> String? in
            try checkAvailable(state)
            return state.activeVersion
        }
    }

    func policyBlob(version: String) async throws(StoreError) -> Data? {
        try state.withLock { (state: inout State) throws(StoreError) -> Data? in
            try checkAvailable(state)
            return state.blobs[version]
        }
    }

    func publishPolicy(version: String, blob: Data?, ifActive expected: String?, event: RegistryEvent) async throws(StoreError) -> PublishOutcome {
        guard !version.isEmpty, expected?.isEmpty != true else { throw .failed("policy versions must not be empty") }
        return try state.withLock { (state: inout State) throws(StoreError) -> PublishOutcome in
            try checkAvailable(state)
            guard state.activeVersion == expected else { return .activeChanged(state.activeVersion) }
            if let blob {
                state.blobs[version] = blob
            } else if state.blobs[version] == nil {
                throw .failed("the registry has no policy version \(version)")
            }
            state.activeVersion = version
            state.history.insert(event.json, at: 0)
            if state.history.count > RegistryEvent.historyLimit { state.history.removeLast() }
            if state.loseNextPublishAnswer {
                state.loseNextPublishAnswer = false
                throw .timeout
            }
            return .published
        }
    }

    func policyHistory(limit: Int) async throws(StoreError) -> [RegistryEvent] {
        let texts = try state.withLock { (state: inout State) throws(StoreError) -> [String] in
            try checkAvailable(state)
            return Array(state.history.prefix(max(0, limit)))
        }
        var events: [RegistryEvent] = []
        for text in texts { events.append(try RegistryEvent(json: text)) }
        return events
    }

    func policyVersions() async throws(StoreError) -> [String] {
        try state.withLock { (state: inout State) throws(StoreError) -> [String] in
            try checkAvailable(state)
            return state.blobs.keys.sorted()
        }
    }

    func latestEntries(_ stream: StreamName, before: String?, count: Int) async throws(StoreError) -> [StreamEntry] {
        try state.withLock { (state: inout State) throws(StoreError) -> [StreamEntry] in
            try checkAvailable(state)
            let end = before.map(Self.sequence(of:)) ?? Int.max
            return Array((state.streams[stream] ?? []).filter { Self.sequence(of: $0.id) < end }.suffix(max(0, count)))
        }
    }

    func entries(_ stream: StreamName, after: String, count: Int) async throws(StoreError) -> [StreamEntry] {
        try state.withLock { (state: inout State) throws(StoreError) -> [StreamEntry] in
            try checkAvailable(state)
            let start = Self.sequence(of: after)
            return Array((state.streams[stream] ?? []).lazy.filter { Self.sequence(of: $0.id) > start }.prefix(max(0, count)))
        }
    }

    /// The sequence number of an id "0-<sequence>" (ids compare by it, as Redis compares ids).
    static func sequence(of id: String) -> Int { Int(id.split(separator: "-").last ?? "") ?? 0 }

    func readStream(
        _ stream: StreamName, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry] {
        let entries = try take(stream, group: group, consumer: consumer, count: count)
        if entries.isEmpty && block > .zero {
            try? await Task.sleep(for: min(block, .milliseconds(50)))
            return try take(stream, group: group, consumer: consumer, count: count)
        }
        return entries
    }

    func take(_ stream: StreamName, group: String, consumer: String, count: Int) throws(StoreError) -> [StreamEntry] {
        try state.withLock { (state: inout State) throws(StoreError) -> [StreamEntry] in
            try checkAvailable(state)
            let key = "\(stream.rawValue)|\(group)"
            var groupState = state.groups[key] ?? Group()
            let all = state.streams[stream] ?? []
            let end = min(all.count, groupState.nextIndex + max(0, count))
            let indices = Array(groupState.nextIndex..<end)
            groupState.nextIndex = end
            groupState.pending[consumer, default: []].append(contentsOf: indices)
            state.groups[key] = groupState
            return indices.map { all[$0] }
        }
    }

    func pendingEntries(
        _ stream: StreamName, group: String, consumer: String, count: Int, after: String = "0"
    ) async throws(StoreError) -> [StreamEntry] {
        try state.withLock { (state: inout State) throws(StoreError) -> [StreamEntry] in
            try checkAvailable(state)
            let all = state.streams[stream] ?? []
            let pending = state.groups["\(stream.rawValue)|\(group)"]?.pending[consumer] ?? []
            let start = Self.sequence(of: after)
            return Array(pending.sorted().lazy.map { all[$0] }.filter { Self.sequence(of: $0.id) > start }.prefix(max(0, count)))
        }
    }

    func acknowledge(_ stream: StreamName, group: String, ids: [String]) async throws(StoreError) {
        try state.withLock { (state: inout State) throws(StoreError) in
            try checkAvailable(state)
            let key = "\(stream.rawValue)|\(group)"
            let all = state.streams[stream] ?? []
            let acknowledged = Set(ids)
            guard var groupState = state.groups[key] else { return }
            for consumer in groupState.pending.keys {
                groupState.pending[consumer]?.removeAll { acknowledged.contains(all[$0].id) }
            }
            state.groups[key] = groupState
        }
    }

    func ping() async throws(StoreError) {
        try state.withLock { (state: inout State) throws(StoreError) in try checkAvailable(state) }
    }
}
