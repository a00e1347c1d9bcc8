import AdLoadCore

/// What a policy sees at the start of a session: the observable context the decision
/// service will also have (request features, placement rules, behavioural history).
/// Latent traits are not here; an oracle looks them up by ``userIndex`` on purpose.
public struct SessionContext: Sendable {
    @usableFromInline package let userIndex: Int
    public let region: Int
    package let device: Int
    package let tenure: Int
    /// Observable segment (region × device × tenure).
    @usableFromInline package let segment: Int
    /// Index of this session among the user's sessions (0-based).
    package let sessionIndex: Int
    /// Simulated time at session start, in days since the user's first day.
    public let time: Double
    /// Hour of day at session start, 0...23.
    package let hour: Int
    /// Ads this user has already seen today.
    public let adsToday: Int
    /// Positions the feed can hold in this session.
    public let feedLength: Int
    /// The region's placement rules.
    public let rules: PlacementRules
    /// What the service would know from the user's past sessions.
    package let history: BehaviourHistory
    /// The user's latent state now: for the latent-aware oracles only. It is not part of
    /// ``decision``, so no learner and no service path can read it.
    let latent: LatentState

    /// The observable part, as the feature encoder and the decision service see it.
    public var decision: DecisionContext {
        DecisionContext(region: region, device: device, tenure: tenure, hour: hour, time: time, adsToday: adsToday,
                        feedLength: feedLength, rules: rules, history: history)
    }
}

/// Latent satisfaction S and ad blindness B at a session's start (ENVMODEL.md, "State
/// and dynamics"): what `oracle:dynamic` plans with and nothing else reads.
struct LatentState: Sendable, Equatable {
    var satisfaction: Double
    var blindness: Double
}

/// What a per-position policy sees at each feed position: the session so far.
public struct SessionSoFar: Sendable {
    /// Organic items watched so far.
    @usableFromInline package internal(set) var items: Int = 0
    /// Ads shown so far.
    @usableFromInline package internal(set) var ads: Int = 0
    /// Ad clicks so far (sampled).
    package internal(set) var clicks: Int = 0
    /// Negative feedback events so far (hide, report, fast skip).
    package internal(set) var negatives: Int = 0
    /// Dwell time of the last organic item, seconds (0 before the first).
    package internal(set) var lastDwell: Double = 0
    /// Total organic dwell so far, seconds.
    package internal(set) var dwell: Double = 0
    /// Position of the last ad shown so far (0 before the first).
    var lastAdPosition: Int = 0

    /// Whether the last position watched held an ad (at the session's end: the user left
    /// right after an ad).
    package var endedOnAd: Bool { ads > 0 && lastAdPosition == items + ads }

    /// An empty session (nothing watched yet).
    package init() {}
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
    /// Sets the pacing prices for the sessions that follow (the paced simulation calls it
    /// before each user's sessions of an interval). Only priced policies use them.
    mutating func setPrices(_ prices: PacingPrices)
}

extension PolicyWorker {
    /// A policy that is not priced ignores the prices.
    public mutating func setPrices(_ prices: PacingPrices) {}
}

extension SessionPolicy where Self: PolicyWorker {
    /// A stateless policy is its own worker.
    public func makeWorker() -> Self { self }
}

/// Follows a fixed per-session plan: the service's contract (one plan per session).
package struct PlanDecider: AdDecider {
    package let plan: AdPlan

    package init(plan: AdPlan) { self.plan = plan }

    @inlinable
    package mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool {
        plan.contains(tracker.position)
    }
}
