import Foundation

/// A stream entry id of a sharded store, `<redis id>@<shard>` (for example `1733000000000-0@7`):
/// ids say which shard an entry is in, so acknowledgements and cursors reach it.
///
/// Entries of all shards are ordered by Redis id, then shard. Redis ids are the writing
/// master's clock in milliseconds and a sequence, so this is time order to within the
/// masters' clock difference.
struct StreamShardID: Comparable {
    var milliseconds: UInt64
    var sequence: UInt64
    var shard: Int

    /// The Redis id, `<ms>-<seq>`.
    var redisID: String { "\(milliseconds)-\(sequence)" }
    /// The qualified form, `<ms>-<seq>@<shard>`.
    var text: String { "\(redisID)@\(shard)" }

    /// Reads `<ms>-<seq>@<shard>`, or a plain `<ms>-<seq>` as ``plainShard``.
    init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2, let redis = parts.first else { return nil }
        let numbers = redis.split(separator: "-", omittingEmptySubsequences: false)
        guard let milliseconds = numbers.first.flatMap({ UInt64($0) }) else { return nil }
        guard numbers.count <= 2 else { return nil }
        let sequence = numbers.count == 2 ? UInt64(numbers[1]) : 0
        guard let sequence else { return nil }
        let shard = parts.count == 2 ? Int(parts[1]) : Self.plainShard
        guard let shard, shard >= 0 else { return nil }
        self.milliseconds = milliseconds
        self.sequence = sequence
        self.shard = shard
    }

    init(redisID: String, shard: Int) throws(StoreError) {
        guard var parsed = StreamShardID(redisID), parsed.shard == Self.plainShard else {
            throw .failed("stream shard \(shard) answered the entry id `\(redisID)`, not <ms>-<seq>")
        }
        parsed.shard = shard
        self = parsed
    }

    /// The shard of a plain id used as a cursor: after every shard's entries with that id,
    /// so "after `<ms>-<seq>`" means what it means on one stream.
    static let plainShard = Int.max

    static func < (a: StreamShardID, b: StreamShardID) -> Bool {
        (a.milliseconds, a.sequence, a.shard) < (b.milliseconds, b.sequence, b.shard)
    }
}

extension RedisLiveStore {
    /// Reads new entries for a consumer group, creating the group at the stream's start
    /// (`XGROUP CREATE ... 0 MKSTREAM`) in the same round trip if it does not exist.
    ///
    /// With a positive `block` the read waits on the stream client (`XREADGROUP ... BLOCK`),
    /// so it never holds a connection the decide path uses; `block` is capped at
    /// ``Options/maxBlock`` and below the stream client's command timeout. With `block` of
    /// zero it does not wait. Entries read stay pending for `consumer` until acknowledged.
    ///
    /// Sharded streams are read shard by shard on the main client, starting one shard
    /// further on each call, until `count` entries are read; the result is in shard order,
    /// not time order. A shard that fails is skipped when others answered (what they
    /// delivered is returned, not lost); the call throws only when nothing was read and a
    /// shard failed. An empty read with a positive `block` is repeated every
    /// ``shardPollInterval`` until something arrives or `block` has passed (Redis Cluster
    /// cannot block on keys of several slots in one command).
    package func readStream(
        _ stream: StreamName, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        guard streamShards > 1 else {
            return try await readGroup(key: keys.stream(stream), shard: nil, group: group, consumer: consumer, count: count, block: block)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + min(block, options.maxBlock)
        while true {
            var result: [StreamEntry] = []
            var failure: StoreError?
            let first = rotateShards(stream)
            for offset in 0..<streamShards where result.count < count {
                let shard = (first + offset) % streamShards
                do {
                    result += try await readGroup(
                        key: keys.stream(stream, shard: shard), shard: shard, group: group, consumer: consumer,
                        count: count - result.count, block: .zero)
                } catch {
                    // Entries other shards delivered are pending for this consumer already:
                    // return them rather than drop them with the error.
                    failure = failure ?? error
                }
            }
            if result.isEmpty, let failure { throw failure }
            let remaining = deadline - clock.now
            if !result.isEmpty || remaining <= .zero { return result }
            do {
                try await Task.sleep(for: min(Self.shardPollInterval, remaining))
            } catch {
                return []
            }
        }
    }

    /// How often a sharded ``readStream(_:group:consumer:count:block:)`` looks again while
    /// it waits for entries.
    static let shardPollInterval = Duration.milliseconds(50)

    /// `XGROUP CREATE` and `XREADGROUP` of one stream key; ids qualified when `shard` is given.
    private func readGroup(
        key: String, shard: Int?, group: String, consumer: String, count: Int, block: Duration
    ) async throws(StoreError) -> [StreamEntry] {
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
        return try Self.qualify(Self.decodeStreamRead(Self.checked(replies[1], "XREADGROUP \(key) \(group)"), key: key), shard: shard)
    }

    /// Entries delivered to `consumer` and not acknowledged (`XREADGROUP ... STREAMS key 0`),
    /// oldest first; `[]` when the group does not exist. On sharded streams, shard by shard
    /// (`after` is the last id of the previous page).
    ///
    /// An entry trimmed from the stream since delivery comes back with no fields; acknowledge it.
    package func pendingEntries(
        _ stream: StreamName, group: String, consumer: String, count: Int, after: String = "0"
    ) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        guard streamShards > 1 else {
            return try await pending(key: keys.stream(stream), shard: nil, group: group, consumer: consumer, count: count, after: after)
        }
        var firstShard = 0
        var firstAfter = "0"
        if after != "0" {
            guard let cursor = StreamShardID(after), cursor.shard < streamShards else {
                throw .failed("pending entries of \(stream.rawValue) after `\(after)`: not an id of this store's \(streamShards) stream shards")
            }
            firstShard = cursor.shard
            firstAfter = cursor.redisID
        }
        var result: [StreamEntry] = []
        for shard in firstShard..<streamShards where result.count < count {
            result += try await pending(
                key: keys.stream(stream, shard: shard), shard: shard, group: group, consumer: consumer,
                count: count - result.count, after: shard == firstShard ? firstAfter : "0")
        }
        return result
    }

    private func pending(
        key: String, shard: Int?, group: String, consumer: String, count: Int, after: String
    ) async throws(StoreError) -> [StreamEntry] {
        let reply = try await client.execute(
            [["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count), "STREAMS", key, after]],
            timeout: options.writeTimeout
        )[0]
        if let message = reply.errorMessage, message.hasPrefix("NOGROUP") { return [] }
        return try Self.qualify(Self.decodeStreamRead(Self.checked(reply, "XREADGROUP \(key) \(group) pending"), key: key), shard: shard)
    }

    /// Acknowledges entries (`XACK`, one per shard on sharded streams); unknown ids and a
    /// missing group are ignored.
    /// - Throws: ``StoreError/failed(_:)`` for an id that does not name a shard of a sharded stream.
    package func acknowledge(_ stream: StreamName, group: String, ids: [String]) async throws(StoreError) {
        if ids.isEmpty { return }
        var byShard: [Int: [String]] = [:]
        if streamShards > 1 {
            for id in ids {
                guard let parsed = StreamShardID(id), parsed.shard < streamShards else {
                    throw .failed("acknowledging \(stream.rawValue): `\(id)` is not an id of this store's \(streamShards) stream shards")
                }
                byShard[parsed.shard, default: []].append(parsed.redisID)
            }
        } else {
            byShard[-1] = ids
        }
        for (shard, redisIDs) in byShard.sorted(by: { $0.key < $1.key }) {
            let key = keys.stream(stream, shard: shard < 0 ? nil : shard)
            let reply = try await client.execute([["XACK", key, group] + redisIDs], timeout: options.writeTimeout)[0]
            if let message = reply.errorMessage, message.hasPrefix("NOGROUP") { continue }
            _ = try Self.checked(reply, "XACK \(key) \(group)")
        }
    }

    /// `entries` with ids qualified by `shard` (unchanged when `shard` is `nil`).
    static func qualify(_ entries: [StreamEntry], shard: Int?) throws(StoreError) -> [StreamEntry] {
        guard let shard else { return entries }
        var result = entries
        for index in result.indices {
            result[index].id = try StreamShardID(redisID: result[index].id, shard: shard).text
        }
        return result
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
    ///
    /// Sharded streams: the newest `count` of all shards in ``StreamShardID`` order (each
    /// shard's newest `count`, merged).
    package func latestEntries(_ stream: StreamName, before: String?, count: Int) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        guard streamShards > 1 else {
            return try await range(key: keys.stream(stream), reverse: true, from: before.map { "(" + $0 } ?? "+", count: count).reversed()
        }
        let cursor = try before.map { (text: String) throws(StoreError) -> StreamShardID in
            guard let cursor = StreamShardID(text) else {
                throw .failed("entries of \(stream.rawValue) before `\(text)`: not a stream id")
            }
            return cursor
        }
        var merged: [(id: StreamShardID, entry: StreamEntry)] = []
        for shard in 0..<streamShards {
            // Before (id, shard) in (Redis id, shard) order: shards below the cursor's include its Redis id.
            let end = cursor.map { shard < $0.shard ? $0.redisID : "(" + $0.redisID } ?? "+"
            for entry in try await range(key: keys.stream(stream, shard: shard), reverse: true, from: end, count: count) {
                let id = try StreamShardID(redisID: entry.id, shard: shard)
                merged.append((id, StreamEntry(id: id.text, fields: entry.fields)))
            }
        }
        merged.sort { $0.id > $1.id }
        return merged.prefix(count).reversed().map(\.entry)
    }

    /// Entries after `after` (`XRANGE key (after + COUNT n`; "0" reads from the start). A
    /// bulk read: it has the write budget, not the decide path's read budget.
    ///
    /// Sharded streams: the first `count` of all shards after `after` in ``StreamShardID``
    /// order; `after` may be a plain Redis id (after that id in every shard).
    package func entries(_ stream: StreamName, after: String, count: Int) async throws(StoreError) -> [StreamEntry] {
        guard count > 0 else { return [] }
        guard streamShards > 1 else {
            return try await range(key: keys.stream(stream), reverse: false, from: after == "0" ? "-" : "(" + after, count: count)
        }
        var cursor: StreamShardID?
        if after != "0" {
            guard let parsed = StreamShardID(after) else {
                throw .failed("entries of \(stream.rawValue) after `\(after)`: not a stream id")
            }
            cursor = parsed
        }
        var merged: [(id: StreamShardID, entry: StreamEntry)] = []
        for shard in 0..<streamShards {
            // After (id, shard): shards above the cursor's include its Redis id.
            let start = cursor.map { shard > $0.shard ? $0.redisID : "(" + $0.redisID } ?? "-"
            for entry in try await range(key: keys.stream(stream, shard: shard), reverse: false, from: start, count: count) {
                let id = try StreamShardID(redisID: entry.id, shard: shard)
                merged.append((id, StreamEntry(id: id.text, fields: entry.fields)))
            }
        }
        merged.sort { $0.id < $1.id }
        return merged.prefix(count).map(\.entry)
    }

    /// `XRANGE key from + COUNT n`, or `XREVRANGE key from - COUNT n`, in the order Redis gives.
    private func range(key: String, reverse: Bool, from: String, count: Int) async throws(StoreError) -> [StreamEntry] {
        let command = reverse ? ["XREVRANGE", key, from, "-", "COUNT", String(count)] : ["XRANGE", key, from, "+", "COUNT", String(count)]
        let reply = try await client.execute([command], timeout: options.writeTimeout)[0]
        guard let entries = try Self.checked(reply, "\(command[0]) \(key)").array else {
            throw .failed("\(command[0]) \(key) answered \(reply), not an array")
        }
        return try Self.decodeEntries(entries, key: key)
    }
}
