/// A decision as appended to the decision stream (JSON in the stream entry's `d` field).
///
/// The valid plans offered are not stored: they are a function of the policy version's
/// plan family, the region's rules, `feed_length` and `ad_limit`
/// (`PlanCatalog.candidates`), and `chosen` indexes that list. Entries written before
/// this field existed carried the whole list as `candidates`; they still decode, with
/// `plan` taken from the chosen candidate.
public struct DecisionEntry: Sendable, Equatable, Codable {
    public var decisionID: String
    public var userID: String
    /// Decision time, days since the epoch.
    public var time: Double
    public var region: String
    public var policyVersion: String
    /// Context features c.
    public var features: [Double]
    /// The chosen plan family member as [first, every, max].
    public var plan: [Int]
    /// Index of the chosen plan among the valid plans for (region, feed length, ad limit).
    public var chosen: Int
    public var adPositions: [Int]
    public var probability: Double
    /// "exact" or "estimated:N".
    public var propensity: String
    public var fallback: Bool
    public var feedLength: Int
    public var adLimit: Int
    /// The feed server's session id from the decide request; `nil` in entries written
    /// before it was logged.
    public var sessionID: String?
    /// `FeatureSchema.contextFingerprint` of the layout of `features`; `nil` in entries
    /// written before it was logged (the standard history features).
    public var contextSchema: String?

    enum CodingKeys: String, CodingKey {
        case contextSchema = "context_schema"
        case time, region, features, plan, candidates, chosen, probability, propensity, fallback
        case decisionID = "decision_id", userID = "user_id", policyVersion = "policy_version", sessionID = "session_id"
        case adPositions = "ad_positions", feedLength = "feed_length", adLimit = "ad_limit"
    }

    public init(
        decisionID: String, userID: String, time: Double, region: String, policyVersion: String, features: [Double],
        plan: [Int], chosen: Int, adPositions: [Int], probability: Double, propensity: String, fallback: Bool,
        feedLength: Int, adLimit: Int, sessionID: String? = nil, contextSchema: String? = nil
    ) {
        self.sessionID = sessionID
        self.contextSchema = contextSchema
        self.decisionID = decisionID
        self.userID = userID
        self.time = time
        self.region = region
        self.policyVersion = policyVersion
        self.features = features
        self.plan = plan
        self.chosen = chosen
        self.adPositions = adPositions
        self.probability = probability
        self.propensity = propensity
        self.fallback = fallback
        self.feedLength = feedLength
        self.adLimit = adLimit
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        decisionID = try container.decode(String.self, forKey: .decisionID)
        userID = try container.decode(String.self, forKey: .userID)
        time = try container.decode(Double.self, forKey: .time)
        region = try container.decode(String.self, forKey: .region)
        policyVersion = try container.decode(String.self, forKey: .policyVersion)
        features = try container.decode([Double].self, forKey: .features)
        chosen = try container.decode(Int.self, forKey: .chosen)
        if let plan = try container.decodeIfPresent([Int].self, forKey: .plan) {
            self.plan = plan
        } else {
            let candidates = try container.decode([[Int]].self, forKey: .candidates)
            guard candidates.indices.contains(chosen) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .chosen, in: container, debugDescription: "chosen \(chosen) is not an index of the \(candidates.count) candidates")
            }
            plan = candidates[chosen]
        }
        adPositions = try container.decode([Int].self, forKey: .adPositions)
        probability = try container.decode(Double.self, forKey: .probability)
        propensity = try container.decode(String.self, forKey: .propensity)
        fallback = try container.decode(Bool.self, forKey: .fallback)
        feedLength = try container.decode(Int.self, forKey: .feedLength)
        adLimit = try container.decode(Int.self, forKey: .adLimit)
        sessionID = try container.decodeIfPresent(String.self, forKey: .sessionID)
        contextSchema = try container.decodeIfPresent(String.self, forKey: .contextSchema)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(decisionID, forKey: .decisionID)
        try container.encode(userID, forKey: .userID)
        try container.encode(time, forKey: .time)
        try container.encode(region, forKey: .region)
        try container.encode(policyVersion, forKey: .policyVersion)
        try container.encode(features, forKey: .features)
        try container.encode(plan, forKey: .plan)
        try container.encode(chosen, forKey: .chosen)
        try container.encode(adPositions, forKey: .adPositions)
        try container.encode(probability, forKey: .probability)
        try container.encode(propensity, forKey: .propensity)
        try container.encode(fallback, forKey: .fallback)
        try container.encode(feedLength, forKey: .feedLength)
        try container.encode(adLimit, forKey: .adLimit)
        try container.encodeIfPresent(sessionID, forKey: .sessionID)
        try container.encodeIfPresent(contextSchema, forKey: .contextSchema)
    }
}
