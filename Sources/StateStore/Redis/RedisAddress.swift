/// Where a Redis server is and how to log in to it.
///
/// Parsed from a URL of the form `redis://[[username]:password@]host[:port][/database]`,
/// for example `redis://127.0.0.1:6379/0` or `redis://:secret@cache.internal/2`. The port
/// defaults to 6379 and the database to 0. User and password may be percent-encoded.
/// ``description`` never shows the password.
package struct RedisAddress: Sendable, Hashable {
    /// The port Redis listens on unless told otherwise.
    static let defaultPort = 6379

    /// Host name or IP address (an IPv6 address without brackets).
    package var host: String
    /// TCP port, 1 through 65535.
    package var port: Int
    /// Logical database selected after connecting (`SELECT`); 0 is the default.
    package var database: Int
    /// ACL user name for `AUTH username password`; `nil` authenticates as the default user.
    ///
    /// Used only together with ``password``.
    var username: String?
    /// Password for `AUTH`; `nil` skips authentication.
    var password: String?

    /// Creates an address from its parts, without validating them.
    ///
    /// - Parameters:
    ///   - host: Host name or IP address.
    ///   - port: TCP port; ``RedisConnection`` rejects values outside 1...65535.
    ///   - database: Database number selected after connecting.
    ///   - username: ACL user, or `nil` for the default user.
    ///   - password: Password, or `nil` for no `AUTH`.
    package init(
        host: String,
        port: Int = RedisAddress.defaultPort,
        database: Int = 0,
        username: String? = nil,
        password: String? = nil
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
    }

    /// Parses a `redis://` URL.
    ///
    /// - Parameter url: A URL such as `redis://host:port/db` or `redis://:password@host:port/db`.
    /// - Throws: ``RedisAddressError`` naming the part of the URL that is wrong.
    package init(parsing url: String) throws(RedisAddressError) {
        guard let separator = url.firstRange(of: "://") else {
            throw RedisAddressError(part: .scheme, value: url, reason: "missing `redis://` at the start")
        }
        let scheme = url[..<separator.lowerBound].lowercased()
        guard scheme == "redis" else {
            let reason = scheme == "rediss"
                ? "TLS (`rediss://`) is not supported; use `redis://`"
                : "only `redis://` is supported"
            throw RedisAddressError(part: .scheme, value: scheme, reason: reason)
        }
        var rest = url[separator.upperBound...]

        // The last `@` ends the user info, so a password may hold unencoded `/`, `?` or `@`.
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            (username, password) = try Self.parseUserInfo(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }

        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            throw RedisAddressError(
                part: .query, value: String(rest[query...]),
                reason: "query parameters and fragments are not supported; put the database in the path"
            )
        }

        var databaseText: Substring?
        if let slash = rest.firstIndex(of: "/") {
            databaseText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        let (host, portText) = try Self.splitHostPort(rest)
        let port = try portText.map(Self.parsePort) ?? Self.defaultPort

        var database = 0
        if let databaseText, !databaseText.isEmpty {
            guard let number = Self.decimal(databaseText), number <= Int(Int32.max) else {
                throw RedisAddressError(
                    part: .database, value: String(databaseText),
                    reason: "must be a non-negative whole number, as in `redis://host:6379/0`"
                )
            }
            database = number
        }

        self.init(host: host, port: port, database: database, username: username, password: password)
    }

    private static func parseUserInfo(_ userInfo: Substring) throws(RedisAddressError) -> (String?, String?) {
        guard let colon = userInfo.firstIndex(of: ":") else {
            if userInfo.isEmpty { return (nil, nil) }
            throw RedisAddressError(
                part: .username, value: String(userInfo),
                reason: "a user name needs a password (`redis://user:password@host`); for a password alone write `redis://:password@host`"
            )
        }
        let user = try percentDecoded(userInfo[..<colon], part: .username)
        let password = try percentDecoded(userInfo[userInfo.index(after: colon)...], part: .password)
        if password.isEmpty {
            if user.isEmpty { return (nil, nil) }
            throw RedisAddressError(part: .password, value: "", reason: "user `\(user)` is given with an empty password")
        }
        return (user.isEmpty ? nil : user, password)
    }

    private static func splitHostPort(_ text: Substring) throws(RedisAddressError) -> (String, Substring?) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw RedisAddressError(part: .host, value: String(text), reason: "IPv6 address is missing its closing `]`")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw RedisAddressError(part: .host, value: String(text), reason: "expected `:port` after `]`")
                }
                portText = after.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        if host.isEmpty {
            throw RedisAddressError(part: .host, value: "", reason: "the host is missing, as in `redis://127.0.0.1:6379`")
        }
        if host.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) {
            throw RedisAddressError(part: .host, value: String(host), reason: "contains whitespace or control characters")
        }
        return (String(host), portText)
    }

    private static func parsePort(_ text: Substring) throws(RedisAddressError) -> Int {
        guard let port = decimal(text), (1...65535).contains(port) else {
            throw RedisAddressError(part: .port, value: String(text), reason: "must be a whole number from 1 to 65535")
        }
        return port
    }

    /// Parses ASCII digits only (no sign, no spaces), up to 9 of them.
    private static func decimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 9, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            return nil
        }
        return Int(text)
    }

    private static func percentDecoded(_ text: Substring, part: RedisAddressError.Part) throws(RedisAddressError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw RedisAddressError(
                    part: part, value: part == .password ? "" : String(text),
                    reason: "`%` must be followed by two hexadecimal digits"
                )
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw RedisAddressError(
                part: part, value: part == .password ? "" : String(text),
                reason: "percent-encoding does not decode to UTF-8"
            )
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension RedisAddress: CustomStringConvertible {
    /// The address as a `redis://` URL with the password replaced by `***`.
    package var description: String {
        var text = "redis://"
        if password != nil {
            text += "\(username ?? ""):***@"
        }
        text += host.contains(":") ? "[\(host)]" : host
        text += ":\(port)/\(database)"
        return text
    }
}

/// A `redis://` URL that could not be parsed, naming the part that is wrong.
///
/// The offending text is kept in ``value``, except for passwords, which are never echoed.
package struct RedisAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A part of a `redis://` URL.
    package enum Part: String, Sendable, Hashable {
        /// The `redis://` prefix.
        case scheme
        /// The user name before `:password@`.
        case username
        /// The password before `@`.
        case password
        /// The host name or address.
        case host
        /// The number after `host:`.
        case port
        /// The number after `/`.
        case database
        /// Anything after `?` or `#`.
        case query
    }

    /// Which part of the URL is wrong.
    package let part: Part
    /// The text of that part as given (empty for passwords).
    package let value: String
    /// Why it was rejected, in a sentence a person can act on.
    package let reason: String

    /// Creates an error for one part of a URL.
    package init(part: Part, value: String, reason: String) {
        self.part = part
        self.value = value
        self.reason = reason
    }

    /// For example "invalid Redis URL: bad port `70000`: must be a whole number from 1 to 65535".
    package var description: String {
        let shown = part == .password || value.isEmpty ? "" : " `\(value)`"
        return "invalid Redis URL: bad \(part.rawValue)\(shown): \(reason) "
            + "(expected redis://[[user]:password@]host[:port][/database])"
    }
}
