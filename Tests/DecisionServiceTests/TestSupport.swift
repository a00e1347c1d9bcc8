import AdLoadCore
import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Policies
import Prometheus
@testable import StateStore
import Synchronization
import Testing

/// The package root (policies/ lives there).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Policy files and region rules the tests serve.
enum Fixtures {
    static func policyData(_ name: String) throws -> Data {
        try Data(contentsOf: packageRoot.appendingPathComponent("policies/\(name).json"))
    }

    /// na/eu/apac with share caps 0.25/0.20/0.10, first slot 2, min gap 2, at most 40 ads, no daily cap.
    static func rules() throws -> [String: PlacementRules] {
        [
            "na": try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.25, maxAdsPerSession: 40, dailyCap: nil),
            "eu": try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.20, maxAdsPerSession: 40, dailyCap: nil),
            "apac": try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.10, maxAdsPerSession: 40, dailyCap: nil),
        ]
    }

    static let schema = FeatureSchema(regions: ["apac", "eu", "na"], devices: ["android", "ios"], tenures: ["established", "new", "veteran"])

    /// An engine serving `policies/<name>.json` as `version`.
    static func engine(_ name: String = "default-linucb", version: String = "v1") throws -> DecisionEngine {
        try DecisionEngine(blob: try policyData(name), source: name, version: version, rules: try rules(), expectedSchema: schema)
    }

    static var logger: Logger {
        var logger = Logger(label: "DecisionServiceTests")
        logger.logLevel = .critical
        return logger
    }

    /// The decision log's pause between flushes in ``configuration(threshold:coolDown:decideBudget:pollInterval:flushInterval:)``.
    static let flushInterval: Duration = .milliseconds(5)
    /// The decision log's pause after a failed write in ``configuration(threshold:coolDown:decideBudget:pollInterval:flushInterval:)``.
    static let retryDelay: Duration = .milliseconds(20)

    /// A configuration for router tests: short timings, everything else default. The
    /// servers of the tests run on a ``ManualClock``, so these pass only when a test
    /// advances it; the decide budget (2 s) is longer than any test advances while a decide
    /// is in flight, except in the tests of the budget, which set it.
    static func configuration(
        threshold: Int = 5, coolDown: Duration = .seconds(1), decideBudget: Duration = .seconds(2),
        pollInterval: Duration = .milliseconds(50), flushInterval: Duration = Fixtures.flushInterval
    ) -> DecisionServiceConfiguration {
        DecisionServiceConfiguration(
            address: .hostname("127.0.0.1", port: 0),
            decideStoreBudget: decideBudget,
            circuitBreaker: .init(failureThreshold: threshold, coolDown: coolDown),
            policyWatcher: .init(interval: pollInterval),
            decisionLog: .init(flushInterval: flushInterval, retryDelay: retryDelay))
    }

    /// A server on `clock`: its budgets, cool-down, polls and flushes happen as the test
    /// advances the clock (a test that never advances it sees one poll and one flush at
    /// start, and the flush of graceful shutdown).
    static func server(
        store: any LiveStore, configuration: DecisionServiceConfiguration = Fixtures.configuration(),
        engine: DecisionEngine? = nil, clock: ManualClock = ManualClock()
    ) throws -> DecisionServer {
        DecisionServer(
            configuration: configuration, store: store, policyHolder: PolicyHolder(initial: try engine ?? Fixtures.engine()),
            registry: PrometheusCollectorRegistry(), logger: logger, clock: clock)
    }

    /// Seconds of a fixed test day (2025-06-01T12:00:00Z).
    static let timestamp = 1_748_779_200.0
}

/// A JSON request body from literal text.
func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// A decide body; `extra` fields are appended verbatim.
func decideBody(
    user: String = "user-1", region: String = "na", device: String = "ios", hour: Int = 20, feedLength: Int = 50,
    timestamp: Double? = Fixtures.timestamp, extra: String = ""
) -> String {
    var fields = [
        "\"user_id\": \"\(user)\"", "\"session_id\": \"s-\(user)\"", "\"region\": \"\(region)\"", "\"device\": \"\(device)\"",
        "\"hour\": \(hour)", "\"feed_length\": \(feedLength)",
    ]
    if let timestamp { fields.append("\"timestamp\": \(timestamp)") }
    if !extra.isEmpty { fields.append(extra) }
    return "{" + fields.joined(separator: ", ") + "}"
}

/// The decide answer.
struct DecideAnswer: Decodable, Sendable {
    let decision_id: String
    let ad_positions: [Int]
    let policy_version: String
    let probability: Double
    let propensity: String
    let fallback: Bool
    let plan: String
}

/// The error body.
struct ErrorAnswer: Decodable, Sendable {
    struct Detail: Decodable, Sendable {
        let field: String
        let message: String
    }

    let error: Detail
}

/// The feedback answer.
struct FeedbackAnswer: Decodable, Sendable {
    let accepted: Int
    let duplicates: Int
}

extension TestResponse {
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(body.readableBytesView))
    }

    var text: String { String(buffer: body) }
}

extension TestClientProtocol {
    func decide(_ text: String) async throws -> TestResponse {
        try await execute(uri: "/v1/decide", method: .post, headers: [.contentType: "application/json"], body: body(text))
    }

    func feedback(_ text: String) async throws -> TestResponse {
        try await execute(uri: "/v1/feedback", method: .post, headers: [.contentType: "application/json"], body: body(text))
    }
}

/// A store that forwards to an in-memory store, counts calls, and can be slowed down.
final class CountingStore: LiveStore {
    let base: InMemoryLiveStore
    let userRecordCalls = Atomic<Int>(0)
    let feedbackCalls = Atomic<Int>(0)
    let recordCalls = Atomic<Int>(0)
    let delay = Mutex<Duration>(.zero)
    /// When set, users are on two stream shards (by the last character of their id's
    /// parity), and writes of decisions of this shard fail as when its master is down.
    let downShard = Mutex<Int?>(nil)
    let sharded: Bool
    /// What ``delay`` is measured on: a pause ends when the test advances the clock past it
    /// (or when the call is cancelled).
    let clock: ManualClock

    init(base: InMemoryLiveStore = InMemoryLiveStore(), clock: ManualClock = ManualClock(), sharded: Bool = false) {
        self.base = base
        self.clock = clock
        self.sharded = sharded
    }

    func streamShard(ofUser userID: String) -> Int? {
        sharded ? Int(userID.utf8.last ?? 0) % 2 : nil
    }

    func pause() async {
        let delay = delay.withLock { $0 }
        if delay > .zero { try? await clock.sleep(for: delay) }
    }

    func userRecord(userID: String, day: Int) async throws(StoreError) -> UserRecord? {
        userRecordCalls.add(1, ordering: .relaxed)
        await pause()
        return try await base.userRecord(userID: userID, day: day)
    }

    func recordDecisions(_ entries: [DecisionEntry]) async throws(StoreError) {
        recordCalls.add(1, ordering: .relaxed)
        if let down = downShard.withLock({ $0 }), entries.contains(where: { streamShard(ofUser: $0.userID) == down }) {
            throw .unavailable("stream shard \(down) is down")
        }
        try await base.recordDecisions(entries)
    }

    func applyFeedback(_ entry: FeedbackEntry) async throws(StoreError) -> FeedbackOutcome {
        feedbackCalls.add(1, ordering: .relaxed)
        await pause()
        return try await base.applyFeedback(entry)
    }

    func activePolicyVersion() async throws(StoreError) -> String? { try await base.activePolicyVersion() }
    func policyBlob(version: String) async throws(StoreError) -> Data? { try await base.policyBlob(version: version) }
    func publishPolicy(version: String, blob: Data?, ifActive expected: String?, event: RegistryEvent) async throws(StoreError) -> PublishOutcome {
        try await base.publishPolicy(version: version, blob: blob, ifActive: expected, event: event)
    }
    func policyHistory(limit: Int) async throws(StoreError) -> [RegistryEvent] { try await base.policyHistory(limit: limit) }
    func policyVersions() async throws(StoreError) -> [String] { try await base.policyVersions() }
    func latestEntries(_ stream: StreamName, before: String?, count: Int) async throws(StoreError) -> [StreamEntry] {
        try await base.latestEntries(stream, before: before, count: count)
    }
    func entries(_ stream: StreamName, after: String, count: Int) async throws(StoreError) -> [StreamEntry] {
        try await base.entries(stream, after: after, count: count)
    }

    func readStream(
        _ stream: StreamName, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry] {
        try await base.readStream(stream, group: group, consumer: consumer, count: count, block: block)
    }

    func pendingEntries(_ stream: StreamName, group: String, consumer: String, count: Int, after: String) async throws(StoreError) -> [StreamEntry] {
        try await base.pendingEntries(stream, group: group, consumer: consumer, count: count, after: after)
    }

    func acknowledge(_ stream: StreamName, group: String, ids: [String]) async throws(StoreError) {
        try await base.acknowledge(stream, group: group, ids: ids)
    }

    func ping() async throws(StoreError) { try await base.ping() }
}

/// Every decision in the store's decision stream (read through a fresh consumer group).
func streamDecisions(_ store: any LiveStore, group: String = UUID().uuidString) async throws -> [DecisionEntry] {
    let entries = try await store.readStream(.decisions, group: group, consumer: "test", count: 100_000, block: .zero)
    return try entries.flatMap { entry in
        let text = try #require(entry.fields["d"])
        return try DecisionStreamFormat.decisions(inField: text).map { try JSONDecoder().decode(DecisionEntry.self, from: Data($0.utf8)) }
    }
}

extension ManualClock {
    /// Waits until `count` tasks sleep on the clock for longer than a deadline timer's
    /// 1 ms tick: with the default 2, a test server's policy watcher and decision log
    /// flusher are both asleep, so whatever the last advance woke them for is done. (A
    /// ``DeadlineTimer`` still ticking sleeps at most its tick: it is not counted.)
    func servicesIdle(_ count: Int = 2) async throws {
        try await waitForSleepers { remaining in remaining.filter { $0 > .milliseconds(1) }.count == count }
    }

    /// Waits until a test server's background services sleep, advances the clock by
    /// `duration`, and waits until they sleep again: on return, the polls and flushes that
    /// were due within `duration` are done.
    func step(by duration: Duration) async throws {
        try await servicesIdle()
        advance(by: duration)
        try await servicesIdle()
    }
}

/// A counter tasks can share and wait on.
final class Tally: Sendable {
    struct State {
        var count = 0
        var nextID = 0
        var waiters: [Int: (target: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    }

    let state = Mutex(State())

    func increment() {
        let reached = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count += 1
            let count = state.count
            let reached = state.waiters.filter { $0.value.target <= count }
            for id in reached.keys { state.waiters[id] = nil }
            return reached.values.map(\.continuation)
        }
        for waiter in reached { waiter.resume() }
    }

    var count: Int { state.withLock { $0.count } }

    /// Returns once the count has reached `target`, or at once if the task is cancelled.
    func wait(untilAtLeast target: Int) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if state.count >= target || Task.isCancelled { return true }
                    state.waiters[id] = (target, continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
