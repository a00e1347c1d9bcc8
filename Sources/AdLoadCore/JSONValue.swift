import Foundation

/// A parsed JSON document, kept whole so that configuration and policy files can be
/// validated strictly (unknown keys, wrong types, out-of-range values) with messages that
/// name the key and the value.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data`, naming `file` in the error when it is not valid JSON.
    package static func parse(_ data: Data, file: String) throws(ConfigError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw ConfigError(file: file, key: nil, value: nil, problem: "is not valid JSON (\(detail ?? context.debugDescription))")
        } catch {
            throw ConfigError(file: file, key: nil, value: nil, problem: "is not valid JSON (\(error))")
        }
    }

    /// A short rendering for error messages.
    package var summary: String {
        switch self {
        case .null: "null"
        case let .bool(value): "\(value)"
        case let .number(value): JSONNumber.compact(value)
        case let .string(value): "\"\(value)\""
        case let .array(values): "an array of \(values.count)"
        case .object: "an object"
        }
    }

    /// `text` as a JSON string literal: `"` and `\` escaped, control characters as `\n`,
    /// `\r`, `\t` or `\u00XX`. The one escaper every hand-written JSON in the project uses.
    package static func quoted(_ text: String) -> String {
        var writer = JSONWriter(capacity: text.utf8.count + 2)
        writer.string(text)
        return writer.text
    }

    /// The value as compact JSON with object keys sorted: two documents that differ only in
    /// formatting or key order have the same text (what content fingerprints hash).
    package var canonicalText: String {
        switch self {
        case .null: "null"
        case let .bool(value): value ? "true" : "false"
        case let .number(value): JSONNumber.json(value)
        case let .string(value): JSONValue.quoted(value)
        case let .array(values): "[" + values.map(\.canonicalText).joined(separator: ",") + "]"
        case let .object(fields):
            "{" + fields.keys.sorted().map { JSONValue.quoted($0) + ":" + fields[$0]!.canonicalText }.joined(separator: ",") + "}"
        }
    }

    /// The JSON type name, for "expected a number, found a string" messages.
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: Decodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Numbers first: they are most of a policy file, and each failed attempt costs a
        // thrown error.
        if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

/// A configuration value that is malformed, missing, unknown or out of range.
/// Its description is one line naming the file, the key and the value.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    /// Dotted path of the offending key (`dynamics.fatigue_decay`), or `nil` for the file.
    public let key: String?
    /// The offending value as written, or `nil` when the key is missing.
    public let value: String?
    package let problem: String

    package init(file: String, key: String?, value: String?, problem: String) {
        self.file = file
        self.key = key
        self.value = value
        self.problem = problem
    }

    public var description: String {
        switch (key, value) {
        case let (key?, value?): "\(file): key '\(key)' has value \(value): \(problem)"
        case let (key?, nil): "\(file): key '\(key)' \(problem)"
        default: "\(file) \(problem)"
        }
    }
}

/// Strict reading of one JSON object of a file (environment, policy, targets): every key
/// declared and present, every value of the right type and in range; each problem is one
/// ``ConfigError`` naming the file, the dotted key and the value.
package struct ConfigReader: Sendable {
    package let file: String
    /// Dotted path of this object inside the file ("" at the top).
    package let path: String
    let fields: [String: JSONValue]

    /// `fnv1a64:` and the hash of this object's canonical JSON without the keys in
    /// `excluding`: the same for the same content, whatever its formatting or key order.
    package func fingerprint(excluding: Set<String>) -> String {
        FNV1a64.tagged(JSONValue.object(fields.filter { !excluding.contains($0.key) }).canonicalText)
    }

    /// The largest integer a JSON number (a Double) holds exactly.
    package static let largestExactInteger = 1 << 53

    /// The bytes of the file at `path`, for the loaders of environment, targets and policy files.
    /// - Throws: `ConfigError` naming the file when it cannot be read.
    package static func contents(of path: String) throws(ConfigError) -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(file: path, key: nil, value: nil, problem: "cannot be read (\(error.localizedDescription))")
        }
    }

    /// Reads the top-level object of `data`, allowing exactly `keys` (all required) and
    /// `optionalKeys` (which may be left out).
    package init(data: Data, file: String, keys: [String], optionalKeys: [String] = []) throws(ConfigError) {
        try self.init(file: file, path: "", value: try JSONValue.parse(data, file: file), keys: keys, optionalKeys: optionalKeys)
    }

    /// Reads `value` (the object at `path` of `file`) as an object with exactly `keys` (all
    /// required) and `optionalKeys` (which may be left out).
    package init(file: String, path: String, value: JSONValue, keys: [String], optionalKeys: [String] = []) throws(ConfigError) {
        guard case let .object(fields) = value else {
            if path.isEmpty {
                throw ConfigError(file: file, key: nil, value: nil, problem: "must hold a JSON object, found \(value.typeName)")
            }
            throw ConfigError(file: file, key: path, value: value.summary, problem: "expected an object, found \(value.typeName)")
        }
        self.file = file
        self.path = path
        self.fields = fields
        let allowed = Set(keys + optionalKeys)
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ConfigError(
                file: file, key: key(unknown), value: fields[unknown]?.summary,
                problem: "unknown key (allowed here: \((keys + optionalKeys).joined(separator: ", ")))")
        }
        if let missing = keys.first(where: { fields[$0] == nil }) {
            throw ConfigError(file: file, key: key(missing), value: nil, problem: "is missing")
        }
    }

    /// The dotted path of `name` inside this object.
    package func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// The keys present in this object, sorted (for maps keyed by name, such as regions).
    package var keys: [String] { fields.keys.sorted() }

    /// The error for the value of `name`.
    package func error(_ name: String, _ value: JSONValue?, _ problem: String) -> ConfigError {
        ConfigError(file: file, key: key(name), value: value?.summary, problem: problem)
    }

    package func raw(_ name: String) throws(ConfigError) -> JSONValue {
        guard let value = fields[name] else { throw error(name, nil, "is missing") }
        return value
    }

    /// A finite number in `range`.
    package func number(_ name: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let value = try raw(name)
        guard case let .number(number) = value, number.isFinite else {
            throw error(name, value, "expected a number, found \(value.typeName)")
        }
        guard range.contains(number) else {
            throw error(name, value, "out of range, expected a number in [\(JSONNumber.compact(range.lowerBound)), \(JSONNumber.compact(range.upperBound))]")
        }
        return number
    }

    /// An integer in `range` (a JSON number holding an integer exactly, so at most 2⁵³).
    package func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let value = try raw(name)
        guard let integer = Self.integer(value) else {
            throw error(name, value, "expected an integer, found \(value.typeName == "a number" ? "a fraction or a number beyond 2^53" : value.typeName)")
        }
        guard range.contains(integer) else {
            throw error(name, value, "out of range, expected an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return integer
    }

    /// An integer in `range`, or `nil` when the value is JSON null.
    package func optionalInteger(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        if case .null = try raw(name) { return nil }
        return try integer(name, in: range)
    }

    /// A finite number in `range`, or `nil` when the value is JSON null.
    package func optionalNumber(_ name: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        if case .null = try raw(name) { return nil }
        return try number(name, in: range)
    }

    /// Whether the object has a key `name` (for optional keys).
    package func has(_ name: String) -> Bool { fields[name] != nil }

    /// Whether `name` is present and JSON null.
    package func isNull(_ name: String) -> Bool {
        if case .null = fields[name] { return true }
        return false
    }

    /// A boolean.
    package func bool(_ name: String) throws(ConfigError) -> Bool {
        let value = try raw(name)
        guard case let .bool(flag) = value else { throw error(name, value, "expected a boolean, found \(value.typeName)") }
        return flag
    }

    /// A string.
    package func string(_ name: String) throws(ConfigError) -> String {
        let value = try raw(name)
        guard case let .string(text) = value else { throw error(name, value, "expected a string, found \(value.typeName)") }
        return text
    }

    /// An array of exactly `count` numbers, each in `range`.
    package func numbers(_ name: String, count: Int, in range: ClosedRange<Double>) throws(ConfigError) -> [Double] {
        let value = try raw(name)
        guard case let .array(items) = value else { throw error(name, value, "expected an array of \(count) numbers, found \(value.typeName)") }
        guard items.count == count else { throw error(name, value, "expected exactly \(count) numbers") }
        var result: [Double] = []
        for (index, item) in items.enumerated() {
            guard case let .number(number) = item, range.contains(number) else {
                throw ConfigError(
                    file: file, key: "\(key(name))[\(index)]", value: item.summary,
                    problem: "expected a number in [\(JSONNumber.compact(range.lowerBound)), \(JSONNumber.compact(range.upperBound))]")
            }
            result.append(number)
        }
        return result
    }

    /// A non-empty array of numbers, each in `range`.
    package func numbers(_ name: String, in range: ClosedRange<Double>) throws(ConfigError) -> [Double] {
        let value = try raw(name)
        guard case let .array(items) = value, !items.isEmpty else {
            throw error(name, value, "expected a non-empty array of numbers, found \(value == .array([]) ? "an empty array" : value.typeName)")
        }
        return try numbers(name, count: items.count, in: range)
    }

    /// An array of exactly `count` finite numbers; `meaning` explains the count in the error.
    package func numbers(_ name: String, count: Int, meaning: String) throws(ConfigError) -> [Double] {
        let value = try raw(name)
        guard case let .array(items) = value else {
            throw error(name, value, "expected an array of \(count) numbers, found \(value.typeName)")
        }
        guard items.count == count else {
            throw error(name, value, "dimension mismatch: expected exactly \(count) numbers (\(meaning))")
        }
        var result: [Double] = []
        result.reserveCapacity(count)
        for (index, item) in items.enumerated() {
            guard case let .number(number) = item, number.isFinite else {
                throw ConfigError(file: file, key: "\(key(name))[\(index)]", value: item.summary, problem: "expected a finite number")
            }
            result.append(number)
        }
        return result
    }

    /// A non-empty array of distinct non-empty strings.
    package func names(_ name: String) throws(ConfigError) -> [String] {
        let value = try raw(name)
        guard case let .array(items) = value, !items.isEmpty else {
            throw error(name, value, "expected a non-empty array of strings, found \(value.typeName)")
        }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case let .string(text) = item, !text.isEmpty, !result.contains(text) else {
                throw ConfigError(
                    file: file, key: "\(key(name))[\(index)]", value: item.summary,
                    problem: "expected a non-empty string, distinct from the ones before it")
            }
            result.append(text)
        }
        return result
    }

    /// A non-empty array of integers in `range`.
    package func integers(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> [Int] {
        let value = try raw(name)
        guard case let .array(items) = value, !items.isEmpty else {
            throw error(name, value, "expected a non-empty array of integers, found \(value.typeName)")
        }
        var result: [Int] = []
        for (index, item) in items.enumerated() {
            guard let integer = Self.integer(item), range.contains(integer) else {
                throw ConfigError(
                    file: file, key: "\(key(name))[\(index)]", value: item.summary,
                    problem: "expected an integer in [\(range.lowerBound), \(range.upperBound)]")
            }
            result.append(integer)
        }
        return result
    }

    /// An object whose keys are chosen by the file, each holding a finite number.
    package func numberMap(_ name: String) throws(ConfigError) -> [String: Double] {
        let value = try raw(name)
        guard case let .object(entries) = value else {
            throw error(name, value, "expected an object of names to numbers, found \(value.typeName)")
        }
        var result: [String: Double] = [:]
        for (entry, item) in entries.sorted(by: { $0.key < $1.key }) {
            guard case let .number(number) = item, number.isFinite else {
                throw ConfigError(file: file, key: "\(key(name)).\(entry)", value: item.summary, problem: "expected a finite number")
            }
            result[entry] = number
        }
        return result
    }

    /// A nested object with every one of `keys` and any of `optionalKeys`, and no other key.
    package func object(_ name: String, keys: [String], optionalKeys: [String] = []) throws(ConfigError) -> ConfigReader {
        try ConfigReader(file: file, path: key(name), value: try raw(name), keys: keys, optionalKeys: optionalKeys)
    }

    /// A nested object whose keys are names chosen by the file (regions, devices); each
    /// value must be an object allowing exactly `keys`.
    package func namedObjects(_ name: String, keys: [String]) throws(ConfigError) -> [(name: String, reader: ConfigReader)] {
        let value = try raw(name)
        guard case let .object(fields) = value, !fields.isEmpty else {
            let found = if case .object = value { "an empty object" } else { value.typeName }
            throw error(name, value, "expected a non-empty object of named entries, found \(found)")
        }
        var result: [(name: String, reader: ConfigReader)] = []
        for (entryName, entryValue) in fields.sorted(by: { $0.key < $1.key }) {
            let entryPath = "\(key(name)).\(entryName)"
            guard case .object = entryValue else {
                throw ConfigError(file: file, key: entryPath, value: entryValue.summary, problem: "expected an object")
            }
            result.append((entryName, try ConfigReader(file: file, path: entryPath, value: entryValue, keys: keys)))
        }
        return result
    }

    /// The integer a JSON number holds exactly, or `nil`.
    package static func integer(_ value: JSONValue) -> Int? {
        guard case let .number(number) = value, number == number.rounded(), abs(number) <= Double(largestExactInteger) else {
            return nil
        }
        return Int(number)
    }
}
