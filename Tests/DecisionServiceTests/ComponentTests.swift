import AdLoadCore
import AdLoadTestSupport
@testable import DecisionService
import Foundation
@testable import Policies
import Prometheus
import ServiceLifecycle
@testable import StateStore
import Synchronization
import Testing

@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    @Test("opens after N consecutive failures, half-opens after the cool-down, a probe decides")
    func lifecycle() async throws {
        let transitions = Mutex<[CircuitBreaker.State]>([])
        let clock = ManualClock()
        let breaker = CircuitBreaker(configuration: .init(failureThreshold: 3, coolDown: .milliseconds(100)), clock: clock) { state in
            transitions.withLock { $0.append(state) }
        }
        for _ in 0..<2 { breaker.record(try #require(breaker.acquire()), success: false) }
        breaker.record(try #require(breaker.acquire()), success: true)
        #expect(breaker.state == .closed, "a success resets the count")
        for _ in 0..<3 { breaker.record(try #require(breaker.acquire()), success: false) }
        #expect(breaker.state == .open)
        #expect(breaker.acquire() == nil)
        clock.advance(by: .milliseconds(99))
        #expect(breaker.acquire() == nil, "the cool-down has not passed")
        clock.advance(by: .milliseconds(1))
        #expect(breaker.acquire() == .probe)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.acquire() == nil, "only one probe")
        breaker.record(.probe, success: false)
        #expect(breaker.state == .open)
        #expect(breaker.acquire() == nil)
        clock.advance(by: .milliseconds(100))
        #expect(breaker.acquire() == .probe)
        breaker.record(.normal, success: true)
        #expect(breaker.state == .halfOpen, "a late result of an ordinary call does not decide")
        breaker.record(.probe, success: true)
        #expect(breaker.state == .closed)
        #expect(breaker.acquire() == .normal)
        #expect(transitions.withLock { $0 } == [.open, .halfOpen, .open, .halfOpen, .closed])
    }
}

@Suite("DecisionLogBuffer", .timeLimit(.minutes(1)))
struct DecisionLogBufferTests {
    static func entry(_ index: Int) -> DecisionEntry {
        DecisionEntry(
            decisionID: "d\(index)", userID: "u", time: 1, region: "na", policyVersion: "v", features: [1], plan: [0, 0, 0],
            chosen: 0, adPositions: [], probability: 1, propensity: "exact", fallback: false, feedLength: 10, adLimit: 40)
    }

    @Test("a full buffer drops the newest decision and counts it")
    func overflow() async throws {
        let store = InMemoryLiveStore()
        let buffer = DecisionLogBuffer(store: store, configuration: .init(capacity: 3), logger: Fixtures.logger)
        #expect((0..<5).map { buffer.append(Self.entry($0)) } == [true, true, true, false, false])
        #expect(buffer.count == 3)
        #expect(buffer.droppedCount == 2)
        #expect(await buffer.flush())
        #expect(try await streamDecisions(store).map(\.decisionID) == ["d0", "d1", "d2"])
    }

    @Test("entries stay buffered, in order, while the store is down")
    func storeDown() async throws {
        let store = InMemoryLiveStore()
        let buffer = DecisionLogBuffer(store: store, configuration: .init(maxBatch: 2), logger: Fixtures.logger)
        store.setUnavailable(true)
        for index in 0..<3 { buffer.append(Self.entry(index)) }
        #expect(await !buffer.flush())
        buffer.append(Self.entry(3))
        #expect(buffer.count == 4)
        store.setUnavailable(false)
        #expect(await buffer.flush())
        #expect(buffer.count == 0)
        #expect(try await streamDecisions(store).map(\.decisionID) == ["d0", "d1", "d2", "d3"])
    }

    @Test("with sharded streams, a shard that cannot be written keeps its decisions and the others are written once")
    func shardDown() async throws {
        let store = CountingStore(sharded: true)
        let buffer = DecisionLogBuffer(store: store, configuration: .init(maxBatch: 2), logger: Fixtures.logger)
        store.downShard.withLock { $0 = 0 }
        // User ids ending in "0" and "1": shards 0 and 1 (the parity of the last byte).
        func entry(_ index: Int) -> DecisionEntry {
            var entry = Self.entry(index)
            entry.userID = "u\(index % 2)"
            return entry
        }
        for index in 0..<6 { buffer.append(entry(index)) }
        #expect(await !buffer.flush())
        // Shard 0 (written first) fails; shard 1 is still written.
        #expect(try await streamDecisions(store.base).map(\.decisionID) == ["d1", "d3", "d5"])
        #expect(buffer.count == 3)
        #expect(await !buffer.flush(), "still down")
        store.downShard.withLock { $0 = nil }
        #expect(await buffer.flush())
        #expect(try await streamDecisions(store.base).map(\.decisionID) == ["d1", "d3", "d5", "d0", "d2", "d4"], "each once")
    }

    @Test("graceful shutdown flushes what is left")
    func shutdownFlush() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        let buffer = DecisionLogBuffer(
            store: store, configuration: .init(flushInterval: .seconds(60)), logger: Fixtures.logger, clock: clock)
        let group = ServiceGroup(services: [buffer], logger: Fixtures.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // The flusher runs and waits for its next flush, a minute away: only shutdown writes what follows.
            try await clock.waitForSleeper(wakingIn: .seconds(60))
            for index in 0..<7 { buffer.append(Self.entry(index)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await streamDecisions(store).count == 7)
    }
}

@Suite("PolicyWatcher", .timeLimit(.minutes(1)))
struct PolicyWatcherTests {
    @Test("swaps to a newly published version and keeps the last good one on a bad blob")
    func swapAndReject() async throws {
        let store = InMemoryLiveStore()
        let holder = PolicyHolder(initial: try Fixtures.engine(version: "v1"))
        let registry = PrometheusCollectorRegistry()
        let metrics = ServiceMetrics(registry: registry)
        let watcher = PolicyWatcher(holder: holder, store: store, metrics: metrics, logger: Fixtures.logger)
        #expect(await watcher.poll() == .unchanged, "an empty registry changes nothing")
        try await store.publishPolicy(version: "v2", blob: try Fixtures.policyData("default-egreedy"))
        #expect(await watcher.poll() == .swapped(version: "v2"))
        #expect(holder.current?.version == "v2")
        #expect(holder.current?.policy.algorithm == "egreedy")
        #expect(await watcher.poll() == .unchanged)

        var corrupted = try Fixtures.policyData("default-softmax")
        corrupted.replaceSubrange(corrupted.startIndex..<corrupted.index(corrupted.startIndex, offsetBy: 1), with: Data("[".utf8))
        try await store.publishPolicy(version: "v3", blob: corrupted)
        guard case .rejected(version: "v3", _) = await watcher.poll() else {
            Issue.record("a corrupted blob must be rejected")
            return
        }
        #expect(holder.current?.version == "v2")
        #expect(await watcher.poll() == .unchanged, "a rejected version is not retried")

        let text = try #require(String(data: try Fixtures.policyData("default-softmax"), encoding: .utf8))
        let edited = text.replacing(try Regex(#""temperature": [0-9.e+-]+"#), with: #""temperature": 0.7"#)
        #expect(edited != text, "the edit changes the temperature")
        try await store.publishPolicy(version: "v4", blob: Data(edited.utf8))
        guard case let .rejected(version: "v4", reason) = await watcher.poll() else {
            Issue.record("an edited blob fails its checksum")
            return
        }
        #expect(reason.contains("checksum"))
        #expect(holder.current?.version == "v2")

        store.setUnavailable(true)
        guard case .storeError = await watcher.poll() else {
            Issue.record("a store error is reported")
            return
        }
        store.setUnavailable(false)
        try await store.publishPolicy(version: "v5", blob: try Fixtures.policyData("default-softmax"))
        #expect(await watcher.poll() == .swapped(version: "v5"))
        let text5 = registry.emitToString()
        #expect(text5.contains("adload_policy_load_failures_total 2"))
        #expect(text5.contains("adload_policy_info{version=\"v5\"} 1"))
        #expect(!text5.contains("version=\"v2\""))
    }

    @Test("the running watcher polls once per interval of its clock, and stops on shutdown")
    func pollsEveryInterval() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        let holder = PolicyHolder(initial: try Fixtures.engine(version: "v1"))
        let watcher = PolicyWatcher(
            holder: holder, store: store, configuration: .init(interval: .milliseconds(500)), logger: Fixtures.logger, clock: clock)
        let group = ServiceGroup(services: [watcher], logger: Fixtures.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await clock.waitForSleeper(wakingIn: .milliseconds(500))
            try await store.publishPolicy(version: "v2", blob: try Fixtures.policyData("default-egreedy"))
            clock.advance(by: .milliseconds(499))
            #expect(clock.sleepers == [.milliseconds(1)], "the watcher sleeps until the interval has passed")
            #expect(holder.current?.version == "v1")
            clock.advance(by: .milliseconds(1))
            try await clock.waitForSleeper(wakingIn: .milliseconds(500))
            #expect(holder.current?.version == "v2", "the poll after the interval swapped")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("an empty holder fills from the registry")
    func emptyHolder() async throws {
        let store = InMemoryLiveStore()
        let holder = PolicyHolder(rules: try Fixtures.rules(), expectedSchema: Fixtures.schema)
        let watcher = PolicyWatcher(holder: holder, store: store, logger: Fixtures.logger)
        #expect(holder.current == nil)
        try await store.publishPolicy(version: "first", blob: try Fixtures.policyData("default-linucb"))
        #expect(await watcher.poll() == .swapped(version: "first"))
        #expect(holder.current?.version == "first")
    }
}
