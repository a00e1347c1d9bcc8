import AdLoadCore

/// Renders values for error messages.
enum JSONText {
    /// `value` as a JSON string literal, cut to 64 characters so a huge value cannot flood a message.
    static func quoted(_ value: String) -> String {
        let shown = value.count > 64 ? String(value.prefix(64)) + "…" : value
        return JSONValue.quoted(shown)
    }
}
