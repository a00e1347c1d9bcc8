extension DecisionEntry {
    /// The entry as compact JSON with keys sorted, written straight into bytes: the decision
    /// stream gets one per decision, and Foundation's `JSONEncoder` spent about a third of
    /// the service's CPU on them under load. `JSONDecoder` reads it back as
    /// `DecisionEntry` (tested).
    package var jsonBytes: [UInt8] {
        var json = JSONWriter(capacity: 360 + features.count * 12)
        json.beginObject()
        json.key("ad_limit")
        json.integer(adLimit)
        json.key("ad_positions")
        json.integers(adPositions)
        json.key("chosen")
        json.integer(chosen)
        if let contextSchema {
            json.key("context_schema")
            json.string(contextSchema)
        }
        json.key("decision_id")
        json.string(decisionID)
        json.key("fallback")
        json.bool(fallback)
        json.key("features")
        json.numbers(features)
        json.key("feed_length")
        json.integer(feedLength)
        json.key("plan")
        json.integers(plan)
        json.key("policy_version")
        json.string(policyVersion)
        if let prices {
            json.key("prices")
            json.numbers(prices)
        }
        json.key("probability")
        json.number(probability)
        json.key("propensity")
        json.string(propensity)
        json.key("region")
        json.string(region)
        if let sessionID {
            json.key("session_id")
            json.string(sessionID)
        }
        json.key("time")
        json.number(time)
        json.key("user_id")
        json.string(userID)
        json.endObject()
        return json.bytes
    }

    /// ``jsonBytes`` as text.
    package var jsonText: String { String(decoding: jsonBytes, as: UTF8.self) }
}
