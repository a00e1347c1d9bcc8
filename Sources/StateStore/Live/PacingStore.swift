import AdLoadCore
import Foundation
import Synchronization

/// A region's pacing state as stored: the controller's state and the interval it was
/// computed for, so that replicas update it once per interval and a restart resumes it.
package struct StoredPacingState: Sendable, Equatable {
    /// The calendar day (days since the epoch) the prices are for.
    package var day: Int
    /// The first minute of the day of the interval the prices are for (minutes, not interval
    /// numbers, so a change of the targets' interval length keeps the order).
    package var minute: Int
    package var state: PacingState

    package init(day: Int, minute: Int, state: PacingState) {
        self.day = day
        self.minute = minute
        self.state = state
    }

    /// Whether this state was computed for a later interval than `other`.
    package func isNewer(than other: StoredPacingState) -> Bool { (day, minute) > (other.day, other.minute) }
}

/// Where the service keeps pacing: per region and day the counters of each 5-minute slot, per
/// region the controller's state, and the targets. Every replica adds to the same counters
/// and reads the same prices, so replicas pace together and a restart loses nothing. Two
/// implementations: Redis (``RedisLiveStore``; every key of a region carries the hash tag
/// `{pacing:REGION}`, so one region's keys live on one Redis Cluster shard) and in memory.
///
/// Counters are kept per 5-minute slot of the day (``slotsPerDay``), whatever the targets'
/// interval: targets may change their interval, or be set mid-day, without losing the day.
package protocol PacingStore: Sendable {
    /// Adds one feedback's counters to `region`'s `slot` (0..<``pacingSlotsPerDay``) of `day`, and
    /// `userID` to the slot's active users (a HyperLogLog in Redis: about 0.8% error), atomically.
    func addPacingCounters(_ counters: PacingCounters, userID: String, region: String, day: Int, slot: Int) async throws(StoreError)
    /// `region`'s counters of `day`, one per slot (zero where nothing was added), and the
    /// users active in the day's first `activeThrough` slots (`nil`: all of them).
    func pacingDay(region: String, day: Int, activeThrough: Int?) async throws(StoreError) -> (slots: [PacingCounters], activeUsers: Int)
    /// `region`'s stored state, if any.
    func pacingState(region: String) async throws(StoreError) -> StoredPacingState?
    /// Stores `state` for `region` only if it is newer than the stored one (atomically).
    /// - Returns: whether it was stored; when not, another replica got there first.
    func storePacingState(_ state: StoredPacingState, region: String) async throws(StoreError) -> Bool
    /// The targets file the deployment paces to (its text), if one was stored.
    func pacingTargets() async throws(StoreError) -> Data?
    /// Replaces the targets.
    func storePacingTargets(_ text: Data) async throws(StoreError)
}

/// The number of 5-minute slots of a day that pacing counters are kept in.
package let pacingSlotsPerDay = 288

extension PacingCounters {
    /// The counters' fields in storage order: revenue, impressions, negatives, organic items, sessions.
    static let fieldNames = ["revenue", "impressions", "negatives", "organic", "sessions"]

    var fieldValues: [Double] { [revenue, impressions, negatives, organicItems, sessions] }

    init(fieldValues values: [Double]) {
        self.init(revenue: values[0], impressions: values[1], negatives: values[2], organicItems: values[3], sessions: values[4])
    }
}

// MARK: Redis

extension RedisLiveStore: PacingStore {
    /// HINCRBYFLOAT of the five counters of one slot, the slot's active users, and the keys'
    /// expiry, in one step. ARGV: slot, the counters' expiry, the users' expiry, the five
    /// counters, the user.
    static let addCountersScript = RedisScript(
        """
        for i = 1, 5 do
          local value = tonumber(ARGV[3 + i])
          if value ~= 0 then redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1] .. ':' .. i, ARGV[3 + i]) end
        end
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        redis.call('PFADD', KEYS[2], ARGV[9])
        redis.call('EXPIRE', KEYS[2], ARGV[3])
        return 1
        """
    )

    /// Writes the state hash only when (day, minute) is later than the stored one.
    static let storeStateScript = RedisScript(
        """
        local stored = redis.call('HMGET', KEYS[1], 'day', 'minute')
        if stored[1] then
          local day, minute = tonumber(stored[1]), tonumber(stored[2])
          local newDay, newMinute = tonumber(ARGV[2]), tonumber(ARGV[4])
          if newDay < day or (newDay == day and newMinute <= minute) then return 0 end
        end
        redis.call('HSET', KEYS[1], unpack(ARGV))
        return 1
        """
    )

    package func addPacingCounters(
        _ counters: PacingCounters, userID: String, region: String, day: Int, slot: Int
    ) async throws(StoreError) {
        try RedisKeys.validate(region: region)
        guard (0..<pacingSlotsPerDay).contains(slot) else { throw .failed("pacing slot \(slot) is outside 0..<\(pacingSlotsPerDay)") }
        let arguments = [
            String(slot), String(Self.seconds(options.pacingCounterRetention)), String(Self.seconds(options.dailyCounterRetention)),
        ] + counters.fieldValues.map { "\($0)" }
            + [userID]
        _ = try await client.run(
            Self.addCountersScript,
            keys: [
                Array(keys.pacingCounters(region: region, day: day).utf8),
                Array(keys.pacingUsers(region: region, day: day, slot: slot).utf8),
            ],
            arguments: arguments.map { Array($0.utf8) }, timeout: options.writeTimeout)
    }

    package func pacingDay(region: String, day: Int, activeThrough: Int?) async throws(StoreError) -> (slots: [PacingCounters], activeUsers: Int) {
        try RedisKeys.validate(region: region)
        let key = keys.pacingCounters(region: region, day: day)
        let intervals = pacingSlotsPerDay
        let through = max(0, min(intervals, activeThrough ?? intervals))
        // PFCOUNT of no key is an error; a key that does not exist counts zero.
        let userKeys = (0..<max(1, through)).map { keys.pacingUsers(region: region, day: day, slot: through == 0 ? -1 : $0) }
        let replies = try await client.execute([["HGETALL", key], ["PFCOUNT"] + userKeys], timeout: options.readTimeout)
        let reply = try Self.checked(replies[0], "HGETALL \(key)")
        guard let activeUsers = try Self.checked(replies[1], "PFCOUNT").int else { throw .failed("PFCOUNT answered \(replies[1])") }
        guard let items = reply.array, items.count % 2 == 0 else { throw .failed("\(key) holds \(reply), not a hash") }
        var values = Array(repeating: Array(repeating: 0.0, count: 5), count: intervals)
        for pair in stride(from: 0, to: items.count, by: 2) {
            guard let field = items[pair].string, let text = items[pair + 1].string, let value = Double(text) else {
                throw .failed("\(key) has a field \(items[pair]) = \(items[pair + 1]) that is not slot:counter = number")
            }
            let parts = field.split(separator: ":")
            guard parts.count == 2, let slot = Int(parts[0]), let counter = Int(parts[1]), (1...5).contains(counter) else {
                throw .failed("\(key) has a field \(field) that is not slot:counter")
            }
            if slot >= 0 && slot < intervals { values[slot][counter - 1] = value }
        }
        return (values.map(PacingCounters.init(fieldValues:)), activeUsers)
    }

    package func pacingState(region: String) async throws(StoreError) -> StoredPacingState? {
        try RedisKeys.validate(region: region)
        let key = keys.pacingState(region: region)
        let reply = try Self.checked(try await client.execute([["HGETALL", key]], timeout: options.readTimeout)[0], "HGETALL \(key)")
        guard let items = reply.array else { throw .failed("\(key) holds \(reply), not a hash") }
        if items.isEmpty { return nil }
        var fields: [String: Double] = [:]
        for pair in stride(from: 0, to: items.count - 1, by: 2) {
            if let name = items[pair].string, let text = items[pair + 1].string, let value = Double(text) { fields[name] = value }
        }
        let names = ["day", "minute", "revenue", "impressions", "negatives", "organic", "i0", "i1", "i2", "i3"]
        let values = names.compactMap { fields[$0] }
        guard values.count == names.count, values.allSatisfy(\.isFinite) else {
            throw .failed("\(key) does not hold a pacing state (fields \(names.joined(separator: ", ")))")
        }
        return StoredPacingState(
            day: Int(exactly: values[0].rounded()) ?? 0, minute: Int(exactly: values[1].rounded()) ?? 0,
            state: PacingState(
                prices: PacingPrices(revenue: values[2], impressions: values[3], negatives: values[4], organic: values[5]),
                integrals: Array(values[6...9])))
    }

    package func storePacingState(_ stored: StoredPacingState, region: String) async throws(StoreError) -> Bool {
        try RedisKeys.validate(region: region)
        let prices = stored.state.prices
        var arguments = ["day", String(stored.day), "minute", String(stored.minute), "revenue", "\(prices.revenue)",
                         "impressions", "\(prices.impressions)", "negatives", "\(prices.negatives)", "organic", "\(prices.organic)"]
        for (index, value) in stored.state.integrals.enumerated() { arguments += ["i\(index)", "\(value)"] }
        let reply = try await client.run(
            Self.storeStateScript, keys: [Array(keys.pacingState(region: region).utf8)], arguments: arguments.map { Array($0.utf8) },
            timeout: options.writeTimeout)
        return reply.int == 1
    }

    package func pacingTargets() async throws(StoreError) -> Data? {
        let reply = try Self.checked(try await client.execute([["GET", keys.pacingTargets]], timeout: options.readTimeout)[0], "GET targets")
        if reply.isNull { return nil }
        guard let bytes = reply.bytes else { throw .failed("\(keys.pacingTargets) holds \(reply), not a string") }
        return Data(bytes)
    }

    package func storePacingTargets(_ text: Data) async throws(StoreError) {
        let reply = try await client.execute([["SET", keys.pacingTargets, String(decoding: text, as: UTF8.self)]], timeout: options.writeTimeout)[0]
        _ = try Self.checked(reply, "SET \(keys.pacingTargets)")
    }
}

extension RedisKeys {
    /// One hash per region and day: field `SLOT:K` is counter K (1 revenue, 2 impressions,
    /// 3 negatives, 4 organic items, 5 sessions) of that 5-minute slot; kept for
    /// ``RedisLiveStore/Options/pacingCounterRetention`` (the profile reads up to 14 days back).
    func pacingCounters(region: String, day: Int) -> String { "\(prefix)adload:{pacing:\(region)}:counters:\(day)" }
    /// The HyperLogLog of a region's users active in one slot of a day; kept for
    /// ``RedisLiveStore/Options/dailyCounterRetention`` (only today's and yesterday's are read).
    func pacingUsers(region: String, day: Int, slot: Int) -> String { "\(prefix)adload:{pacing:\(region)}:users:\(day):\(slot)" }
    /// The controller's state of a region (prices, integrals, the day and minute they are for).
    func pacingState(region: String) -> String { "\(prefix)adload:{pacing:\(region)}:state" }
    /// The targets file's text.
    var pacingTargets: String { prefix + "adload:{pacing}:targets" }

    /// Rejects region names that would break the hash tag.
    static func validate(region: String) throws(StoreError) {
        if region.isEmpty || region.utf8.contains(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) {
            throw .failed("region `\(region)` is empty or contains `{` or `}`, which Redis keys cannot hold here")
        }
    }
}

// MARK: In memory

extension InMemoryLiveStore: PacingStore {
    package func addPacingCounters(
        _ counters: PacingCounters, userID: String, region: String, day: Int, slot: Int
    ) async throws(StoreError) {
        guard (0..<pacingSlotsPerDay).contains(slot) else { throw .failed("pacing slot \(slot) is outside 0..<\(pacingSlotsPerDay)") }
        try pacing { state in
            var values = state.counters["\(region)/\(day)", default: [:]][slot] ?? PacingCounters()
            values.add(counters)
            state.counters["\(region)/\(day)", default: [:]][slot] = values
            state.activeUsers["\(region)/\(day)", default: [:]][slot, default: []].insert(userID)
        }
    }

    package func pacingDay(region: String, day: Int, activeThrough: Int?) async throws(StoreError) -> (slots: [PacingCounters], activeUsers: Int) {
        try pacing { state in
            let stored = state.counters["\(region)/\(day)"] ?? [:]
            let intervals = pacingSlotsPerDay
            let through = max(0, min(intervals, activeThrough ?? intervals))
            let users = (state.activeUsers["\(region)/\(day)"] ?? [:]).filter { $0.key < through }.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            return ((0..<intervals).map { stored[$0] ?? PacingCounters() }, users.count)
        }
    }

    package func pacingState(region: String) async throws(StoreError) -> StoredPacingState? {
        try pacing { $0.states[region] }
    }

    package func storePacingState(_ stored: StoredPacingState, region: String) async throws(StoreError) -> Bool {
        try pacing { state in
            if let current = state.states[region], !stored.isNewer(than: current) { return false }
            state.states[region] = stored
            return true
        }
    }

    package func pacingTargets() async throws(StoreError) -> Data? {
        try pacing { $0.targets }
    }

    package func storePacingTargets(_ text: Data) async throws(StoreError) {
        try pacing { $0.targets = text }
    }

    /// Runs `body` on the pacing state under the lock, failing like every operation when unavailable.
    private func pacing<Result>(_ body: (inout PacingMemory) -> Result) throws(StoreError) -> Result {
        let result: Result? = state.withLock { state in
            if state.unavailable { return nil }
            return body(&state.pacing)
        }
        guard let result else { throw .unavailable("the in-memory store is set unavailable") }
        return result
    }
}

/// The in-memory store's pacing data.
struct PacingMemory {
    /// Per "region/day", per interval.
    var counters: [String: [Int: PacingCounters]] = [:]
    /// Per "region/day", per interval, the users seen.
    var activeUsers: [String: [Int: Set<String>]] = [:]
    var states: [String: StoredPacingState] = [:]
    var targets: Data?
}
