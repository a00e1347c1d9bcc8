import CHiredis

/// One reply from a Redis server, copied out of hiredis's reply object.
///
/// Values are plain Swift data: the hiredis object is freed as soon as it is converted.
/// Bulk strings are raw bytes, because Redis values are binary; use ``string`` to decode
/// them as UTF-8.
package enum RedisReply: Sendable, Hashable {
    /// A simple status reply such as `OK` or `PONG`.
    case status(String)
    /// An error reply such as `ERR value is not an integer or out of range`.
    ///
    /// `RedisConnection.command(_:)` throws ``RedisError/server(message:)`` for a
    /// top-level error reply; error replies appear as values inside pipelines and arrays.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string reply: binary-safe bytes.
    case bulk([UInt8])
    /// The null bulk string or null array (a missing key, a BLPOP that timed out).
    case null
    /// An array reply, possibly nested.
    case array([RedisReply])

    /// The reply as text: a bulk string that is valid UTF-8, or a status.
    ///
    /// `nil` for other replies and for bulk strings that are not valid UTF-8.
    package var string: String? {
        switch self {
        case let .bulk(bytes): String(validating: bytes, as: UTF8.self)
        case let .status(text): text
        default: nil
        }
    }

    /// The bytes of a bulk string or status reply; `nil` for other replies.
    package var bytes: [UInt8]? {
        switch self {
        case let .bulk(bytes): bytes
        case let .status(text): Array(text.utf8)
        default: nil
        }
    }

    /// The reply as an integer: an integer reply, or a bulk string or status holding a
    /// decimal integer (what `GET` returns for a counter set by `INCR`).
    ///
    /// `nil` for other replies and for text that is not an integer in range.
    package var int: Int? {
        switch self {
        case let .integer(value): Int(exactly: value)
        case .bulk, .status: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of an array reply; `nil` for other replies.
    package var array: [RedisReply]? {
        if case let .array(elements) = self { elements } else { nil }
    }

    /// The message of an error reply; `nil` for other replies.
    var errorMessage: String? {
        if case let .error(message) = self { message } else { nil }
    }

    /// Whether this is the null reply.
    var isNull: Bool {
        if case .null = self { true } else { false }
    }

    /// This reply, or ``RedisError/server(message:)`` if it is an error reply.
    ///
    /// Use it on pipeline results to treat an error reply the way
    /// `RedisConnection.command(_:)` does. Nested error replies inside arrays are not
    /// inspected.
    /// - Returns: `self` when it is not an error reply.
    package func checked() throws(RedisError) -> RedisReply {
        if case let .error(message) = self { throw .server(message: message) }
        return self
    }
}

extension RedisReply {
    /// Copies a hiredis reply tree into Swift values; does not free it.
    ///
    /// - Returns: `nil` if the tree holds a reply type this version does not know, which
    ///   means the connection can no longer be trusted.
    init?(hiredis reply: UnsafePointer<redisReply>) {
        let raw = reply.pointee
        switch raw.type {
        case REDIS_REPLY_STATUS:
            self = .status(Self.text(raw))
        case REDIS_REPLY_ERROR:
            self = .error(Self.text(raw))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(raw.integer))
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_STRING:
            self = .bulk(Self.bytes(raw))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(raw.elements)
            for index in 0..<raw.elements {
                guard let child = raw.element?[index], let element = RedisReply(hiredis: child) else {
                    return nil
                }
                elements.append(element)
            }
            self = .array(elements)
        default:
            return nil
        }
    }

    private static func bytes(_ raw: redisReply) -> [UInt8] {
        guard let str = raw.str, raw.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: raw.len))
    }

    private static func text(_ raw: redisReply) -> String {
        String(decoding: bytes(raw), as: UTF8.self)
    }
}
