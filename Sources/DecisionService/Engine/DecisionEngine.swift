import AdLoadCore
import Foundation
import Policies
import StateStore

/// Why a policy cannot serve: rules missing for a region, a tenure the derivation needs
/// missing from the schema, or a policy blob that does not load.
package struct DecisionEngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One line naming the problem and the value.
    package let message: String

    /// Creates an error.
    package init(_ message: String) {
        self.message = message
    }

    /// The message.
    package var description: String { message }
}

/// One loaded policy, ready to decide: the policy (any kind, through the
/// ``DecisionPolicy`` contract), its conservative twin for fallbacks, the region rules and
/// the plan catalog built from them.
///
/// Deciding is a pure function of (policy, request, user record, decision id, time): the
/// decision's random numbers come from a ``CounterRandom`` keyed by the decision seed and
/// a hash of the decision id, so a logged decision can be recomputed exactly.
///
/// Tenure: the request's `tenure` when given; otherwise derived from the record's
/// finished sessions: fewer than ``newUserSessions`` is "new", at least
/// ``veteranSessions`` is "veteran", anything between is "established".
///
/// Working memory comes from a small pool guarded by a mutex (one lock round trip to take
/// a scratch, one to return it), and the valid plans of a (region, feed length, ad limit)
/// are built once and shared, so a decision allocates only its answer: the ad positions,
/// the logged context features and the decision entry.
package final class DecisionEngine: Sendable {
    /// The default seed of decision randomness.
    static let defaultDecisionSeed: UInt64 = 0x00AD_10AD_DEC1_5102
    /// Users with fewer finished sessions are "new" (when the request names no tenure).
    static let newUserSessions = 20
    /// Users with at least this many finished sessions are "veteran".
    static let veteranSessions = 500

    /// The policy's version in the registry (or the checksum of the file it came from).
    package let version: String
    /// The loaded policy.
    package let policy: any DecisionPolicy
    /// Placement rules by region name.
    package let rules: [String: PlacementRules]
    /// Seed of the per-decision random streams.
    package let decisionSeed: UInt64
    /// The valid plans per region (schema order).
    package let catalog: PlanCatalog

    let regionRules: [PlacementRules]
    let conservative: any DecisionPolicy
    let tenureNew: Int
    let tenureEstablished: Int
    let tenureVeteran: Int
    let random: CounterRandom
    let scratchPool: DecisionScratchPool
    let candidateLists: CandidateListCache
    /// The policy's ``FeatureSchema/contextFingerprint``, computed once: every decision
    /// stream entry carries it.
    let contextFingerprint: String

    /// Prepares `policy` to serve.
    /// - Parameters:
    ///   - policy: A loaded, verified policy file.
    ///   - version: Its version (non-empty).
    ///   - rules: Placement rules by region name; every region of the policy's schema needs one.
    ///   - decisionSeed: Seeds the per-decision random streams.
    /// - Throws: `DecisionEngineError` for an empty version, a region without rules, or a
    ///   schema without the tenures "new", "established" and "veteran".
    /// - Complexity: O(regions · family size · 512) to build the plan catalog.
    package init(
        policy: any DecisionPolicy, version: String, rules: [String: PlacementRules],
        decisionSeed: UInt64 = DecisionEngine.defaultDecisionSeed
    ) throws(DecisionEngineError) {
        guard !version.isEmpty else { throw DecisionEngineError("policy version is empty") }
        let schema = policy.schema
        var regionRules: [PlacementRules] = []
        for region in schema.regions {
            guard let regionRule = rules[region] else {
                throw DecisionEngineError(
                    "no placement rules for region \"\(region)\" of the policy's schema (rules given for: \(rules.keys.sorted().joined(separator: ", ")))")
            }
            regionRules.append(regionRule)
        }
        func tenure(_ name: String) throws(DecisionEngineError) -> Int {
            guard let index = schema.tenures.firstIndex(of: name) else {
                throw DecisionEngineError(
                    "the policy's schema has no tenure \"\(name)\" (tenures: \(schema.tenures.joined(separator: ", "))); the service derives tenure from it")
            }
            return index
        }
        tenureNew = try tenure("new")
        tenureEstablished = try tenure("established")
        tenureVeteran = try tenure("veteran")
        let conservative = policy.conservative()
        self.conservative = conservative
        let catalog = PlanCatalog(family: policy.planFamily, rules: regionRules)
        let maxCandidates = catalog.maxCandidates
        self.version = version
        self.schema = schema
        self.policy = policy
        self.rules = rules
        self.decisionSeed = decisionSeed
        self.catalog = catalog
        self.regionRules = regionRules
        random = CounterRandom(seed: decisionSeed, domain: 0x0064_6563_6964_6531)
        // The conservative twin is the same model deciding another way: its workspace serves both.
        scratchPool = DecisionScratchPool(limit: 64) { policy.makeWorkspace(maxCandidates: maxCandidates) }
        candidateLists = CandidateListCache(limit: 2048)
        contextFingerprint = schema.contextFingerprint
    }

    /// Loads a policy blob and prepares it to serve.
    /// - Parameters:
    ///   - blob: The policy file's bytes.
    ///   - source: Names the blob in errors (a path, or "registry version X").
    ///   - version: The version to report; `nil` uses the file's checksum.
    ///   - rules: Placement rules by region name.
    ///   - expectedSchema: The categories and descriptors the policy's schema must have; `nil` accepts the file's own.
    ///   - decisionSeed: Seeds the per-decision random streams.
    /// - Throws: `DecisionEngineError` carrying the loader's one-line message, or as ``init(policy:version:rules:decisionSeed:)``.
    /// - Complexity: O(d³) to verify and factor the model.
    package convenience init(
        blob: Data, source: String, version: String? = nil, rules: [String: PlacementRules], expectedSchema: FeatureSchema?,
        decisionSeed: UInt64 = DecisionEngine.defaultDecisionSeed
    ) throws(DecisionEngineError) {
        let policy: any DecisionPolicy
        let checksum: String
        do {
            policy = try PolicyFile.parse(blob, file: source, expectedSchema: expectedSchema)
            checksum = PolicyFile.checksum(of: try JSONValue.parse(blob, file: source))
        } catch {
            throw DecisionEngineError(error.description)
        }
        try self.init(policy: policy, version: version ?? checksum, rules: rules, decisionSeed: decisionSeed)
    }

    /// The same rules and seed serving another policy (a hot swap).
    /// - Throws: `DecisionEngineError` as ``init(policy:version:rules:decisionSeed:)``.
    package func replacing(policy: any DecisionPolicy, version: String) throws(DecisionEngineError) -> DecisionEngine {
        try DecisionEngine(policy: policy, version: version, rules: rules, decisionSeed: decisionSeed)
    }

    /// The feature schema requests are checked against and contexts are encoded with (the
    /// policy's, read once here rather than through the policy on every decision).
    package let schema: FeatureSchema

    /// The tenure name derived from a user's finished sessions: "new" below
    /// ``newUserSessions``, "veteran" from ``veteranSessions``, else "established".
    static func derivedTenure(totalSessions: Int) -> String {
        if totalSessions < newUserSessions { return "new" }
        if totalSessions >= veteranSessions { return "veteran" }
        return "established"
    }

    /// Looks the request's names up in the schema and re-checks its ranges.
    /// - Throws: `RequestError` (invalid) naming `region`, `device`, `tenure`, `hour` or `feed_length`.
    package func resolve(_ request: DecisionRequest) throws(RequestError) -> ResolvedDecisionRequest {
        func lookup(_ value: String, in names: [String], field: String) throws(RequestError) -> Int {
            guard let index = names.firstIndex(of: value) else {
                throw .invalid(field, "unknown \(field) \(JSONText.quoted(value)), expected one of \(names.joined(separator: ", "))")
            }
            return index
        }
        guard (0...23).contains(request.hour) else { throw .invalid("hour", "must be an integer in 0...23, got \(request.hour)") }
        guard (1...AdPlan.maxPosition).contains(request.feedLength) else {
            throw .invalid("feed_length", "must be an integer in 1...\(AdPlan.maxPosition), got \(request.feedLength)")
        }
        let region = try lookup(request.region, in: schema.regions, field: "region")
        let device = try lookup(request.device, in: schema.devices, field: "device")
        let tenure: Int? = if let name = request.tenure { try lookup(name, in: schema.tenures, field: "tenure") } else { nil }
        return ResolvedDecisionRequest(request: request, region: region, device: device, tenure: tenure)
    }

    /// Decides with the user's stored record (`nil` for a user never seen).
    /// - Parameters:
    ///   - request: A request resolved by this engine (or one with the same schema).
    ///   - record: The user's record and today's ad count.
    ///   - decisionID: Keys the decision's random stream.
    ///   - time: The decision time, days since the Unix epoch.
    /// - Complexity: the policy's decide cost, O(d² + K·|q|²) for LinUCB.
    ///   - prices: The region's pacing prices (`nil`: pacing is off, the default prices).
    package func decide(
        _ request: ResolvedDecisionRequest, record: UserRecord?, decisionID: String, time: Double, prices: PacingPrices? = nil
    ) -> Decision {
        let record = record ?? .new
        let tenure = request.tenure ?? tenureIndex(totalSessions: record.totalSessions)
        return decide(
            request, history: record.behaviourHistory, tenure: tenure, adsToday: max(0, record.adsToday), decisionID: decisionID,
            time: time, prices: prices, policy: policy, fallback: false)
    }

    /// Decides without user state (the store failed, timed out or the circuit is open).
    ///
    /// The conservative context: an empty history (a new user), tenure from the request or
    /// else "new", and the policy's conservative twin (``DecisionPolicy/conservative()``:
    /// no exploration), so the reported probability is exact. The daily ad counter is unknown, so a region with a
    /// daily cap gets the plan with no ads: a hard rule is never broken for lack of state.
    /// - Complexity: O(d + K·|q|).
    func decideFallback(_ request: ResolvedDecisionRequest, decisionID: String, time: Double, prices: PacingPrices? = nil) -> Decision {
        let adsToday = regionRules[request.region].dailyCap ?? 0
        return decide(
            request, history: BehaviourHistory(), tenure: request.tenure ?? tenureNew, adsToday: adsToday,
            decisionID: decisionID, time: time, prices: prices, policy: conservative, fallback: true)
    }

    func tenureIndex(totalSessions: Int) -> Int {
        if totalSessions < Self.newUserSessions { return tenureNew }
        if totalSessions >= Self.veteranSessions { return tenureVeteran }
        return tenureEstablished
    }

    /// The context, the valid plans and the ad limit of a decision: what deciding and
    /// explaining share.
    func prepare(
        _ request: ResolvedDecisionRequest, history: BehaviourHistory, tenure: Int, adsToday: Int, time: Double,
        prices: PacingPrices?
    ) -> (context: DecisionContext, candidates: [CandidatePlan], adLimit: Int) {
        let regionRules = regionRules[request.region]
        let feedLength = request.request.feedLength
        var context = DecisionContext(
            region: request.region, device: request.device, tenure: tenure, hour: request.request.hour, time: time,
            adsToday: adsToday, feedLength: feedLength, rules: regionRules, history: history)
        if let prices { context.prices = prices }
        // An empty list of ad formats means the client can show no ad in this session.
        let formatLimit = request.request.adFormats?.isEmpty == true ? 0 : Int.max
        let adLimit = min(formatLimit, regionRules.maxAdsPerSession, regionRules.dailyCap.map { max(0, $0 - adsToday) } ?? Int.max)
        // The plans depend on the ads today and the formats only through the ad limit, so the list is shared by that key.
        let candidates = candidateLists.list(for: .init(region: request.region, feedLength: feedLength, adLimit: adLimit)) {
            var list: [CandidatePlan] = []
            catalog.candidates(region: request.region, feedLength: feedLength, adsToday: adsToday, maxAds: formatLimit, into: &list)
            return list
        }
        return (context, candidates, adLimit)
    }

    func decide(
        _ request: ResolvedDecisionRequest, history: BehaviourHistory, tenure: Int, adsToday: Int, decisionID: String,
        time: Double, prices: PacingPrices?, policy: any DecisionPolicy, fallback: Bool
    ) -> Decision {
        let (context, candidates, adLimit) = prepare(request, history: history, tenure: tenure, adsToday: adsToday, time: time, prices: prices)
        let feedLength = request.request.feedLength
        let workspace = scratchPool.take()
        workspace.encode(context, schema: schema)
        let choice = policy.decide(candidates, random: random.child(DecisionIDCodec.hash(decisionID)), workspace: workspace)
        let chosen = candidates[choice.index]
        let features = workspace.context
        scratchPool.put(workspace)
        let propensity = choice.propensityKind.label
        let entry = DecisionEntry(
            decisionID: decisionID, userID: request.request.userID, time: time, region: schema.regions[request.region],
            policyVersion: version, features: features, plan: [chosen.spec.first, chosen.spec.spacing, chosen.spec.maxAds],
            chosen: choice.index,
            adPositions: chosen.plan.positions, probability: choice.probability, propensity: propensity, fallback: fallback,
            feedLength: feedLength, adLimit: adLimit, sessionID: request.request.sessionID, contextSchema: contextFingerprint,
            prices: prices.map { [$0.revenue, $0.impressions, $0.negatives, $0.organic] })
        return Decision(plan: chosen.spec, propensityKind: choice.propensityKind, entry: entry)
    }

    /// Every valid plan of the decision ``decide(_:record:decisionID:time:prices:)`` would make
    /// for the same inputs, with its score, the parts of the score and its probability, and
    /// that decision (`adload policy explain`).
    package func explain(
        _ request: ResolvedDecisionRequest, record: UserRecord?, decisionID: String, time: Double, prices: PacingPrices? = nil
    ) -> (candidates: [CandidatePlan], explanation: PolicyExplanation) {
        let record = record ?? .new
        let tenure = request.tenure ?? tenureIndex(totalSessions: record.totalSessions)
        let (context, candidates, _) = prepare(
            request, history: record.behaviourHistory, tenure: tenure, adsToday: max(0, record.adsToday), time: time, prices: prices)
        let workspace = policy.makeWorkspace(maxCandidates: candidates.count)
        workspace.encode(context, schema: schema)
        let explanation = policy.explain(candidates, random: random.child(DecisionIDCodec.hash(decisionID)), workspace: workspace)
        return (candidates, explanation)
    }
}
