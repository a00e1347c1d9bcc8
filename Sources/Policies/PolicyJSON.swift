import AdLoadCore

/// A JSON tree with ordered keys, for writing policy files deterministically.
indirect enum OrderedJSON: Sendable {
    case number(Double)
    case string(String)
    case array([OrderedJSON])
    /// A flat array of numbers printed `columns` to a line (a row-major matrix).
    case matrix([Double], columns: Int)
    case object([(key: String, value: OrderedJSON)])

    /// The same tree as a parsed document would hold it, for checksumming.
    var value: JSONValue {
        switch self {
        case let .number(number): .number(number)
        case let .string(text): .string(text)
        case let .array(items): .array(items.map(\.value))
        case let .matrix(numbers, _): .array(numbers.map { .number($0) })
        case let .object(fields):
            .object(Dictionary(fields.map { ($0.key, $0.value.value) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    /// Pretty-printed text: two-space indentation, one key per line, scalar arrays on one
    /// line, matrices one row per line.
    func rendered(indent: String = "") -> String {
        var output = ""
        render(into: &output, indent: indent)
        return output
    }

    private func render(into output: inout String, indent: String) {
        switch self {
        case let .number(number):
            output += JSONNumber.compact(number)
        case let .string(text):
            output += PolicyJSON.quoted(text)
        case let .array(items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += ", " }
                item.render(into: &output, indent: indent)
            }
            output += "]"
        case let .matrix(numbers, columns):
            guard !numbers.isEmpty, columns > 0 else {
                output += "[]"
                return
            }
            output += "[\n"
            let rows = (numbers.count + columns - 1) / columns
            for row in 0..<rows {
                let slice = numbers[(row * columns)..<min(numbers.count, (row + 1) * columns)]
                output += indent + "  " + slice.map(JSONNumber.compact).joined(separator: ", ")
                output += row < rows - 1 ? ",\n" : "\n"
            }
            output += indent + "]"
        case let .object(fields):
            guard !fields.isEmpty else {
                output += "{}"
                return
            }
            output += "{\n"
            for (index, field) in fields.enumerated() {
                output += indent + "  " + PolicyJSON.quoted(field.key) + ": "
                field.value.render(into: &output, indent: indent + "  ")
                output += index < fields.count - 1 ? ",\n" : "\n"
            }
            output += indent + "}"
        }
    }
}

/// Canonical rendering and the FNV-1a checksum of policy files (numbers as ``JSONNumber/compact(_:)`` writes them).
enum PolicyJSON {
    /// A JSON string literal (see `JSONValue.quoted(_:)`).
    static func quoted(_ text: String) -> String { JSONValue.quoted(text) }

    /// The canonical rendering the checksum covers: compact JSON, object keys sorted by their
    /// UTF-8 bytes, numbers as `format` prints them. It depends only on the values, not on the
    /// file's layout, so re-indenting a file or reordering its keys keeps its checksum.
    static func canonical(_ value: JSONValue) -> String {
        var output = ""
        canonical(value, into: &output)
        return output
    }

    private static func canonical(_ value: JSONValue, into output: inout String) {
        switch value {
        case .null: output += "null"
        case let .bool(flag): output += flag ? "true" : "false"
        case let .number(number): output += JSONNumber.compact(number)
        case let .string(text): output += quoted(text)
        case let .array(items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                canonical(item, into: &output)
            }
            output += "]"
        case let .object(fields):
            output += "{"
            let keys = fields.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() {
                if index > 0 { output += "," }
                output += quoted(key) + ":"
                if let field = fields[key] {
                    canonical(field, into: &output)
                }
            }
            output += "}"
        }
    }
}
