import AdLoadCore
import AdLoadTestSupport
import Foundation
import Logging
@testable import Policies
@testable import StateStore
import Testing
@testable import OnlineLearning
@testable import Training

@Suite("Online learning from the decision and feedback streams")
struct StreamLearnerTests {
    let schema = FeatureSchema(regions: ["apac", "eu", "na"], devices: ["android", "ios"], tenures: ["established", "new", "veteran"])

    func policy() throws -> LinearBanditPolicy {
        let bandit = try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount,
                                      algorithm: .epsilonGreedy(epsilon: 0.1))
        return LinearBanditPolicy(
            bandit: bandit, schema: schema, planFamily: .standard, reward: RewardWeights.standard.dictionary,
            provenance: PolicyProvenance(environment: "test", environmentFile: "env/test.json", environmentFingerprint: "", seed: 1, sessions: 0, users: 0,
                                         days: 0, trainedAt: PolicyProvenance.now(), source: .simulation))
    }

    func decision(_ id: String, user: String, time: Double, chosen: Int = 1) -> DecisionEntry {
        var context = [Double](repeating: 0, count: schema.contextCount)
        context[0] = 1
        context[5] = time.truncatingRemainder(dividingBy: 1)
        return DecisionEntry(
            decisionID: id, userID: user, time: time, region: "na", policyVersion: "v0", features: context,
            plan: chosen == 1 ? [4, 12, 40] : [0, 0, 0], chosen: chosen, adPositions: [4, 17], probability: 0.5,
            propensity: "exact", fallback: false, feedLength: 30, adLimit: 40)
    }

    /// Records each decision with its own write, so each is its own stream entry (decisions
    /// written together share one and are finalized together: `groupedEntry`).
    func recordEach(_ store: InMemoryLiveStore, _ decisions: [DecisionEntry]) async throws {
        for decision in decisions { try await store.recordDecisions([decision]) }
    }

    /// A learner with no minimum wait, on a manual clock nobody advances: decisions are
    /// finalized by event time alone, never by ``StreamLearner/Configuration/maxWait``.
    func learner(_ store: InMemoryLiveStore, policy: LinearBanditPolicy, base: String? = nil, weights: RewardWeights) -> StreamLearner {
        var configuration = StreamLearner.Configuration(weights: weights)
        configuration.rewardWindowDays = 1
        configuration.minWait = .zero
        return StreamLearner(
            store: store, policy: policy, baseVersion: base, configuration: configuration, logger: Logger(label: "test"), clock: ManualClock())
    }

    @Test("joins feedback and the user's return to each decision, and learns the reward the weights define")
    func joinsAndLearns() async throws {
        let store = InMemoryLiveStore()
        let start = try policy()
        let weights = RewardWeights(revenue: 1, items: 0.01, negatives: 0.5, returned: 0.25, loadSquared: 0)
        try await store.recordDecisions([decision("d1", user: "u1", time: 100.0)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d1", userID: "u1", time: 100.01, events: [
            FeedbackEvent(kind: .impression, position: 4, value: 0.2), FeedbackEvent(kind: .dwell, position: 1, value: 10),
            FeedbackEvent(kind: .dwell, position: 2, value: 12), FeedbackEvent(kind: .hide, position: 4),
            FeedbackEvent(kind: .sessionEnd, value: 20),
        ]))
        // The user comes back within the window; feedback on a third decision far later
        // moves event time past both windows.
        try await recordEach(store, [decision("d2", user: "u1", time: 100.5), decision("d3", user: "u2", time: 103)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d3", userID: "u2", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let learner = learner(store, policy: start, weights: weights)
        try await learner.poll(block: .zero)
        let statistics = await learner.statistics
        #expect(statistics.decisionsRead == 3 && statistics.feedbackRead == 2)
        #expect(statistics.updates == 2, "d1 and d2 are past their window, d3 is not")
        #expect(statistics.withoutFeedback == 1)
        // d1: revenue 0.2 + 2 items × 0.01 − 1 negative × 0.5 + return 0.25; d2: default 0.
        #expect(abs(statistics.rewardSum - (0.2 + 0.02 - 0.5 + 0.25)) < 1e-12)

        // The same updates applied by hand give the same model.
        var expected = start.bandit
        let plan = PlanSpec(first: 4, spacing: 12, maxAds: 40).plan(feedLength: 30, limit: 40)
        expected.update(context: decision("d1", user: "u1", time: 100.0).features, descriptors: PlanDescriptors(plan: plan), reward: 0.2 + 0.02 - 0.5 + 0.25)
        expected.update(context: decision("d2", user: "u1", time: 100.5).features, descriptors: PlanDescriptors(plan: plan), reward: 0)
        #expect(await learner.bandit.model.theta == expected.model.theta)
    }

    @Test("a decision written twice (a retried write) and feedback streamed twice with one seq (a Redis Cluster outbox) are learned once and acknowledged")
    func repeatsLearnedOnce() async throws {
        let store = InMemoryLiveStore()
        let weights = RewardWeights(revenue: 1, items: 0.01, negatives: 0, returned: 0, loadSquared: 0)
        try await store.recordDecisions([decision("d1", user: "u1", time: 100.0)])
        try await store.recordDecisions([decision("d1", user: "u1", time: 100.0)])
        let first = ["decision_id": "d1", "user_id": "u1", "time": "100.01", "events": "impression:4:0.3", "seq": "1"]
        let second = ["decision_id": "d1", "user_id": "u1", "time": "100.02", "events": "dwell:1:10", "seq": "2"]
        store.state.withLock { state in
            for fields in [first, first, second] { store.append(&state, .feedback, fields) }
        }
        // A later decision's feedback moves event time past d1's window.
        try await store.recordDecisions([decision("d9", user: "u9", time: 103)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d9", userID: "u9", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let learner = learner(store, policy: try policy(), weights: weights)
        try await learner.poll(block: .zero)
        let statistics = await learner.statistics
        #expect(statistics.decisionsRead == 3 && statistics.feedbackRead == 4)
        #expect(statistics.repeated == 2, "the second d1 and the second seq 1")
        #expect(statistics.updates == 1)
        #expect(abs(statistics.rewardSum - (0.3 + 0.01)) < 1e-12, "revenue 0.3 once, one item")
        _ = try await learner.publish()
        let group = await learner.configuration.group, consumer = await learner.configuration.consumer
        let decisionsLeft = try await store.pendingEntries(.decisions, group: group, consumer: consumer, count: 10, after: "0")
        #expect(decisionsLeft.count == 1 && decisionsLeft[0].fields["d"]?.contains("\"d9\"") == true, "only d9, whose window is open, is unacknowledged")
        let feedbackLeft = try await store.pendingEntries(.feedback, group: group, consumer: consumer, count: 10, after: "0")
        #expect(feedbackLeft.map { $0.fields["decision_id"] } == ["d9"])
    }

    @Test("feedback read before its decision is held and joined when the decision arrives; a copy of a finalized decision is not learned again; unmatched feedback is acknowledged after maxWait")
    func heldFeedbackAndLateCopies() async throws {
        let store = InMemoryLiveStore()
        let weights = RewardWeights(revenue: 1, items: 0, negatives: 0, returned: 0, loadSquared: 0)
        let clock = ManualClock()
        var configuration = StreamLearner.Configuration(weights: weights)
        configuration.rewardWindowDays = 1
        configuration.minWait = .zero
        let learner = StreamLearner(store: store, policy: try policy(), baseVersion: nil, configuration: configuration, logger: Logger(label: "test"), clock: clock)
        // Feedback first (as a sharded read can deliver it), and feedback for no decision at all.
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "h1", userID: "u1", time: 100.01, events: [FeedbackEvent(kind: .impression, position: 4, value: 0.4)]))
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "nobody", userID: "u5", time: 100.02, events: [FeedbackEvent(kind: .sessionEnd, value: 3)]))
        try await learner.poll(block: .zero)
        try await store.recordDecisions([decision("h1", user: "u1", time: 100.0)])
        try await store.recordDecisions([decision("z", user: "u9", time: 103)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "z", userID: "u9", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        try await learner.poll(block: .zero)
        #expect(await learner.statistics.updates == 1)
        #expect(abs(await learner.statistics.rewardSum - 0.4) < 1e-12, "h1 learned with the feedback read before it")
        // A copy of h1 written again by a retry, read after h1 was learned: not learned again.
        try await store.recordDecisions([decision("h1", user: "u1", time: 100.0)])
        try await learner.poll(block: .zero)
        let afterCopy = await learner.statistics
        #expect(afterCopy.updates == 1 && afterCopy.repeated == 1)
        // The unmatched feedback is acknowledged once maxWait has passed, not before.
        let group = await learner.configuration.group, consumer = await learner.configuration.consumer
        _ = try await learner.publish()
        #expect(try await store.pendingEntries(.feedback, group: group, consumer: consumer, count: 10, after: "0").map { $0.fields["decision_id"] } == ["nobody", "z"])
        clock.advance(by: configuration.maxWait + .seconds(1))
        try await learner.poll(block: .zero)
        _ = try await learner.publish()
        #expect(try await store.pendingEntries(.feedback, group: group, consumer: consumer, count: 10, after: "0").isEmpty, "nobody's and z's (z finalized by maxWait too)")
    }

    @Test("decisions written together share a stream entry: they are finalized together, once the last one's window closes, and the entry is acknowledged once")
    func groupedEntry() async throws {
        let store = InMemoryLiveStore()
        let weights = RewardWeights(revenue: 1, items: 0, negatives: 0, returned: 0, loadSquared: 0)
        try await store.recordDecisions([decision("e1", user: "u1", time: 100.0), decision("e2", user: "u2", time: 102.5)])
        #expect(try await store.entries(.decisions, after: "0", count: 10).count == 1)
        let learner = learner(store, policy: try policy(), weights: weights)
        // Event time passes e1's window (1 day) but not e2's: neither is learned yet.
        try await store.recordDecisions([decision("x", user: "u3", time: 102.6)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "x", userID: "u3", time: 102.6, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        try await learner.poll(block: .zero)
        #expect(await learner.statistics.decisionsRead == 3)
        #expect(await learner.statistics.updates == 0, "e1 waits for e2, its entry's other decision")
        // Past e2's window too: both are learned, and the entry is acknowledged.
        try await store.recordDecisions([decision("y", user: "u4", time: 104)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "y", userID: "u4", time: 104, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        try await learner.poll(block: .zero)
        #expect(await learner.statistics.updates == 3, "e1, e2 and x")
        _ = try await learner.publish()
        let group = await learner.configuration.group, consumer = await learner.configuration.consumer
        let left = try await store.pendingEntries(.decisions, group: group, consumer: consumer, count: 10, after: "0")
        #expect(left.map { $0.fields["d"]?.contains("\"y\"") } == [true], "only y's entry is unacknowledged")
    }

    @Test("decisions logged with another context layout are not learned")
    func otherLayoutSkipped() async throws {
        let store = InMemoryLiveStore()
        var same = decision("d1", user: "u1", time: 100.0)
        same.contextSchema = schema.contextFingerprint
        var other = decision("d2", user: "u2", time: 100.0)
        other.contextSchema = schema.with(history: HistoryFeature.standard.reversed()).contextFingerprint
        let unnamed = decision("d3", user: "u3", time: 100.0)
        var unnamedOther = decision("d5", user: "u5", time: 100.0)
        unnamedOther.contextSchema = nil
        try await recordEach(store, [same, other, unnamed, decision("d4", user: "u4", time: 103)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d4", userID: "u4", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let learner = learner(store, policy: try policy(), weights: .standard)
        try await learner.poll(block: .zero)
        let statistics = await learner.statistics
        #expect(statistics.decisionsRead == 4)
        #expect(statistics.updates == 2, "d1 (same layout) and d3 (written before layouts were named: standard) are learned, d2 is not")
        #expect(statistics.otherLayout == 1, "the registry still has the learner's base, so d2 is from an older policy")
        _ = try await learner.publish()
        let pendingAfter = try await store.pendingEntries(.decisions, group: "learner", consumer: "learner-1", count: 10, after: "0")
        let pendingIDs = pendingAfter.compactMap { entry in ["d1", "d2", "d3", "d4"].first { entry.fields["d"]?.contains("\"decision_id\":\"\($0)\"") == true } }
        #expect(pendingIDs == ["d4"], "d2 is acknowledged unlearned; d4 waits for its window")

        // A learner whose policy has other history features treats an unnamed entry as the standard layout: skipped.
        let store2 = InMemoryLiveStore()
        try await recordEach(store2, [unnamedOther, decision("d6", user: "u6", time: 103)])
        _ = try await store2.applyFeedback(FeedbackEntry(decisionID: "d6", userID: "u6", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let otherSchema = schema.with(history: HistoryFeature.standard.reversed())
        let bandit = try LinearBandit(contextCount: otherSchema.contextCount, descriptorCount: otherSchema.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0.1))
        let start = try policy()
        let otherPolicy = LinearBanditPolicy(bandit: bandit, schema: otherSchema, planFamily: .standard, reward: start.reward, provenance: start.provenance)
        let learner2 = self.learner(store2, policy: otherPolicy, weights: .standard)
        try await learner2.poll(block: .zero)
        let statistics2 = await learner2.statistics
        #expect(statistics2.otherLayout == 1 && statistics2.updates == 0)

        // Another policy became active and its decisions (another layout) arrive: the learner stops.
        let store3 = InMemoryLiveStore()
        try await store3.publishPolicy(version: "v-other", blob: Data(try otherPolicy.rendered().utf8))
        var fromOther = decision("d7", user: "u7", time: 100)
        fromOther.contextSchema = otherSchema.contextFingerprint
        try await recordEach(store3, [fromOther, decision("d8", user: "u8", time: 103)])
        _ = try await store3.applyFeedback(FeedbackEntry(decisionID: "d8", userID: "u8", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let stale = self.learner(store3, policy: start, base: "v-start", weights: .standard)
        let error = await #expect(throws: StreamLearnerError.self) { try await stale.poll(block: .zero) }
        #expect(error == .activePolicyReplaced(by: "v-other", base: "v-start"))
        #expect(try await store3.pendingEntries(.decisions, group: "learner", consumer: "learner-1", count: 10, after: "0").count == 2)
    }

    @Test("after a restart every pending entry is re-read, page by page")
    func pendingPaging() async throws {
        let store = InMemoryLiveStore()
        var decisions: [DecisionEntry] = []
        for index in 0..<25 { decisions.append(decision("p\(index)", user: "u\(index)", time: 300)) }
        try await recordEach(store, decisions)
        var configuration = StreamLearner.Configuration(weights: .standard)
        configuration.batchSize = 4
        configuration.minWait = .zero
        let first = StreamLearner(
            store: store, policy: try policy(), baseVersion: nil, configuration: configuration, logger: Logger(label: "test"), clock: ManualClock())
        for _ in 0..<7 { try await first.poll(block: .zero) }
        #expect(await first.statistics.decisionsRead == 25)
        let second = StreamLearner(
            store: store, policy: try policy(), baseVersion: nil, configuration: configuration, logger: Logger(label: "test"), clock: ManualClock())
        try await second.poll(block: .zero, includePending: true)
        #expect(await second.statistics.decisionsRead == 25, "all 25 pending decisions, not one page of 4")
        let paged = try await store.pendingEntries(.decisions, group: "learner", consumer: "learner-1", count: 4, after: "0-3")
        #expect(paged.map(\.id) == ["0-4", "0-5", "0-6", "0-7"])
    }

    @Test("a learner never publishes over a version someone else made active; it publishes again on its own lineage")
    func publishesOnlyOnItsBase() async throws {
        let store = InMemoryLiveStore()
        let start = try policy()
        let startBlob = Data(try start.rendered().utf8)
        try await store.publishPolicy(version: "v0", blob: startBlob)
        try await recordEach(store, [decision("d1", user: "u1", time: 100), decision("d2", user: "u2", time: 100.1), decision("d9", user: "u9", time: 103)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d9", userID: "u9", time: 103.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let learner = learner(store, policy: start, base: "v0", weights: .standard)
        try await learner.poll(block: .zero)
        let first = try #require(try await learner.publish())
        #expect(try await store.activePolicyVersion() == first)
        #expect(await learner.baseVersion == first)

        // An operator rolls back to v0: the learner's next publication must not undo that.
        try await store.publishPolicy(version: "v0", blob: startBlob)
        try await store.recordDecisions([decision("d10", user: "u10", time: 104.5)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d10", userID: "u10", time: 104.51, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        try await learner.poll(block: .zero)
        let error = await #expect(throws: StreamLearnerError.self) { try await learner.publish() }
        #expect(error == .activePolicyReplaced(by: "v0", base: first))
        #expect(error?.description.contains("restart the learner") == true)
        #expect(try await store.activePolicyVersion() == "v0")
    }

    @Test("a restarted learner neither loses nor double-counts: it resumes from the published policy and unacknowledged entries")
    func restartWithoutDoubleCounting() async throws {
        let store = InMemoryLiveStore()
        let weights = RewardWeights.revenueOnly
        var decisions: [DecisionEntry] = []
        for index in 0..<40 { decisions.append(decision("d\(index)", user: "u\(index % 7)", time: 200 + Double(index) * 0.2)) }
        try await recordEach(store, Array(decisions.prefix(20)))
        for index in 0..<20 {
            _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d\(index)", userID: "u\(index % 7)", time: 200 + Double(index) * 0.2 + 0.01,
                                                            events: [FeedbackEvent(kind: .impression, position: 4, value: Double(index) / 100)]))
        }
        let first = learner(store, policy: try policy(), weights: weights)
        try await first.poll(block: .zero)
        let firstUpdates = await first.statistics.updates
        #expect(firstUpdates > 0)
        let version = try #require(try await first.publish())
        #expect(try await store.activePolicyVersion() == version)

        // More traffic, read by the first learner but never published: then it "crashes".
        func feedback(_ index: Int) -> FeedbackEntry {
            FeedbackEntry(decisionID: "d\(index)", userID: "u\(index % 7)", time: 200 + Double(index) * 0.2 + 0.01,
                          events: [FeedbackEvent(kind: .impression, position: 4, value: Double(index) / 100)])
        }
        try await recordEach(store, Array(decisions.suffix(20)))
        for index in 20..<40 { _ = try await store.applyFeedback(feedback(index)) }
        try await first.poll(block: .zero)

        // A new learner starts from the active policy and re-reads what was not acknowledged.
        let blob = try #require(try await store.policyBlob(version: version))
        let restored = try LinearBanditPolicy.parse(blob, file: "registry", expectedSchema: schema)
        let second = learner(store, policy: restored, base: version, weights: weights)
        try await second.poll(block: .zero, includePending: true)
        try await second.poll(block: .zero)

        // One learner that saw everything without a crash, for comparison.
        let reference = InMemoryLiveStore()
        try await recordEach(reference, Array(decisions.prefix(20)))
        for index in 0..<20 {
            _ = try await reference.applyFeedback(FeedbackEntry(decisionID: "d\(index)", userID: "u\(index % 7)", time: 200 + Double(index) * 0.2 + 0.01,
                                                                events: [FeedbackEvent(kind: .impression, position: 4, value: Double(index) / 100)]))
        }
        try await recordEach(reference, Array(decisions.suffix(20)))
        for index in 20..<40 { _ = try await reference.applyFeedback(feedback(index)) }
        let single = learner(reference, policy: try policy(), weights: weights)
        try await single.poll(block: .zero)
        try await single.poll(block: .zero)
        let total = await single.statistics.updates
        #expect(firstUpdates + (await second.statistics.updates) == total, "every finalized decision is learned exactly once")
        let learned = await second.bandit.model.theta.elements
        let direct = await single.bandit.model.theta.elements
        #expect(zip(learned, direct).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) })
    }
}

extension StreamLearnerTests {
    @Test("a publication whose answer was lost but which happened is adopted, not taken for someone else's")
    func lostPublishAnswer() async throws {
        let store = InMemoryLiveStore()
        for index in 0..<3 { try await store.recordDecisions([decision("l\(index)", user: "u\(index)", time: 400 + Double(index) * 2)]) }
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "l2", userID: "u2", time: 404.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        var configuration = StreamLearner.Configuration(weights: .standard)
        configuration.minWait = .zero
        configuration.rewardWindowDays = 1
        let learner = StreamLearner(
            store: store, policy: try policy(), baseVersion: nil, configuration: configuration, logger: Logger(label: "test"), clock: ManualClock())
        try await learner.poll(block: .zero)
        store.loseNextPublishAnswer()
        await #expect(throws: StoreError.self) { try await learner.publish() }
        let lost = try #require(try await store.activePolicyVersion())
        try await store.recordDecisions([decision("l9", user: "u9", time: 410)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "l9", userID: "u9", time: 410.01, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        try await learner.poll(block: .zero)
        let next = try #require(try await learner.publish())
        let active = try await store.activePolicyVersion()
        #expect(next != lost && active == next)
        #expect(await learner.statistics.published == 2)
    }

    @Test("a decision whose window has closed waits minWait after it was read; one whose window stays open is finalized after maxWait")
    func graceWindows() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        var configuration = StreamLearner.Configuration(weights: .standard)
        configuration.rewardWindowDays = 1
        configuration.minWait = .seconds(2)
        configuration.maxWait = .seconds(30)
        // g2's feedback moves event time past g1's window (100 + 1) but not past its own (101.5 + 1).
        try await recordEach(store, [decision("g1", user: "u1", time: 100), decision("g2", user: "u2", time: 101.5)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "g2", userID: "u2", time: 101.51, events: [FeedbackEvent(kind: .sessionEnd, value: 5)]))
        let learner = StreamLearner(
            store: store, policy: try policy(), baseVersion: nil, configuration: configuration, logger: Logger(label: "test"), clock: clock)
        try await learner.poll(block: .zero)
        #expect(await learner.statistics.updates == 0, "g1's window has closed, but it was read just now")
        clock.advance(by: .seconds(2) - .milliseconds(1))
        try await learner.poll(block: .zero)
        #expect(await learner.statistics.updates == 0)
        clock.advance(by: .milliseconds(1))
        try await learner.poll(block: .zero)
        var statistics = await learner.statistics
        #expect(statistics.updates == 1 && statistics.withoutFeedback == 1, "g1, without feedback, once it has waited minWait")

        clock.advance(by: .seconds(28))
        try await learner.poll(block: .zero)
        #expect(await learner.statistics.updates == 1, "g2 has waited exactly maxWait: not longer")
        clock.advance(by: .milliseconds(1))
        try await learner.poll(block: .zero)
        statistics = await learner.statistics
        #expect(statistics.updates == 2 && statistics.withoutFeedback == 1, "g2, with its feedback, once it has waited longer than maxWait")
    }
}
