import AdLoadCore

extension DecisionEntry {
    /// The entry as compact JSON with keys sorted, written straight into bytes: the decision
    /// stream gets one per decision, and Foundation's `JSONEncoder` spent about a third of
    /// the service's CPU on them under load. `JSONDecoder` reads it back as
    /// `DecisionEntry` (tested).
    public var jsonBytes: [UInt8] {
        var json = JSONWriter(capacity: 320 + features.count * 12)
        json.raw("{")
        json.key("ad_limit")
        json.integer(adLimit)
        json.raw(",")
        json.key("ad_positions")
        json.integers(adPositions)
        json.raw(",")
        json.key("chosen")
        json.integer(chosen)
        json.raw(",")
        json.key("decision_id")
        json.string(decisionID)
        json.raw(",")
        json.key("fallback")
        json.bool(fallback)
        json.raw(",")
        json.key("features")
        json.numbers(features)
        json.raw(",")
        json.key("feed_length")
        json.integer(feedLength)
        json.raw(",")
        json.key("plan")
        json.integers(plan)
        json.raw(",")
        json.key("policy_version")
        json.string(policyVersion)
        json.raw(",")
        json.key("probability")
        json.number(probability)
        json.raw(",")
        json.key("propensity")
        json.string(propensity)
        json.raw(",")
        json.key("region")
        json.string(region)
        json.raw(",")
        json.key("time")
        json.number(time)
        json.raw(",")
        json.key("user_id")
        json.string(userID)
        json.raw("}")
        return json.bytes
    }

    /// ``jsonBytes`` as text.
    public var jsonText: String { String(decoding: jsonBytes, as: UTF8.self) }
}
