import AdLoadCore

extension DecisionEntry {
    /// The entry as compact JSON with keys sorted, written by hand: the decision stream
    /// gets one per decision, and Foundation's `JSONEncoder` spent about a third of the
    /// service's CPU on these arrays under load. `JSONDecoder` reads it back as
    /// `DecisionEntry` (tested).
    public var jsonText: String {
        var text = "{\"ad_limit\":\(adLimit),\"ad_positions\":["
        text.reserveCapacity(256 + features.count * 20 + candidates.count * 12)
        for (index, position) in adPositions.enumerated() {
            if index > 0 { text += "," }
            text += String(position)
        }
        text += "],\"candidates\":["
        for (index, candidate) in candidates.enumerated() {
            text += index > 0 ? ",[" : "["
            for (offset, value) in candidate.enumerated() {
                if offset > 0 { text += "," }
                text += String(value)
            }
            text += "]"
        }
        text += "],\"chosen\":\(chosen),\"decision_id\":"
        Self.appendString(decisionID, to: &text)
        text += ",\"fallback\":\(fallback),\"features\":["
        for (index, value) in features.enumerated() {
            if index > 0 { text += "," }
            Self.appendNumber(value, to: &text)
        }
        text += "],\"feed_length\":\(feedLength),\"policy_version\":"
        Self.appendString(policyVersion, to: &text)
        text += ",\"probability\":"
        Self.appendNumber(probability, to: &text)
        text += ",\"propensity\":"
        Self.appendString(propensity, to: &text)
        text += ",\"region\":"
        Self.appendString(region, to: &text)
        text += ",\"time\":"
        Self.appendNumber(time, to: &text)
        text += ",\"user_id\":"
        Self.appendString(userID, to: &text)
        text += "}"
        return text
    }

    /// A finite number in Swift's shortest round-trip form; JSON has no NaN or infinity, so those become null.
    static func appendNumber(_ value: Double, to text: inout String) {
        text += value.isFinite ? "\(value)" : "null"
    }

    static func appendString(_ value: String, to text: inout String) {
        text += JSONValue.quoted(value)
    }
}
