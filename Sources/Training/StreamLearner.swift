import AdLoadCore
import Foundation
import Logging
import Policies
import StateStore

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
///
/// Restarts never count an event twice: stream entries are acknowledged only for finalized
/// decisions, right before the policy that includes them is published; after a restart
/// the learner starts from the active policy and re-reads what it had not acknowledged.
/// A crash between that acknowledgement and the publication loses those updates (it never
/// double-counts them).
public actor StreamLearner {
    public struct Configuration: Sendable {
        public var group = "learner"
        public var consumer = "learner-1"
        /// Days after a decision within which feedback and the user's return count.
        public var rewardWindowDays = 1.0
        /// Reward of a decision that got no feedback within the window.
        public var defaultReward = 0.0
        /// Entries read per stream call.
        public var batchSize = 1000
        /// Longest wall-clock wait for a decision's window to close in event time.
        public var maxWait: Duration = .seconds(30)
        /// Shortest wall-clock wait before a decision is finalized: feedback written right
        /// after the decision may land in a later read than feedback of later sessions
        /// (replays run users concurrently, and feed servers report late).
        public var minWait: Duration = .seconds(2)
        public var weights: RewardWeights

        public init(weights: RewardWeights) { self.weights = weights }
    }

    /// Counters of what the learner did, for progress lines and tests.
    public struct Statistics: Sendable, Equatable {
        public var decisionsRead = 0
        public var feedbackRead = 0
        public var updates = 0
        public var withoutFeedback = 0
        public var rewardSum = 0.0
        public var published = 0
        /// Decisions logged with another context layout (a policy with other history
        /// features was serving): not learned and left unacknowledged.
        public var otherLayout = 0
    }

    struct Pending {
        var entry: DecisionEntry
        var readAt = ContinuousClock.now
        var streamIDs: [String]
        var impressions = 0, clicks = 0, negatives = 0, items = 0
        var revenue = 0.0
        var sawFeedback = false
        var returned = false
    }

    let store: any LiveStore
    let configuration: Configuration
    let logger: Logger
    var policy: PolicyFile
    /// The registry's active version this learner builds on: the one it started from, then
    /// each it published. It publishes only while that is still the active version.
    public private(set) var baseVersion: String?
    /// The layout of the policy's context features: entries logged with another are not learned.
    let contextFingerprint: String
    /// The layout of entries written before entries named theirs (the standard history features).
    let unnamedFingerprint: String
    /// Layouts already warned about.
    var warnedLayouts: Set<String> = []
    let startingSessions: Int
    var pending: [String: Pending] = [:]
    var lastDecisionByUser: [String: (id: String, time: Double)] = [:]
    var orphanFeedback: [String] = []
    var acknowledgeable: [StreamName: [String]] = [:]
    /// Latest event time seen on the feedback stream.
    var feedbackFrontier = -Double.infinity
    public private(set) var statistics = Statistics()

    /// - Parameter baseVersion: The registry version `policy` was loaded from (`nil`: the
    ///   registry had none); the learner never publishes over a different active version.
    public init(store: any LiveStore, policy: PolicyFile, baseVersion: String?, configuration: Configuration, logger: Logger) {
        self.store = store
        self.policy = policy
        self.baseVersion = baseVersion
        contextFingerprint = policy.schema.contextFingerprint
        unnamedFingerprint = policy.schema.with(history: HistoryFeature.standard).contextFingerprint
        startingSessions = policy.provenance.sessions
        self.configuration = configuration
        self.logger = logger
    }

    /// The bandit as learned so far.
    public var bandit: LinearBandit { policy.bandit }

    /// Reads what the streams hold (pending entries of this consumer first, after a restart),
    /// joins and learns. Returns the number of entries read.
    @discardableResult
    public func poll(block: Duration = .milliseconds(100), includePending: Bool = false) async throws(StoreError) -> Int {
        let decisions = includePending
            ? try await store.pendingEntries(.decisions, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize)
            : try await store.readStream(.decisions, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize, block: .zero)
        for entry in decisions { ingestDecision(entry) }
        let feedback = includePending
            ? try await store.pendingEntries(.feedback, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize)
            : try await store.readStream(.feedback, group: configuration.group, consumer: configuration.consumer, count: configuration.batchSize, block: decisions.isEmpty ? block : .zero)
        for entry in feedback { ingestFeedback(entry) }
        finalizeExpired()
        return decisions.count + feedback.count
    }

    func ingestDecision(_ streamEntry: StreamEntry) {
        statistics.decisionsRead += 1
        guard let text = streamEntry.fields["d"], let entry = try? JSONDecoder().decode(DecisionEntry.self, from: Data(text.utf8)) else {
            logger.warning("skipping an unreadable decision stream entry", metadata: ["id": "\(streamEntry.id)"])
            acknowledgeable[.decisions, default: []].append(streamEntry.id)
            return
        }
        if let previous = lastDecisionByUser[entry.userID], entry.time - previous.time <= configuration.rewardWindowDays,
           entry.time >= previous.time {
            pending[previous.id]?.returned = true
        }
        lastDecisionByUser[entry.userID] = (entry.decisionID, entry.time)
        pending[entry.decisionID] = Pending(entry: entry, streamIDs: [streamEntry.id])
    }

    func ingestFeedback(_ streamEntry: StreamEntry) {
        statistics.feedbackRead += 1
        if let time = streamEntry.fields["time"].flatMap(Double.init) { feedbackFrontier = max(feedbackFrontier, time) }
        guard let decisionID = streamEntry.fields["decision_id"], var state = pending[decisionID] else {
            orphanFeedback.append(streamEntry.id)
            return
        }
        state.streamIDs.append(streamEntry.id)
        state.sawFeedback = true
        for event in (streamEntry.fields["events"] ?? "").split(separator: ",") {
            let parts = event.split(separator: ":", omittingEmptySubsequences: false)
            guard let kind = parts.first.flatMap({ FeedbackEvent.Kind(rawValue: String($0)) }) else { continue }
            let value = parts.count > 2 ? Double(parts[2]) ?? 0 : 0
            switch kind {
            case .impression:
                state.impressions += 1
                state.revenue += value
            case .click, .conversion: state.revenue += value
            case .hide, .report, .skip: state.negatives += 1
            case .dwell: state.items += 1
            case .sessionEnd: break
            }
            if kind == .click { state.clicks += 1 }
        }
        pending[decisionID] = state
    }

    /// Learns from every decision whose reward window has passed in event time, or that
    /// has waited longer than the configured wall-clock limit.
    func finalizeExpired() {
        let now = ContinuousClock.now
        let expired = pending.values.filter {
            let waited = now - $0.readAt
            return ($0.entry.time + configuration.rewardWindowDays < feedbackFrontier && waited >= configuration.minWait)
                || waited > configuration.maxWait
        }
            .sorted { ($0.entry.time, $0.entry.decisionID) < ($1.entry.time, $1.entry.decisionID) }
        for state in expired { finalize(state) }
        if !orphanFeedback.isEmpty {
            acknowledgeable[.feedback, default: []].append(contentsOf: orphanFeedback)
            orphanFeedback.removeAll()
        }
    }

    func finalize(_ state: Pending) {
        pending[state.entry.decisionID] = nil
        let entry = state.entry
        let layout = entry.contextSchema ?? unnamedFingerprint
        guard layout == contextFingerprint else {
            // Left unacknowledged: a learner started from a policy of that layout learns them.
            statistics.otherLayout += 1
            if warnedLayouts.insert(layout).inserted {
                logger.warning(
                    "decisions of another context layout (a policy with other history features served them) are not learned and stay unacknowledged; restart the learner from that policy to learn them",
                    metadata: ["context_schema": "\(layout)", "learner_context_schema": "\(contextFingerprint)"])
            }
            return
        }
        let reward: Double
        if state.sawFeedback {
            let weights = configuration.weights
            let spec = entry.plan
            let descriptors = spec.count == 3
                ? PlanDescriptors(plan: PlanSpec(first: spec[0], spacing: spec[1], maxAds: spec[2]).plan(feedLength: entry.feedLength, limit: entry.adLimit))
                : PlanDescriptors(plan: AdPlan())
            reward = weights.revenue * state.revenue + weights.items * Double(state.items) - weights.negatives * Double(state.negatives)
                - weights.adsSquared * Double(state.impressions * state.impressions) - weights.loadSquared * descriptors[2]
                + (state.returned ? weights.returned : 0)
        } else {
            reward = configuration.defaultReward
            statistics.withoutFeedback += 1
        }
        if entry.features.count == policy.bandit.contextCount, entry.plan.count == 3 {
            let spec = entry.plan
            let plan = PlanSpec(first: spec[0], spacing: spec[1], maxAds: spec[2]).plan(feedLength: entry.feedLength, limit: entry.adLimit)
            policy.bandit.update(context: entry.features, descriptors: PlanDescriptors(plan: plan), reward: reward)
            statistics.updates += 1
            statistics.rewardSum += reward
        } else {
            logger.warning("decision does not match the policy's features; not learned", metadata: ["decision_id": "\(entry.decisionID)"])
        }
        acknowledgeable[.decisions, default: []].append(state.streamIDs[0])
        acknowledgeable[.feedback, default: []].append(contentsOf: state.streamIDs.dropFirst())
    }

    /// Acknowledges everything learned since the last publication, then publishes the
    /// bandit as a new policy version if the registry's active version is still
    /// ``baseVersion``. Returns the version, or `nil` when nothing was learned.
    /// - Throws: ``StreamLearnerError/activePolicyReplaced(by:base:)`` when another version was
    ///   made active meanwhile (a rollback or a new policy): the learner's updates since its
    ///   last publication are dropped and it must restart from the new active version.
    @discardableResult
    public func publish() async throws -> String? {
        guard !(acknowledgeable[.decisions] ?? []).isEmpty || !(acknowledgeable[.feedback] ?? []).isEmpty else { return nil }
        for stream in StreamName.allCases {
            if let ids = acknowledgeable[stream], !ids.isEmpty {
                try await store.acknowledge(stream, group: configuration.group, ids: ids)
            }
        }
        acknowledgeable.removeAll()
        policy.provenance.sessions = startingSessions + statistics.updates
        policy.provenance.trainedAt = PolicyProvenance.now()
        let text = try policy.rendered()
        guard case let .object(fields) = try JSONValue.parse(Data(text.utf8), file: "policy"),
              case let .string(version)? = fields["checksum"] else {
            throw StoreError.failed("the rendered policy has no checksum")
        }
        switch try await store.publishPolicy(version: version, blob: Data(text.utf8), ifActive: baseVersion) {
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
public enum StreamLearnerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The registry's active version is no longer the one the learner builds on.
    case activePolicyReplaced(by: String?, base: String?)

    public var description: String {
        switch self {
        case let .activePolicyReplaced(active, base):
            "the active policy is now \(active ?? "none"), not \(base ?? "none") that this learner builds on (someone published or rolled back); "
                + "its updates since the last publication are dropped: restart the learner to continue from the active policy"
        }
    }
}
