import Foundation

/// A parsed JSON document, kept whole so that configuration and policy files can be
/// validated strictly (unknown keys, wrong types, out-of-range values) with messages that
/// name the key and the value.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data`, naming `file` in the error when it is not valid JSON.
    public static func parse(_ data: Data, file: String) throws(ConfigError) -> JSONValue {
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
    public var summary: String {
        switch self {
        case .null: "null"
        case let .bool(value): "\(value)"
        case let .number(value): value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
        case let .string(value): "\"\(value)\""
        case let .array(values): "an array of \(values.count)"
        case .object: "an object"
        }
    }

    /// `text` as a JSON string literal: `"` and `\` escaped, control characters as `\n`,
    /// `\r`, `\t` or `\u00XX`. The one escaper every hand-written JSON in the project uses.
    public static func quoted(_ text: String) -> String {
        var writer = JSONWriter(capacity: text.utf8.count + 2)
        writer.string(text)
        return writer.text
    }

    /// The JSON type name, for "expected a number, found a string" messages.
    public var typeName: String {
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
    public init(from decoder: any Decoder) throws {
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
    public let problem: String

    public init(file: String, key: String?, value: String?, problem: String) {
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

/// Strict reading of one JSON object: every key must be declared, present and in range.
public struct ConfigReader: Sendable {
    public let file: String
    /// Dotted path of this object inside the file ("" at the top).
    public let path: String
    let fields: [String: JSONValue]

    /// Reads the top-level object of `data`, allowing exactly `keys`.
    public init(data: Data, file: String, keys: [String]) throws(ConfigError) {
        let value = try JSONValue.parse(data, file: file)
        guard case let .object(fields) = value else {
            throw ConfigError(file: file, key: nil, value: nil, problem: "must hold a JSON object, found \(value.typeName)")
        }
        try self.init(file: file, path: "", fields: fields, keys: keys)
    }

    init(file: String, path: String, fields: [String: JSONValue], keys: [String]) throws(ConfigError) {
        self.file = file
        self.path = path
        self.fields = fields
        let allowed = Set(keys)
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ConfigError(
                file: file, key: Self.join(path, unknown), value: fields[unknown]?.summary,
                problem: "unknown key (allowed here: \(keys.joined(separator: ", ")))")
        }
        if let missing = keys.first(where: { fields[$0] == nil }) {
            throw ConfigError(file: file, key: Self.join(path, missing), value: nil, problem: "is missing")
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The keys present in this object, sorted (for maps keyed by name, such as regions).
    public var keys: [String] { fields.keys.sorted() }

    func error(_ key: String, _ value: JSONValue?, _ problem: String) -> ConfigError {
        ConfigError(file: file, key: Self.join(path, key), value: value?.summary, problem: problem)
    }

    func raw(_ key: String) throws(ConfigError) -> JSONValue {
        guard let value = fields[key] else { throw error(key, nil, "is missing") }
        return value
    }

    /// A number in `range`.
    public func number(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let value = try raw(key)
        guard case let .number(number) = value else { throw error(key, value, "expected a number, found \(value.typeName)") }
        guard range.contains(number) else {
            throw error(key, value, "out of range, expected a number in [\(Self.format(range.lowerBound)), \(Self.format(range.upperBound))]")
        }
        return number
    }

    /// An integer in `range`.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let value = try raw(key)
        guard case let .number(number) = value, number == number.rounded(), abs(number) < 1e15 else {
            throw error(key, value, "expected an integer, found \(value.typeName == "a number" ? "a fraction" : value.typeName)")
        }
        guard range.contains(Int(number)) else {
            throw error(key, value, "out of range, expected an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return Int(number)
    }

    /// An integer in `range`, or `nil` when the value is JSON null.
    public func optionalInteger(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        if case .null = try raw(key) { return nil }
        return try integer(key, in: range)
    }

    /// A boolean.
    public func bool(_ key: String) throws(ConfigError) -> Bool {
        let value = try raw(key)
        guard case let .bool(flag) = value else { throw error(key, value, "expected a boolean, found \(value.typeName)") }
        return flag
    }

    /// A string.
    public func string(_ key: String) throws(ConfigError) -> String {
        let value = try raw(key)
        guard case let .string(text) = value else { throw error(key, value, "expected a string, found \(value.typeName)") }
        return text
    }

    /// An array of exactly `count` numbers, each in `range`.
    public func numbers(_ key: String, count: Int, in range: ClosedRange<Double>) throws(ConfigError) -> [Double] {
        let value = try raw(key)
        guard case let .array(items) = value else { throw error(key, value, "expected an array of \(count) numbers, found \(value.typeName)") }
        guard items.count == count else { throw error(key, value, "expected exactly \(count) numbers") }
        var result: [Double] = []
        for (index, item) in items.enumerated() {
            guard case let .number(number) = item, range.contains(number) else {
                throw ConfigError(
                    file: file, key: "\(Self.join(path, key))[\(index)]", value: item.summary,
                    problem: "expected a number in [\(Self.format(range.lowerBound)), \(Self.format(range.upperBound))]")
            }
            result.append(number)
        }
        return result
    }

    /// A nested object allowing exactly `keys`.
    public func object(_ key: String, keys: [String]) throws(ConfigError) -> ConfigReader {
        let value = try raw(key)
        guard case let .object(fields) = value else { throw error(key, value, "expected an object, found \(value.typeName)") }
        return try ConfigReader(file: file, path: Self.join(path, key), fields: fields, keys: keys)
    }

    /// A nested object whose keys are names chosen by the file (regions, devices); each
    /// value must be an object allowing exactly `keys`.
    public func namedObjects(_ key: String, keys: [String]) throws(ConfigError) -> [(name: String, reader: ConfigReader)] {
        let value = try raw(key)
        guard case let .object(fields) = value, !fields.isEmpty else {
            throw error(key, value, "expected a non-empty object of named entries, found \(value.typeName)")
        }
        var result: [(name: String, reader: ConfigReader)] = []
        for (name, entryValue) in fields.sorted(by: { $0.key < $1.key }) {
            let entryPath = Self.join(Self.join(path, key), name)
            guard case let .object(entry) = entryValue else {
                throw ConfigError(file: file, key: entryPath, value: entryValue.summary, problem: "expected an object")
            }
            result.append((name, try ConfigReader(file: file, path: entryPath, fields: entry, keys: keys)))
        }
        return result
    }

    static func format(_ number: Double) -> String {
        if number.isInfinite { return number > 0 ? "inf" : "-inf" }
        return number == number.rounded() && abs(number) < 1e15 ? "\(Int(number))" : "\(number)"
    }
}
