/// A decision as appended to the decision stream (JSON in the stream entry's `d` field).
///
/// The valid plans offered are not stored: they are a function of the policy version's
/// plan family, the region's rules, `feed_length` and `ad_limit`
/// (`PlanCatalog.candidates`), and `chosen` indexes that list.
package struct DecisionEntry: Sendable, Equatable, Codable {
    package var decisionID: String
    package var userID: String
    /// Decision time, days since the epoch.
    package var time: Double
    package var region: String
    package var policyVersion: String
    /// Context features c.
    package var features: [Double]
    /// The chosen plan family member as [first, every, max].
    package var plan: [Int]
    /// Index of the chosen plan among the valid plans for (region, feed length, ad limit).
    package var chosen: Int
    package var adPositions: [Int]
    package var probability: Double
    /// "exact" or "estimated:N".
    package var propensity: String
    package var fallback: Bool
    package var feedLength: Int
    package var adLimit: Int
    /// The feed server's session id from the decide request; `nil` in entries written
    /// before it was logged.
    package var sessionID: String?
    /// `FeatureSchema.contextFingerprint` of the layout of `features`; `nil` in entries
    /// written before it was logged (the standard history features).
    package var contextSchema: String?
    /// The pacing prices the decision used (revenue, impressions, negatives, organic), when
    /// pacing was on; `nil` otherwise (the default prices).
    package var prices: [Double]?

    enum CodingKeys: String, CodingKey {
        case contextSchema = "context_schema"
        case prices
        case time, region, features, plan, chosen, probability, propensity, fallback
        case decisionID = "decision_id", userID = "user_id", policyVersion = "policy_version", sessionID = "session_id"
        case adPositions = "ad_positions", feedLength = "feed_length", adLimit = "ad_limit"
    }

    package init(
        decisionID: String, userID: String, time: Double, region: String, policyVersion: String, features: [Double],
        plan: [Int], chosen: Int, adPositions: [Int], probability: Double, propensity: String, fallback: Bool,
        feedLength: Int, adLimit: Int, sessionID: String? = nil, contextSchema: String? = nil, prices: [Double]? = nil
    ) {
        self.prices = prices
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
}
