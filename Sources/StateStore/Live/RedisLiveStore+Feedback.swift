import AdLoadCore
import Foundation

extension RedisLiveStore {
    /// Counts the new events of one feedback call on the server, atomically.
    ///
    /// A line-by-line port of `UserRecord.apply(_:at:sessionStart:endedOnAd:)`, and of how
    /// `InMemoryLiveStore` decides `endedOnAd` (the two must change
    /// together; the conformance test compares them). The decay constants and the dwell
    /// weight come from Swift as arguments, so both sides use the same values.
    ///
    /// - KEYS: 1 user hash, 2 daily ad counter of the feedback's day, 3 counted events of the
    ///   decision, 4 the feedback stream (or its user's shard), appended in the same script so
    ///   counted events and their stream entry are written together or not at all; on Redis
    ///   Cluster, where the stream is in another slot, the user's feedback outbox instead
    ///   (see ``applyFeedback(_:)``).
    ///
    /// The counted events of a decision are one Redis string: two bytes holding the length of
    /// its first counted session end + 1 (big-endian; 0 while none is counted), then one byte
    /// per feed position `p` (0 for events without a position) whose bit `k` is set once an
    /// event of kind `k` at `p` is counted (``countedEventCode(_:)``). A 25-item session with
    /// 5 ads takes 28 bytes, where the former hash of identities took about 490.
    /// - ARGV: 1 time, 2 session start (the decision's time), 3 counted-event TTL (s), 4 daily counter TTL (s),
    ///   5 week days, 6 month days, 7 dwell weight, 8 reaction days, 9 event count n, then per event:
    ///   its ``countedEventCode(_:)``, kind, value (empty when none); after the events: decision
    ///   id, user id, the stream's approximate `MAXLEN`, and `outbox` when KEYS[4] is the outbox.
    /// - Returns: the 1-based indices of the events counted now; with the outbox,
    ///   `{indices, outbox}` where `outbox` is the outbox hash after this call (`HGETALL`:
    ///   sequence number, `time events decision-id`, ...).
    static let feedbackScript = RedisScript(
        """
        local function num(x)
          local s = string.format('%.15g', x)
          if tonumber(s) ~= x then
            s = string.format('%.16g', x)
            if tonumber(s) ~= x then s = string.format('%.17g', x) end
          end
          return s
        end

        local KIND = {impression = 0, click = 1, conversion = 2, skip = 3, hide = 4, report = 5, dwell = 6, session_end = 7}
        local t = tonumber(ARGV[1])
        local n = tonumber(ARGV[9])

        -- Counted events: bytes 1-2 the first counted session end's length + 1 (0: none yet),
        -- then one byte per feed position p (0 for events without one), bit k = event kind k.
        local bytes = {0, 0}
        local function mark(position, kind)
          local index = 3 + position
          for k = #bytes + 1, index do bytes[k] = 0 end
          local mask = bit.lshift(1, kind)
          if bit.band(bytes[index], mask) ~= 0 then return false end
          bytes[index] = bit.bor(bytes[index], mask)
          return true
        end
        local function marked(position, kind)
          local b = bytes[3 + position]
          return b ~= nil and bit.band(b, bit.lshift(1, kind)) ~= 0
        end
        local function setLength(length)
          bytes[1] = math.floor((length + 1) / 256)
          bytes[2] = (length + 1) % 256
        end

        local outbox = ARGV[13 + 3 * n] == 'outbox'
        local function finish(fresh)
          if outbox then return {fresh, redis.call('HGETALL', KEYS[4])} end
          return fresh
        end
        if n == 0 then return finish({}) end
        local state = redis.call('GET', KEYS[3])
        if state then bytes = {string.byte(state, 1, -1)} end
        local fresh = {}
        for i = 1, n do
          local code = tonumber(ARGV[7 + 3 * i])
          if mark(math.floor(code / 8), code % 8) then fresh[#fresh + 1] = i end
        end

        -- Ended on an ad: the first counted session end has length L and an impression at L
        -- is counted, whichever comes last (UserRecord.sessionLength: 0 unless 1...512, whole).
        local endedOnAd = false
        if #fresh > 0 then
          local known = bytes[1] * 256 + bytes[2]
          if known > 0 then
            if known > 1 then
              for _, i in ipairs(fresh) do
                if tonumber(ARGV[7 + 3 * i]) == (known - 1) * 8 + KIND.impression then endedOnAd = true end
              end
            end
          else
            for _, i in ipairs(fresh) do
              if ARGV[8 + 3 * i] == 'session_end' then
                local length = tonumber(ARGV[9 + 3 * i])
                if not (length and length >= 1 and length <= 512 and math.floor(length) == length) then length = 0 end
                setLength(length)
                if length > 0 and marked(length, KIND.impression) then endedOnAd = true end
                break
              end
            end
          end
        end
        redis.call('SET', KEYS[3], string.char(unpack(bytes)), 'EX', ARGV[3])
        if #fresh == 0 then return finish(fresh) end

        local f = redis.call('HMGET', KEYS[1], 'lv', 'lu', 'w0', 'w1', 'w2', 'w3', 'w4',
          'm0', 'm1', 'm2', 'm3', 'm4', 'dw', 'ts', 'q0', 'q1')
        local lv = tonumber(f[1])
        local lu = tonumber(f[2])
        local w, m, q = {}, {}, {}
        for i = 1, 5 do
          w[i] = tonumber(f[2 + i]) or 0
          m[i] = tonumber(f[7 + i]) or 0
        end
        local dw = tonumber(f[13]) or 0
        local ts = tonumber(f[14]) or 0
        q[1] = tonumber(f[15]) or 0
        q[2] = tonumber(f[16]) or 0
        local weekDays, monthDays, dwellWeight = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        local reactionDays = tonumber(ARGV[8])

        if lu then
          local elapsed = math.max(0, t - lu)
          local wf = math.exp(-elapsed / weekDays)
          local mf = math.exp(-elapsed / monthDays)
          for i = 1, 5 do
            w[i] = w[i] * wf
            m[i] = m[i] * mf
          end
          local qf = math.exp(-elapsed / reactionDays)
          q[1] = q[1] * qf
          q[2] = q[2] * qf
        end
        if lu == nil or t > lu then lu = t end

        local sessionStart = tonumber(ARGV[2])
        local items, dwell, impressions, ended = 0, 0, 0, false
        for _, i in ipairs(fresh) do
          local kind = ARGV[8 + 3 * i]
          local slot = nil
          if kind == 'impression' then
            slot = 3
            impressions = impressions + 1
            q[1] = q[1] + 1
          elseif kind == 'click' then
            slot = 4
          elseif kind == 'hide' or kind == 'report' or kind == 'skip' then
            slot = 5
            q[2] = q[2] + 1
          elseif kind == 'dwell' then
            slot = 2
            items = items + 1
            dwell = dwell + (tonumber(ARGV[9 + 3 * i]) or 0)
          elseif kind == 'session_end' then
            slot = 1
            ts = ts + 1
            ended = true
            if lv == nil or sessionStart > lv then lv = sessionStart end
          end
          if slot then
            w[slot] = w[slot] + 1
            m[slot] = m[slot] + 1
          end
        end
        if endedOnAd then q[2] = q[2] + 1 end
        if items > 0 then
          local perItem = dwell / items
          if dw == 0 then dw = perItem else dw = (1 - dwellWeight) * dw + dwellWeight * perItem end
        end

        local fields = {'lu', num(lu), 'dw', num(dw), 'ts', string.format('%d', ts)}
        if lv then
          fields[#fields + 1] = 'lv'
          fields[#fields + 1] = num(lv)
        end
        for i = 1, 5 do
          fields[#fields + 1] = 'w' .. (i - 1)
          fields[#fields + 1] = num(w[i])
          fields[#fields + 1] = 'm' .. (i - 1)
          fields[#fields + 1] = num(m[i])
        end
        for i = 1, 2 do
          fields[#fields + 1] = 'q' .. (i - 1)
          fields[#fields + 1] = num(q[i])
        end
        redis.call('HSET', KEYS[1], unpack(fields))
        if impressions > 0 then
          redis.call('INCRBY', KEYS[2], impressions)
          redis.call('EXPIRE', KEYS[2], ARGV[4])
        end
        local parts = {}
        for _, i in ipairs(fresh) do
          local position = math.floor(tonumber(ARGV[7 + 3 * i]) / 8)
          parts[#parts + 1] = ARGV[8 + 3 * i] .. ':' .. (position > 0 and tostring(position) or '') .. ':' .. ARGV[9 + 3 * i]
        end
        local events = table.concat(parts, ',')
        if outbox then
          -- The user's own counter (never expires), so a sequence number is never reused.
          local sequence = redis.call('HINCRBY', KEYS[1], 'fs', 1)
          redis.call('HSET', KEYS[4], tostring(sequence), ARGV[1] .. ' ' .. events .. ' ' .. ARGV[10 + 3 * n])
          redis.call('EXPIRE', KEYS[4], ARGV[3])
          return finish(fresh)
        end
        redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[12 + 3 * n], '*', 'decision_id', ARGV[10 + 3 * n],
          'user_id', ARGV[11 + 3 * n], 'time', ARGV[1], 'events', events)
        return fresh
        """
    )

    /// An event's place in the counted-events string of its decision: `position × 8 + kind`,
    /// kinds numbered impression 0, click 1, conversion 2, skip 3, hide 4, report 5, dwell 6,
    /// session_end 7; position 0 stands for none. Two events have the same code exactly when they have the
    /// same ``FeedbackEvent/identity``, for positions in ``FeedbackEvent/positions``.
    static func countedEventCode(_ event: FeedbackEvent) -> Int {
        let kind = switch event.kind {
        case .impression: 0
        case .click: 1
        case .conversion: 2
        case .skip: 3
        case .hide: 4
        case .report: 5
        case .dwell: 6
        case .sessionEnd: 7
        }
        return (event.position ?? 0) * 8 + kind
    }

    /// Applies feedback with one Lua script over the user's keys that also appends the newly
    /// counted events to the feedback stream: a feedback call answered as stored is in the
    /// stream, and one that failed left nothing counted, so its retry is counted then.
    ///
    /// On Redis Cluster the stream shard is in another slot than the user's keys, so the
    /// script writes the counted events to the user's outbox instead (with a sequence number
    /// from the user's hash), and this call then appends every entry of that outbox to the
    /// user's stream shard (field `seq`) and removes them from it. If the append fails, the
    /// outcome says so (``FeedbackOutcome/notStreamed``: counted, not yet streamed), the
    /// entries stay in the outbox, and the user's next feedback call (a retry of this one
    /// included, though it counts nothing new) appends them. Feedback whose client gives up
    /// and whose user never sends feedback again stays in the outbox and expires with it
    /// (counted in the user's record, never in the stream). An entry whose removal failed, or that two concurrent calls both saw,
    /// is appended twice with the same `seq`; readers count one (at least once, never lost).
    ///
    /// The session start of a `session_end` is the entry's ``FeedbackEntry/sessionStart``,
    /// or its time when that is unknown.
    /// - Complexity: One round trip (three on Redis Cluster when the outbox has entries).
    package func applyFeedback(_ entry: FeedbackEntry) async throws(StoreError) -> FeedbackOutcome {
        try RedisKeys.validate(userID: entry.userID)
        guard entry.time.isFinite, abs(entry.time) < 1e12 else {
            throw .failed("feedback for decision \(entry.decisionID) has time \(entry.time), not a usable number of days")
        }
        let sessionStart = entry.sessionStart ?? entry.time
        guard sessionStart.isFinite, abs(sessionStart) < 1e12 else {
            throw .failed("feedback for decision \(entry.decisionID) has session start \(sessionStart), not a usable number of days")
        }
        let day = Int(entry.time.rounded(.down))
        let useOutbox = client.isCluster
        let stream = keys.stream(.feedback, shard: streamShard(ofUser: entry.userID))
        let scriptKeys = [
            keys.user(entry.userID),
            keys.dailyAds(entry.userID, day: day),
            keys.countedEvents(entry.userID, decisionID: entry.decisionID),
            useOutbox ? keys.feedbackOutbox(entry.userID) : stream,
        ]
        var arguments = [
            "\(entry.time)", "\(sessionStart)",
            String(Self.seconds(options.countedEventsRetention)), String(Self.seconds(options.dailyCounterRetention)),
            "\(UserRecord.weekDays)", "\(UserRecord.monthDays)", "\(UserRecord.dwellWeight)", "\(UserRecord.reactionDays)",
            String(entry.events.count),
        ]
        arguments.reserveCapacity(arguments.count + 3 * entry.events.count + 4)
        for (index, event) in entry.events.enumerated() {
            try FeedbackEvent.checkPosition(event, index: index, decisionID: entry.decisionID)
            arguments.append(String(Self.countedEventCode(event)))
            arguments.append(event.kind.rawValue)
            arguments.append(event.value.map { "\($0)" } ?? "")
        }
        arguments += [entry.decisionID, entry.userID, String(options.streamMaxLength), useOutbox ? "outbox" : ""]

        let reply = try await client.run(
            Self.feedbackScript,
            keys: scriptKeys.map { Array($0.utf8) },
            arguments: arguments.map { Array($0.utf8) },
            timeout: options.writeTimeout
        )
        let counted = useOutbox ? reply.array?.first : reply
        guard let indices = counted?.array?.map(\.int), indices.allSatisfy({ $0.map { (1...entry.events.count).contains($0) } ?? false }) else {
            throw .failed("feedback script answered \(reply), not a list of event numbers")
        }
        let fresh = indices.compactMap { $0 }.map { entry.events[$0 - 1] }
        var outcome = FeedbackOutcome(newEvents: fresh.count, duplicateEvents: entry.events.count - fresh.count, counted: fresh)
        if useOutbox {
            guard let parts = reply.array, parts.count == 2, let outbox = parts[1].array else {
                throw .failed("feedback script answered \(reply), not the counted events and the outbox")
            }
            do {
                try await flushOutbox(outbox, userID: entry.userID, stream: stream)
            } catch {
                outcome.notStreamed = error
            }
        }
        return outcome
    }

    /// Appends a user's outbox entries (`HGETALL` of ``RedisKeys/feedbackOutbox(_:)``) to
    /// the user's stream shard, oldest first, then removes them from the outbox. A failed
    /// removal only means the user's next feedback appends them again (same `seq`).
    /// - Throws: When the append fails; the outbox keeps the entries.
    private func flushOutbox(_ outbox: [RedisReply], userID: String, stream: String) async throws(StoreError) {
        if outbox.isEmpty { return }
        guard outbox.count.isMultiple(of: 2) else { throw .failed("feedback outbox of user \(userID) answered an odd number of elements") }
        var pending: [(sequence: Int, text: String)] = []
        for index in stride(from: 0, to: outbox.count, by: 2) {
            guard let sequence = outbox[index].string.flatMap({ Int($0) }), let text = outbox[index + 1].string else {
                throw .failed("feedback outbox of user \(userID) holds \(outbox[index]) = \(outbox[index + 1]), not a sequence number and an entry")
            }
            pending.append((sequence, text))
        }
        pending.sort { $0.sequence < $1.sequence }
        var commands: [[String]] = []
        for (sequence, text) in pending {
            // `time events decision-id`: the first two contain no space; the decision id may.
            let fields = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { throw .failed("feedback outbox of user \(userID) entry \(sequence) is `\(text)`, not `time events decision-id`") }
            commands.append([
                "XADD", stream, "MAXLEN", "~", String(options.streamMaxLength), "*",
                "decision_id", String(fields[2]), "user_id", userID, "time", String(fields[0]), "events", String(fields[1]),
                "seq", String(sequence),
            ])
        }
        let replies = try await client.execute(commands, timeout: options.writeTimeout)
        for (index, reply) in replies.enumerated() {
            _ = try Self.checked(reply, "XADD \(stream) of feedback \(pending[index].sequence) of user \(userID)")
        }
        do {
            let reply = try await client.execute(
                [["HDEL", keys.feedbackOutbox(userID)] + pending.map { String($0.sequence) }], timeout: options.writeTimeout)[0]
            _ = try Self.checked(reply, "HDEL feedback outbox of user \(userID)")
        } catch {
            logger.debug("feedback streamed but not removed from the outbox; the user's next feedback streams it again", metadata: [
                "user_id": "\(userID)", "error": "\(error)",
            ])
        }
    }
}
