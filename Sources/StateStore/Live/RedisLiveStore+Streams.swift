extension RedisLiveStore {
    /// Reads new entries for a consumer group, creating the group at the stream's start
    /// (`XGROUP CREATE ... 0 MKSTREAM`) in the same round trip if it does not exist.
    ///
    /// With a positive `block` the read waits on the stream client (`XREADGROUP ... BLOCK`),
    /// so it never holds a connection the decide path uses; `block` is capped at
    /// ``Options/maxBlock`` and below the stream client's command timeout. With `block` of
    /// zero it does not wait. Entries read stay pending for `consumer` until acknowledged.
    package func readStream(
        _ stream: StreamName, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        let key = keys.stream(stream)
        var read = ["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count)]
        let replies: [RedisReply]
        let create = ["XGROUP", "CREATE", key, group, "0", "MKSTREAM"]
        if block > .zero {
            let blocking = try streamClient()
            let wait = min(block, options.maxBlock, blocking.configuration.commandTimeout - .milliseconds(500))
            let milliseconds = max(1, wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
            read += ["BLOCK", String(milliseconds), "STREAMS", key, ">"]
            replies = try await blocking.execute([create, read], timeout: wait + options.writeTimeout)
        } else {
            read += ["STREAMS", key, ">"]
            replies = try await client.execute([create, read], timeout: options.writeTimeout)
        }
        if let message = replies[0].errorMessage, !message.hasPrefix("BUSYGROUP") {
            throw .failed("XGROUP CREATE \(key) \(group): \(message)")
        }
        return try Self.decodeStreamRead(Self.checked(replies[1], "XREADGROUP \(key) \(group)"), key: key)
    }

    /// Entries delivered to `consumer` and not acknowledged (`XREADGROUP ... STREAMS key 0`),
    /// oldest first; `[]` when the group does not exist.
    ///
    /// An entry trimmed from the stream since delivery comes back with no fields; acknowledge it.
    package func pendingEntries(
        _ stream: StreamName, group: String, consumer: String, count: Int, after: String = "0"
    ) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        let key = keys.stream(stream)
        let reply = try await client.execute(
            [["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count), "STREAMS", key, after]],
            timeout: options.writeTimeout
        )[0]
        if let message = reply.errorMessage, message.hasPrefix("NOGROUP") { return [] }
        return try Self.decodeStreamRead(Self.checked(reply, "XREADGROUP \(key) \(group) pending"), key: key)
    }

    /// Acknowledges entries (`XACK`); unknown ids and a missing group are ignored.
    package func acknowledge(_ stream: StreamName, group: String, ids: [String]) async throws(StoreError) {
        if ids.isEmpty { return }
        let key = keys.stream(stream)
        let reply = try await client.execute([["XACK", key, group] + ids], timeout: options.writeTimeout)[0]
        if let message = reply.errorMessage, message.hasPrefix("NOGROUP") { return }
        _ = try Self.checked(reply, "XACK \(key) \(group)")
    }

    /// Decodes an `XREADGROUP` reply: null, or `[[stream, [[id, [field, value, ...]], ...]]]`.
    static func decodeStreamRead(_ reply: RedisReply, key: String) throws(StoreError) -> [StreamEntry] {
        if reply.isNull { return [] }
        guard let streams = reply.array else {
            throw .failed("XREADGROUP \(key) answered \(reply), not an array")
        }
        var result: [StreamEntry] = []
        for stream in streams {
            guard let pair = stream.array, pair.count == 2, let entries = pair[1].array else {
                throw .failed("XREADGROUP \(key) answered a stream element \(stream) that is not [name, entries]")
            }
            result += try decodeEntries(entries, key: key)
        }
        return result
    }

    /// Decodes stream entries, each `[id, [field, value, ...]]` (a trimmed entry's fields are null).
    static func decodeEntries(_ entries: [RedisReply], key: String) throws(StoreError) -> [StreamEntry] {
        var result: [StreamEntry] = []
        for entry in entries {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else {
                throw .failed("stream \(key) answered an entry \(entry) that is not [id, fields]")
            }
            var fields: [String: String] = [:]
            if let values = parts[1].array {
                guard values.count.isMultiple(of: 2) else {
                    throw .failed("stream \(key) entry \(id) has an odd number of field elements")
                }
                for index in stride(from: 0, to: values.count, by: 2) {
                    guard let field = values[index].string, let value = values[index + 1].string else {
                        throw .failed("stream \(key) entry \(id) has a field that is not UTF-8 text")
                    }
                    fields[field] = value
                }
            } else if !parts[1].isNull {
                throw .failed("stream \(key) entry \(id) has fields \(parts[1]), not an array")
            }
            result.append(StreamEntry(id: id, fields: fields))
        }
        return result
    }

    /// The newest `count` entries before `before` (`XREVRANGE key (before - COUNT n`), oldest
    /// first. A bulk read: it has the write budget, not the decide path's read budget.
    package func latestEntries(_ stream: StreamName, before: String?, count: Int) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        let key = keys.stream(stream)
        let end = before.map { "(" + $0 } ?? "+"
        let reply = try await client.execute([["XREVRANGE", key, end, "-", "COUNT", String(count)]], timeout: options.writeTimeout)[0]
        guard let entries = try Self.checked(reply, "XREVRANGE \(key)").array else {
            throw .failed("XREVRANGE \(key) answered \(reply), not an array")
        }
        return try Self.decodeEntries(entries, key: key).reversed()
    }

    /// Entries after `after` (`XRANGE key (after + COUNT n`; "0" reads from the start). A
    /// bulk read: it has the write budget, not the decide path's read budget.
    package func entries(_ stream: StreamName, after: String, count: Int) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        let key = keys.stream(stream)
        let start = after == "0" ? "-" : "(" + after
        let reply = try await client.execute([["XRANGE", key, start, "+", "COUNT", String(count)]], timeout: options.writeTimeout)[0]
        guard let entries = try Self.checked(reply, "XRANGE \(key)").array else {
            throw .failed("XRANGE \(key) answered \(reply), not an array")
        }
        return try Self.decodeEntries(entries, key: key)
    }
}
