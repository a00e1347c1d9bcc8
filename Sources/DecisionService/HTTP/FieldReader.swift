import AdLoadCore
import Foundation

/// A JSON object key by name.
struct FieldKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) {
        stringValue = name
    }

    init?(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        nil
    }
}

/// Strict reading of one JSON object inside `Decodable.init(from:)`: unknown keys are
/// rejected, required keys must be present and non-null, values must have the declared
/// type and range. Every problem is a ``RequestError`` naming the field by its path
/// (`events[2].type`). `null` for an optional key means absent.
struct FieldReader {
    let container: KeyedDecodingContainer<FieldKey>
    let prefix: String

    /// Opens the object at `decoder`'s position, rejecting keys outside `allowed`.
    init(_ decoder: any Decoder, allowed: Set<String>) throws(RequestError) {
        prefix = Self.render(decoder.codingPath)
        do {
            container = try decoder.container(keyedBy: FieldKey.self)
        } catch {
            throw .malformed(prefix.isEmpty ? "body" : prefix, "expected a JSON object")
        }
        if let unknown = container.allKeys.map(\.stringValue).filter({ !allowed.contains($0) }).min() {
            throw .malformed(path(unknown), "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// A coding path as a field path: keys joined with dots, array indices in brackets.
    static func render(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return result
    }

    /// The path of `key` inside this object.
    func path(_ key: String) -> String {
        prefix.isEmpty ? key : prefix + "." + key
    }

    /// Whether `key` is present with a non-null value; throws if it is required and not.
    func isPresent(_ key: String, required: Bool) throws(RequestError) -> Bool {
        let codingKey = FieldKey(key)
        let present = container.contains(codingKey) && !((try? container.decodeNil(forKey: codingKey)) ?? true)
        if !present && required {
            throw .malformed(path(key), container.contains(codingKey) ? "must not be null" : "is required")
        }
        return present
    }

    /// A string field; `nil` when optional and absent.
    func string(_ key: String, required: Bool, length: ClosedRange<Int>? = nil) throws(RequestError) -> String? {
        guard try isPresent(key, required: required) else { return nil }
        let value: String
        do {
            value = try container.decode(String.self, forKey: FieldKey(key))
        } catch {
            throw .malformed(path(key), "expected a string")
        }
        if let length, !length.contains(value.count) {
            throw .invalid(path(key), "must be \(length.lowerBound)–\(length.upperBound) characters long, got \(value.count)")
        }
        return value
    }

    /// A finite number field in `range`; `nil` when optional and absent.
    func number(_ key: String, required: Bool, in range: ClosedRange<Double>) throws(RequestError) -> Double? {
        guard try isPresent(key, required: required) else { return nil }
        let value: Double
        do {
            value = try container.decode(Double.self, forKey: FieldKey(key))
        } catch {
            throw .malformed(path(key), "expected a number")
        }
        guard value.isFinite, range.contains(value) else {
            throw .invalid(path(key), "must be a number in [\(JSONNumber.compact(range.lowerBound)), \(JSONNumber.compact(range.upperBound))], got \(JSONNumber.compact(value))")
        }
        return value
    }

    /// An integer field in `range`; `nil` when optional and absent. A number with a
    /// fraction is the wrong type (400), an integer outside the range is invalid (422).
    func integer(_ key: String, required: Bool, in range: ClosedRange<Int>) throws(RequestError) -> Int? {
        guard try isPresent(key, required: required) else { return nil }
        let value: Double
        do {
            value = try container.decode(Double.self, forKey: FieldKey(key))
        } catch {
            throw .malformed(path(key), "expected an integer")
        }
        guard value.isFinite, value == value.rounded() else {
            throw .malformed(path(key), "expected an integer, got \(JSONNumber.compact(value))")
        }
        guard value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            throw .invalid(path(key), "must be an integer in \(range.lowerBound)...\(range.upperBound), got \(JSONNumber.compact(value))")
        }
        return Int(value)
    }

    /// An array of strings; `nil` when optional and absent.
    func strings(_ key: String, required: Bool, maxCount: Int, maxLength: Int) throws(RequestError) -> [String]? {
        guard try isPresent(key, required: required) else { return nil }
        let values: [String]
        do {
            values = try container.decode([String].self, forKey: FieldKey(key))
        } catch {
            throw .malformed(path(key), "expected an array of strings")
        }
        guard values.count <= maxCount else {
            throw .invalid(path(key), "has \(values.count) entries, at most \(maxCount) are allowed")
        }
        if let index = values.firstIndex(where: { $0.isEmpty || $0.count > maxLength }) {
            throw .invalid(path(key) + "[\(index)]", "must be 1–\(maxLength) characters long")
        }
        return values
    }

    /// An array of objects decoded by `Element`, with `count` entries allowed.
    func objects<Element: Decodable>(_ key: String, _ type: Element.Type, count: ClosedRange<Int>) throws(RequestError) -> [Element] {
        _ = try isPresent(key, required: true)
        let codingKey = FieldKey(key)
        let length: Int
        do {
            let list = try container.nestedUnkeyedContainer(forKey: codingKey)
            length = list.count ?? 0
        } catch {
            throw .malformed(path(key), "expected an array")
        }
        guard count.contains(length) else {
            throw .invalid(path(key), "has \(length) entries, expected \(count.lowerBound)...\(count.upperBound)")
        }
        do {
            return try container.decode([Element].self, forKey: codingKey)
        } catch let error as RequestError {
            throw error
        } catch {
            throw .malformed(path(key), "expected an array of objects")
        }
    }
}

extension RequestError {
    /// The error for a body that `JSONDecoder` rejected before any field was read.
    static func undecodable(_ error: any Error) -> RequestError {
        func field(_ codingPath: [any CodingKey]) -> String {
            let path = FieldReader.render(codingPath)
            return path.isEmpty ? "body" : path
        }
        if let error = error as? RequestError { return error }
        guard let error = error as? DecodingError else { return .malformed("body", "could not be decoded") }
        switch error {
        case let .dataCorrupted(context) where context.codingPath.isEmpty:
            return .malformed("body", "is not valid JSON")
        case let .dataCorrupted(context), let .typeMismatch(_, context), let .valueNotFound(_, context):
            return .malformed(field(context.codingPath), "has the wrong type")
        case let .keyNotFound(key, context):
            return .malformed(field(context.codingPath + [key]), "is required")
        @unknown default:
            return .malformed("body", "could not be decoded")
        }
    }
}
