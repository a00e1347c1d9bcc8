import AdLoadCore

/// What a policy sees at the start of a session: the observable context the decision
/// service will also have (request features, placement rules, behavioural history).
/// Latent traits are not here; an oracle looks them up by ``userIndex`` on purpose.
public struct SessionContext: Sendable {
    public let userIndex: Int
    public let region: Int
    public let device: Int
    public let tenure: Int
    /// Observable segment (region × device × tenure).
    public let segment: Int
    /// Index of this session among the user's sessions (0-based).
    public let sessionIndex: Int
    /// Simulated time at session start, in days since the user's first day.
    public let time: Double
    /// Hour of day at session start, 0...23.
    public let hour: Int
    /// Ads this user has already seen today.
    public let adsToday: Int
    /// Positions the feed can hold in this session.
    public let feedLength: Int
    /// The region's placement rules.
    public let rules: PlacementRules
    /// What the service would know from the user's past sessions.
    public let history: BehaviourHistory

    /// The observable part, as the feature encoder and the decision service see it.
    public var decision: DecisionContext {
        DecisionContext(region: region, device: device, tenure: tenure, hour: hour, time: time, adsToday: adsToday,
                        feedLength: feedLength, rules: rules, history: history)
    }
}

/// What a per-position policy sees at each feed position: the session so far.
public struct SessionSoFar: Sendable {
    /// Organic items watched so far.
    public internal(set) var items: Int = 0
    /// Ads shown so far.
    public internal(set) var ads: Int = 0
    /// Ad clicks so far (sampled).
    public internal(set) var clicks: Int = 0
    /// Negative feedback events so far (hide, report, fast skip).
    public internal(set) var negatives: Int = 0
    /// Dwell time of the last organic item, seconds (0 before the first).
    public internal(set) var lastDwell: Double = 0
    /// Total organic dwell so far, seconds.
    public internal(set) var dwell: Double = 0
    /// Position of the last ad shown so far (0 before the first).
    public internal(set) var lastAdPosition: Int = 0

    /// Whether the last position watched held an ad (at the session's end: the user left
    /// right after an ad).
    public var endedOnAd: Bool { ads > 0 && lastAdPosition == items + ads }

    /// An empty session (nothing watched yet).
    public init() {}
}

/// Decides, position by position within one session, whether to show an ad.
///
/// The per-position mode: it sees what happened so far. A per-session plan is the special
/// case ``PlanDecider`` that ignores it. The simulator only honours an ad the placement
/// rules allow and reports any other as a rule violation.
public protocol AdDecider {
    /// Whether the current position (`tracker.position`, 1-based) gets an ad.
    mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool
}

/// A policy the simulator can run. Policies are immutable values shared by all simulation
/// threads; each thread asks for its own ``PolicyWorker``, which may keep scratch buffers
/// so that deciding allocates nothing per session.
public protocol SessionPolicy: Sendable {
    associatedtype Worker: PolicyWorker
    /// A short name for reports (`fixed:every=12`).
    var name: String { get }
    /// A worker for one thread.
    func makeWorker() -> Worker
}

/// The per-thread side of a policy: starts sessions.
public protocol PolicyWorker {
    associatedtype Decider: AdDecider
    /// Starts a session: returns the decider for its positions.
    mutating func beginSession(_ context: SessionContext) -> Decider
}

extension SessionPolicy where Self: PolicyWorker {
    /// A stateless policy is its own worker.
    public func makeWorker() -> Self { self }
}

/// Follows a fixed per-session plan: the service's contract (one plan per session).
public struct PlanDecider: AdDecider {
    public let plan: AdPlan

    public init(plan: AdPlan) { self.plan = plan }

    @inlinable
    public mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool {
        plan.contains(tracker.position)
    }
}
