import AdLoadCore
import Foundation
import Logging
import Policies
import StateStore
import Training

/// The online learning loop behind `adload learn`: reads the decision and feedback streams
/// through a consumer group, joins each decision with its feedback and with the user's
/// return within the reward window, updates the bandit, and publishes new policy versions.
///
/// Event time drives the join (the `time` of decisions and feedback, days since the
/// epoch), so a replay that compresses simulated days works the same as live traffic.
/// A decision is finalized once the feedback stream's event time passes its time plus the
/// reward window (feedback follows its session, so by then the session's feedback has
/// arrived) and it has waited at least ``Configuration/minWait``, or once it has waited
/// ``Configuration/maxWait`` of wall-clock time (traffic without feedback); with no feedback by then it gets ``Configuration/defaultReward``.
/// Those waits are measured on the learner's clock (a manual one in tests).
///
/// Restarts never count an event twice: stream entries are acknowledged only for finalized
/// decisions, right before the policy that includes them is published; after a restart
/// the learner starts from the active policy and re-reads what it had not acknowledged.
/// A crash between that acknowledgement and the publication loses those updates (it never
/// double-counts them).
package actor StreamLearner {
    package struct Configuration: Sendable {
        package var group = "learner"
        package var consumer = "learner-1"
        /// Days after a decision within which feedback and the user's return count.
        package var rewardWindowDays = 1.0
        /// Reward of a decision that got no feedback within the window.
        package var defaultReward = 0.0
        /// Entries read per stream call.
        var batchSize = 1000
        /// Longest wall-clock wait for a decision's window to close in event time.
        var maxWait: Duration = .seconds(30)
        /// Shortest wall-clock wait before a decision is finalized: feedback written right
        /// after the decision may land in a later read than feedback of later sessions
        /// (replays run users concurrently, and feed servers report late).
        var minWait: Duration = .seconds(2)
        package var weights: RewardWeights

        package init(weights: RewardWeights) { self.weights = weights }
    }

    /// Counters of what the learner did, for progress lines and tests.
    package struct Statistics: Sendable, Equatable {
        package var decisionsRead = 0
        package var feedbackRead = 0
        package var updates = 0
        package var withoutFeedback = 0
        package var rewardSum = 0.0
        package var published = 0
        /// Decisions logged with an older feature layout (a policy with other history
        /// features served them): acknowledged, not learned.
        package var otherLayout = 0
        /// Decisions and feedback entries seen before (a decision written again by a retried
        /// write, feedback streamed again from a Redis Cluster outbox with the same `seq`):
        /// acknowledged, not learned again.
        package var repeated = 0
    }

    struct Pending {
        var entry: DecisionEntry
        var readAt: ContinuousClock.Instant
        var streamIDs: [String]
        var tally = SessionTally()
        /// The `seq` of feedback entries counted (entries streamed from a Redis Cluster outbox carry one).
        var feedbackSequences: Set<String> = []
    }

    let store: any LiveStore
    let configuration: Configuration
    let logger: Logger
    /// Measures how long decisions have waited (``Configuration/minWait``, ``Configuration/maxWait``).
    let clock: any TimeSource
    var policy: LinearBanditPolicy
    /// The registry's active version this learner builds on: the one it started from, then
    /// each it published. It publishes only while that is still the active version.
    package private(set) var baseVersion: String?
    /// The layout of the policy's context features: entries logged with another are not learned.
    let layout: ContextLayout
    /// Layouts already warned about.
    var warnedLayouts: Set<String> = []
    /// Finalized decisions of another feature layout, settled at the end of each poll.
    var otherLayout: [Pending] = []
    /// A version whose publication failed without an answer (it may have happened).
    var uncertainVersion: String?
    let startingSessions: Int
    var pending: [String: Pending] = [:]
    /// Decision-stream entries not yet acknowledged, with their decisions not yet learned or settled.
    var entryMembers: [String: Set<String>] = [:]
    var lastDecisionByUser: [String: (id: String, time: Double)] = [:]
    var orphanFeedback: [String] = []
    /// Feedback whose decision is not read yet, by decision id, with when it was read.
    var heldFeedback: [String: [(entry: StreamEntry, readAt: ContinuousClock.Instant)]] = [:]
    /// Decision ids finalized lately (at most ``finalizedMemory``): a copy read later, from a
    /// retried write, is not learned again, and late feedback for them is not held.
    var recentlyFinalized: Set<String> = []
    var finalizedOrder: [String] = []
    static let finalizedMemory = 200_000
    var acknowledgeable: [StreamName: [String]] = [:]
    /// Latest event time seen on the feedback stream.
    var feedbackFrontier = -Double.infinity
    package private(set) var statistics = Statistics()

    /// - Parameters:
    ///   - baseVersion: The registry version `policy` was loaded from (`nil`: the registry
    ///     had none); the learner never publishes over a different active version.
    ///   - clock: Measures the decisions' waits (tests pass a manual clock).
    package init(
        store: any LiveStore, policy: LinearBanditPolicy, baseVersion: String?, configuration: Configuration, logger: Logger,
        clock: any TimeSource = SystemClock()
    ) {
        self.store = store
        self.clock = clock
        self.policy = policy
        self.baseVersion = baseVersion
        layout = ContextLayout(policy.schema)
        startingSessions = policy.provenance.sessions
        self.configuration = configuration
        self.logger = logger
    }

    /// The bandit as learned so far.
    package var bandit: LinearBandit { policy.bandit }

    /// Reads what the streams hold (pending entries of this consumer first, after a restart),
    /// joins and learns. Returns the number of entries read.
    /// - Throws: `StoreError` when a stream read fails (retry later), or
    ///   ``StreamLearnerError/activePolicyReplaced(by:base:)`` when decisions of another
    ///   feature layout arrive because another policy became active: this learner is stale.
    @discardableResult
    package func poll(block: Duration = .milliseconds(100), includePending: Bool = false) async throws -> Int {
        let decisions: [StreamEntry]
        let feedback: [StreamEntry]
        if includePending {
            // Both lists before either is ingested: a failure in between leaves nothing half
            // ingested for the next attempt to read again.
            decisions = try await allPending(.decisions)
            feedback = try await allPending(.feedback)
            for entry in decisions { ingestDecision(entry) }
        } else {
            // Entries read with `>` are delivered once: ingest the decisions before the
            // feedback read can fail.
            decisions = try await store.readStream(.decisions, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize, block: .zero)
            for entry in decisions { ingestDecision(entry) }
            feedback = try await store.readStream(.feedback, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize, block: decisions.isEmpty ? block : .zero)
        }
        for entry in feedback { ingestFeedback(entry) }
        finalizeExpired()
        try await settleOtherLayouts()
        return decisions.count + feedback.count
    }

    /// Throws unless the registry's active version is ``baseVersion``, first adopting a
    /// publication of this learner whose answer was lost but which happened.
    func checkBase() async throws {
        let active = try await store.activePolicyVersion()
        if let uncertain = uncertainVersion, active == uncertain {
            baseVersion = uncertain
            statistics.published += 1
        }
        uncertainVersion = nil
        guard active == baseVersion else { throw StreamLearnerError.activePolicyReplaced(by: active, base: baseVersion) }
    }

    /// Every entry of `stream` delivered to this consumer and not acknowledged, page by page.
    func allPending(_ stream: StreamName) async throws(StoreError) -> [StreamEntry] {
        var entries: [StreamEntry] = []
        var after = "0"
        while true {
            let page = try await store.pendingEntries(
                stream, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize, after: after)
            entries += page
            guard page.count == configuration.batchSize, let last = page.last else { return entries }
            after = last.id
        }
    }

    /// Decisions of another feature layout: while the registry's active version is still this
    /// learner's base they come from an older policy (nobody will learn them), so they are
    /// acknowledged unlearned; otherwise another policy is serving and this learner stops,
    /// leaving them for a learner restarted from it.
    func settleOtherLayouts() async throws {
        guard !otherLayout.isEmpty else { return }
        try await checkBase()
        for state in otherLayout {
            let found = state.entry.contextSchema ?? layout.standardFingerprint
            if warnedLayouts.insert(found).inserted {
                logger.warning(
                    "decisions of an older feature layout are not learned",
                    metadata: ["context_schema": "\(found)", "learner_context_schema": "\(layout.fingerprint)"])
            }
            statistics.otherLayout += 1
            release(state.entry.decisionID, entry: state.streamIDs[0])
            acknowledgeable[.feedback, default: []].append(contentsOf: state.streamIDs.dropFirst())
        }
        otherLayout.removeAll()
    }

    /// Reads the decisions of one decision-stream entry (up to
    /// ``DecisionStreamFormat/decisionsPerEntry``). The entry is acknowledged once every one
    /// of them is learned or settled, and they are finalized together (see
    /// ``finalizeExpired()``), so a restart never re-reads a decision already learned.
    func ingestDecision(_ streamEntry: StreamEntry) {
        // Already tracked (read again): its decisions are pending or settled.
        if entryMembers[streamEntry.id] != nil { return }
        var members = Set<String>()
        let lines = streamEntry.fields["d"].map(DecisionStreamFormat.decisions(inField:)) ?? []
        if lines.isEmpty {
            logger.warning("skipping a decision stream entry without decisions", metadata: ["id": "\(streamEntry.id)"])
        }
        for line in lines {
            statistics.decisionsRead += 1
            guard let entry = try? JSONDecoder().decode(DecisionEntry.self, from: Data(line.utf8)) else {
                logger.warning("skipping an unreadable decision in a stream entry", metadata: ["id": "\(streamEntry.id)"])
                continue
            }
            if pending[entry.decisionID] != nil || recentlyFinalized.contains(entry.decisionID) {
                statistics.repeated += 1
                continue
            }
            if let previous = lastDecisionByUser[entry.userID], entry.time - previous.time <= configuration.rewardWindowDays,
               entry.time >= previous.time {
                pending[previous.id]?.tally.returned = true
            }
            lastDecisionByUser[entry.userID] = (entry.decisionID, entry.time)
            pending[entry.decisionID] = Pending(entry: entry, readAt: clock.now, streamIDs: [streamEntry.id])
            members.insert(entry.decisionID)
            for held in heldFeedback.removeValue(forKey: entry.decisionID) ?? [] { join(held.entry, to: entry.decisionID) }
        }
        if members.isEmpty {
            acknowledgeable[.decisions, default: []].append(streamEntry.id)
        } else {
            entryMembers[streamEntry.id] = members
        }
    }

    /// Marks a decision of entry `entryID` learned or settled; the entry becomes
    /// acknowledgeable with the last of its decisions.
    func release(_ decisionID: String, entry entryID: String) {
        guard var members = entryMembers[entryID] else { return }
        members.remove(decisionID)
        if members.isEmpty {
            entryMembers[entryID] = nil
            acknowledgeable[.decisions, default: []].append(entryID)
        } else {
            entryMembers[entryID] = members
        }
    }

    func ingestFeedback(_ streamEntry: StreamEntry) {
        statistics.feedbackRead += 1
        if let time = streamEntry.fields["time"].flatMap(Double.init) { feedbackFrontier = max(feedbackFrontier, time) }
        guard let decisionID = streamEntry.fields["decision_id"], !recentlyFinalized.contains(decisionID) else {
            orphanFeedback.append(streamEntry.id)
            return
        }
        guard pending[decisionID] != nil else {
            // Its decision is not read yet (sharded streams are read shard by shard, so
            // feedback can come first): held until it is, or for maxWait.
            heldFeedback[decisionID, default: []].append((streamEntry, clock.now))
            return
        }
        join(streamEntry, to: decisionID)
    }

    /// Adds a feedback entry to its pending decision (once per `seq`).
    func join(_ streamEntry: StreamEntry, to decisionID: String) {
        guard var state = pending[decisionID] else { return }
        state.streamIDs.append(streamEntry.id)
        if let sequence = streamEntry.fields["seq"], !state.feedbackSequences.insert(sequence).inserted {
            statistics.repeated += 1
        } else {
            state.tally.add(events: streamEntry.fields["events"] ?? "")
        }
        pending[decisionID] = state
    }

    /// Learns from every decision whose reward window has passed in event time, or that
    /// has waited longer than the configured wall-clock limit.
    func finalizeExpired() {
        let now = clock.now
        let expired = pending.values.filter {
            let waited = now - $0.readAt
            return ($0.entry.time + configuration.rewardWindowDays < feedbackFrontier && waited >= configuration.minWait)
                || waited > configuration.maxWait
        }
        // The decisions of one stream entry are finalized together, once all have expired.
        let expiredIDs = Set(expired.map(\.entry.decisionID))
        let ready = expired.filter { entryMembers[$0.streamIDs[0]]?.isSubset(of: expiredIDs) ?? true }
            .sorted { ($0.entry.time, $0.entry.decisionID) < ($1.entry.time, $1.entry.decisionID) }
        for state in ready { finalize(state) }
        for (decisionID, held) in heldFeedback {
            let stale = held.filter { now - $0.readAt > configuration.maxWait }
            guard !stale.isEmpty else { continue }
            orphanFeedback += stale.map(\.entry.id)
            let kept = held.filter { now - $0.readAt <= configuration.maxWait }
            heldFeedback[decisionID] = kept.isEmpty ? nil : kept
        }
        if !orphanFeedback.isEmpty {
            acknowledgeable[.feedback, default: []].append(contentsOf: orphanFeedback)
            orphanFeedback.removeAll()
        }
    }

    func finalize(_ state: Pending) {
        pending[state.entry.decisionID] = nil
        recentlyFinalized.insert(state.entry.decisionID)
        finalizedOrder.append(state.entry.decisionID)
        if finalizedOrder.count > Self.finalizedMemory {
            let forgotten = finalizedOrder.count - Self.finalizedMemory / 2
            for id in finalizedOrder.prefix(forgotten) { recentlyFinalized.remove(id) }
            finalizedOrder.removeFirst(forgotten)
        }
        let entry = state.entry
        guard (entry.contextSchema ?? layout.standardFingerprint) == layout.fingerprint else {
            otherLayout.append(state)
            return
        }
        let plan = entry.chosenPlan
        let reward = state.tally.reward(weights: configuration.weights, plan: plan, defaultReward: configuration.defaultReward)
        if !state.tally.sawFeedback { statistics.withoutFeedback += 1 }
        if entry.features.count == policy.bandit.contextCount, entry.plan.count == 3 {
            policy.bandit.update(
                context: entry.features, descriptors: PlanDescriptors(plan: plan), reward: reward, outcome: state.tally.pricedOutcome)
            statistics.updates += 1
            statistics.rewardSum += reward
        } else {
            logger.warning("decision does not match the policy's features; not learned", metadata: ["decision_id": "\(entry.decisionID)"])
        }
        release(entry.decisionID, entry: state.streamIDs[0])
        acknowledgeable[.feedback, default: []].append(contentsOf: state.streamIDs.dropFirst())
    }

    /// If the registry's active version is still ``baseVersion``: acknowledges everything
    /// learned since the last publication, then publishes the bandit as a new version, only
    /// over that base (atomically). Returns the version, or `nil` when nothing was learned.
    /// One learner per registry: a second would see the first's versions as foreign.
    /// - Throws: ``StreamLearnerError/activePolicyReplaced(by:base:)`` when another version was
    ///   made active (a rollback or a new policy): this learner must restart from it. Its
    ///   updates since the last publication are dropped; the entries behind them stay
    ///   unacknowledged unless the change landed between the check and the publication.
    @discardableResult
    package func publish() async throws -> String? {
        // Decisions of another layout left unsettled by a failed check hold back the
        // acknowledgement of learned decisions sharing their stream entry: settle them first,
        // so nothing learned is published unacknowledged.
        try await settleOtherLayouts()
        guard acknowledgeable.values.contains(where: { !$0.isEmpty }) else { return nil }
        try await checkBase()
        // The ids to acknowledge and the model to publish are taken together, with no
        // suspension in between: updates learned while this publication waits on the store
        // go into the next one, with their ids.
        policy.provenance.sessions = startingSessions + statistics.updates
        policy.provenance.trainedAt = PolicyProvenance.now()
        let text = try policy.rendered()
        guard case let .object(fields) = try JSONValue.parse(Data(text.utf8), file: "policy"),
              case let .string(version)? = fields["checksum"] else {
            throw StoreError.failed("the rendered policy has no checksum")
        }
        let toAcknowledge = acknowledgeable
        acknowledgeable.removeAll()
        do {
            for stream in StreamName.allCases {
                if let ids = toAcknowledge[stream], !ids.isEmpty {
                    try await store.acknowledge(stream, group: configuration.group, ids: ids)
                }
            }
        } catch {
            for (stream, ids) in toAcknowledge { acknowledgeable[stream, default: []].insert(contentsOf: ids, at: 0) }
            throw error
        }
        let outcome: PublishOutcome
        do {
            outcome = try await store.publishPolicy(
                version: version, blob: Data(text.utf8), ifActive: baseVersion,
                event: RegistryEvent(
                    version: version, previous: baseVersion, action: .learn, at: RegistryEvent.now(),
                    by: "adload learn (\(configuration.group)/\(configuration.consumer))"))
        } catch {
            uncertainVersion = version
            throw error
        }
        switch outcome {
        case .published:
            baseVersion = version
            statistics.published += 1
            return version
        case let .activeChanged(active):
            throw StreamLearnerError.activePolicyReplaced(by: active, base: baseVersion)
        }
    }
}

/// Why a ``StreamLearner`` stopped.
package enum StreamLearnerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The registry's active version is no longer the one the learner builds on.
    case activePolicyReplaced(by: String?, base: String?)

    package var description: String {
        switch self {
        case let .activePolicyReplaced(active, base):
            "the active policy is now \(active ?? "none"), not \(base ?? "none") that this learner builds on (someone published or rolled back); "
                + "its updates since the last publication are dropped: restart the learner to continue from the active policy"
        }
    }
}
