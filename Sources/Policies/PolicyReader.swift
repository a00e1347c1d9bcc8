import AdLoadCore

/// Strict reading of one object of a policy file: every key declared and present, every value
/// of the right type and in range; errors are ``ConfigError``s naming the file, the dotted key
/// and the value, as ``ConfigReader`` does for environment files.
///
/// Policy files need what `ConfigReader` does not offer (string arrays, integer arrays,
/// free-form number maps, counts up to 2⁵³), so this reader works on the parsed ``JSONValue``.
struct PolicyReader {
    let file: String
    /// Dotted path of this object ("" at the top).
    let path: String
    let fields: [String: JSONValue]

    /// The largest integer a JSON number (a Double) holds exactly.
    static let largestExactInteger = 1 << 53

    /// Reads `value` as an object with exactly `keys`.
    init(file: String, path: String, value: JSONValue, keys: [String]) throws(ConfigError) {
        guard case let .object(fields) = value else {
            if path.isEmpty {
                throw ConfigError(file: file, key: nil, value: nil, problem: "must hold a JSON object, found \(value.typeName)")
            }
            throw ConfigError(file: file, key: path, value: value.summary, problem: "expected an object, found \(value.typeName)")
        }
        self.file = file
        self.path = path
        self.fields = fields
        let allowed = Set(keys)
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ConfigError(
                file: file, key: key(unknown), value: fields[unknown]?.summary,
                problem: "unknown key (allowed here: \(keys.joined(separator: ", ")))")
        }
        if let missing = keys.first(where: { fields[$0] == nil }) {
            throw ConfigError(file: file, key: key(missing), value: nil, problem: "is missing")
        }
    }

    /// The dotted path of `name` inside this object.
    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func error(_ name: String, _ value: JSONValue?, _ problem: String) -> ConfigError {
        ConfigError(file: file, key: key(name), value: value?.summary, problem: problem)
    }

    func raw(_ name: String) throws(ConfigError) -> JSONValue {
        guard let value = fields[name] else { throw error(name, nil, "is missing") }
        return value
    }

    func string(_ name: String) throws(ConfigError) -> String {
        let value = try raw(name)
        guard case let .string(text) = value else { throw error(name, value, "expected a string, found \(value.typeName)") }
        return text
    }

    func number(_ name: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let value = try raw(name)
        guard case let .number(number) = value, number.isFinite else {
            throw error(name, value, "expected a number, found \(value.typeName)")
        }
        guard range.contains(number) else {
            throw error(name, value, "out of range, expected a number in [\(PolicyJSON.format(range.lowerBound)), \(PolicyJSON.format(range.upperBound))]")
        }
        return number
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let value = try raw(name)
        guard let integer = Self.integer(value) else {
            throw error(name, value, "expected an integer, found \(value.typeName == "a number" ? "a fraction or a number beyond 2^53" : value.typeName)")
        }
        guard range.contains(integer) else {
            throw error(name, value, "out of range, expected an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return integer
    }

    /// A non-empty array of distinct non-empty strings.
    func names(_ name: String) throws(ConfigError) -> [String] {
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
    func integers(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> [Int] {
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

    /// An array of exactly `count` finite numbers; `meaning` explains the count in the error.
    func numbers(_ name: String, count: Int, meaning: String) throws(ConfigError) -> [Double] {
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

    /// A nested object allowing exactly `keys`.
    func object(_ name: String, keys: [String]) throws(ConfigError) -> PolicyReader {
        try PolicyReader(file: file, path: key(name), value: try raw(name), keys: keys)
    }

    /// An object whose keys are chosen by the file, each holding a finite number.
    func numberMap(_ name: String) throws(ConfigError) -> [String: Double] {
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

    /// The integer a JSON number holds exactly, or `nil`.
    static func integer(_ value: JSONValue) -> Int? {
        guard case let .number(number) = value, number == number.rounded(), abs(number) <= Double(largestExactInteger) else {
            return nil
        }
        return Int(number)
    }
}
