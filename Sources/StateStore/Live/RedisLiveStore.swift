import AdLoadCore
import Foundation
import Logging
import Synchronization

/// The production ``LiveStore``: per-user state, streams and the policy registry in Redis,
/// reached through ``RedisClient``.
///
/// Semantics are those of ``InMemoryLiveStore``; the tests drive both with the same
/// sequence of calls and compare the results.
///
/// ## Key layout
///
/// Every per-user key starts with the hash tag `{u:<userID>}`, so Redis Cluster keeps all of
/// a user's keys in one slot and the feedback script may touch them together. `P` is
/// ``Options/keyPrefix`` (empty by default); it must not contain `{` or `}`.
///
/// | key | type | contents | expiry |
/// |---|---|---|---|
/// | `P{u:ID}` | hash | `fs` the last feedback outbox number (Redis Cluster), `lv` last visit, `lu` last update (days since the epoch), `w0`…`w4` and `m0`…`m4` the 7- and 30-day decayed counts (sessions, items, ads, clicks, negatives), `q0`, `q1` the 90-day decayed ads and adverse reactions (``UserRecord/adReactions``), `dw` recent dwell, `ts` total sessions | none |
/// | `P{u:ID}:ads:<day>` | string | ad impressions counted on calendar day `<day>` (the daily cap) | ``Options/dailyCounterRetention`` (2 days) |
/// | `P{u:ID}:ce:<decisionID>` | string (about 30 bytes for a 25-item session) | the events already counted for a decision, a bit per (position, kind), and the length of its first counted session end (for the ended-on-an-ad reaction); see ``countedEventCode(_:)`` | ``Options/countedEventsRetention`` (7 days) |
/// | `P{u:ID}:fo` | hash (Redis Cluster only) | the user's feedback outbox: sequence number → `time events decision-id`, counted and not yet appended to the stream shard (see ``applyFeedback(_:)``); the user hash's `fs` numbers them | ``Options/countedEventsRetention`` |
/// | `Padload:decisions` | stream | one entry per write of up to ``DecisionStreamFormat/decisionsPerEntry`` decisions, field `d` = each ``DecisionEntry`` as JSON with sorted keys, one per line | `MAXLEN ~` ``Options/streamMaxLength`` / 16 entries (up to about ``Options/streamMaxLength`` decisions under load) |
/// | `Padload:feedback` | stream | one entry per feedback call that counted something: `decision_id`, `user_id`, `time`, `events` (`kind:position:value`, comma-separated, only the new events); on Redis Cluster also `seq` (the outbox number) | `MAXLEN ~` ``Options/streamMaxLength`` |
/// | `Padload:{s<k>}:decisions`, `Padload:{s<k>}:feedback` | stream | with ``streamShards`` > 1 (Redis Cluster), shard `k` of each stream in place of the two above: the entries of the users whose ``streamShard(ofUser:)`` is `k` | as above |
/// | `Padload:{policy}:active` | string | the active policy version | none |
/// | `Padload:{policy}:blobs` | hash | policy version → policy blob (bytes) | none |
/// | `Padload:{policy}:history` | list | ``RegistryEvent``s as JSON, newest first: who made which version active over which, when, on what evidence | trimmed to ``RegistryEvent/historyLimit`` |
///
/// Numbers are stored as decimal text that reads back as the same `Double`: Swift's shortest
/// round-trip form when Swift writes, the shortest of `%.15g`/`%.16g`/`%.17g` that
/// round-trips when Lua writes (Lua's `tostring` keeps only 14 digits).
///
/// Nothing per decision is kept under the user's keys: the session start a `session_end`
/// needs travels in the decision id (``FeedbackEntry/sessionStart``).
///
/// ## Round trips
///
/// - ``userRecord(userID:day:)``: one (`HMGET` of the hash's fields + `GET`, pipelined).
/// - ``applyFeedback(_:)``: one Lua script over the user's keys (de-duplication, decay and
///   counts, daily counter) that also appends what it counted to the feedback stream, so the
///   two happen together or not at all: a feedback call answered as stored is in the stream,
///   and a retry of one that failed is counted and streamed then. (Until 2026-12-05 the
///   `XADD` was a second command, and a failure between the two lost the stream entry.) On
///   Redis Cluster the stream shard is in another slot: the script fills the user's outbox,
///   which the call then appends and clears (three round trips when something was counted).
/// - ``recordDecisions(_:)``: one pipeline per stream shard (one `XADD` per 16 decisions).
///
/// ## Blocking reads
///
/// ``readStream(_:group:consumer:count:block:)`` with a positive `block` holds a connection
/// for up to that long, so it goes through a second client, never the one serving decisions.
/// Pass one as `streamClient`, or let the store create one on the first blocking read (two
/// connections, one request per round trip). Block times are capped below that client's
/// command timeout.
///
/// ## Errors
///
/// Transport problems surface as ``StoreError/unavailable(_:)`` or ``StoreError/timeout``
/// (see ``RedisClient``); an error reply or unreadable data as ``StoreError/failed(_:)``. A
/// write that timed out may or may not have happened.
package final class RedisLiveStore: LiveStore {
    /// Timeouts, retention and naming.
    package struct Options: Sendable {
        /// Prepended to every key (for several deployments or tests sharing one Redis); no braces.
        var keyPrefix: String
        /// Deadline for reads on the decide path: ``userRecord(userID:day:)``, the policy
        /// reads, ``ping()``.
        var readTimeout: Duration
        /// Deadline for writes and stream operations.
        var writeTimeout: Duration
        /// Approximate cap on each stream's length (`XADD ... MAXLEN ~`).
        var streamMaxLength: Int
        /// How long the identities of counted events are kept: a repeat arriving later is counted again.
        var countedEventsRetention: Duration
        /// How long a daily ad counter lives (and a pacing slot's active users).
        var dailyCounterRetention: Duration
        /// How long a region's daily pacing counters live: a day's profile is the mean of up to
        /// 14 days before it (`pacing.profile_days`), so they outlive that by a day.
        var pacingCounterRetention: Duration
        /// Longest `block` honoured by ``readStream(_:group:consumer:count:block:)``.
        var maxBlock: Duration
        /// Shards per stream; `nil` (the default) picks ``RedisLiveStore/clusterStreamShards``
        /// on Redis Cluster and 1 (one key per stream) on one Redis. Every process on one
        /// Redis must use the same number: a reader sees only the shards it knows.
        var streamShards: Int?

        /// Creates options; the defaults are those described in ``RedisLiveStore``.
        package init(
            keyPrefix: String = "",
            readTimeout: Duration = .milliseconds(100),
            writeTimeout: Duration = .seconds(1),
            streamMaxLength: Int = 1_000_000,
            countedEventsRetention: Duration = .seconds(7 * 86_400),
            dailyCounterRetention: Duration = .seconds(2 * 86_400),
            pacingCounterRetention: Duration = .seconds(16 * 86_400),
            maxBlock: Duration = .seconds(5),
            streamShards: Int? = nil
        ) {
            self.keyPrefix = keyPrefix
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
            self.streamMaxLength = streamMaxLength
            self.countedEventsRetention = countedEventsRetention
            self.dailyCounterRetention = dailyCounterRetention
            self.pacingCounterRetention = pacingCounterRetention
            self.maxBlock = maxBlock
            self.streamShards = streamShards.map { max(1, $0) }
        }
    }

    /// The client for everything except blocking stream reads.
    package let client: RedisClient
    /// The options in use.
    package let options: Options
    let keys: RedisKeys
    /// Shards per stream (see ``Options/streamShards``): 1 means one key per stream and
    /// plain stream ids; more means ids qualified by their shard (``StreamShardID``).
    package let streamShards: Int
    /// Shards per stream on Redis Cluster unless ``Options/streamShards`` says otherwise:
    /// enough that three to six masters each hold several, so no master carries a stream alone.
    package static let clusterStreamShards = 16
    private let ownsClient: Bool
    let logger: Logger
    /// The client for blocking stream reads: the one passed in, or one created on first use.
    private let streams: Mutex<StreamClientState>

    private struct StreamClientState {
        var client: RedisClient?
        var owned = false
        var shutDown = false
        /// The shard a sharded ``readStream(_:group:consumer:count:block:)`` of each stream
        /// starts with, so that reads smaller than the backlog take from every shard in turn
        /// (one counter per stream: a learner reads both streams' shards in step).
        var nextShard: [StreamName: Int] = [:]
        /// The client that appends decisions (see ``decisionClient()``), created on first use.
        var decisionClient: RedisClient?
    }

    /// Creates a store over an existing client.
    ///
    /// - Parameters:
    ///   - client: Serves the decide path, feedback, decisions and the policy registry. The
    ///     caller keeps ownership (and shuts it down).
    ///   - streamClient: Serves blocking stream reads; the caller keeps ownership. `nil`: the
    ///     store creates one from `client`'s configuration on the first blocking read (2
    ///     connections, one request per round trip, a command timeout above
    ///     ``Options/maxBlock``) and ``shutdown()`` stops it.
    ///   - options: Timeouts, retention and key prefix.
    ///   - logger: For a stream client this store creates.
    package init(
        client: RedisClient, streamClient: RedisClient? = nil, options: Options = Options(),
        logger: Logger = Logger(label: "adload.redis")
    ) {
        self.client = client
        self.options = options
        self.logger = logger
        keys = RedisKeys(prefix: options.keyPrefix)
        streamShards = max(1, options.streamShards ?? (client.isCluster ? Self.clusterStreamShards : 1))
        ownsClient = false
        streams = Mutex(StreamClientState(client: streamClient))
    }

    /// Creates a store with its own client for `configuration` (and, on the first blocking
    /// read, a stream client derived from it); ``shutdown()`` stops both.
    ///
    /// - Parameters:
    ///   - configuration: Address, pool and timeouts of the main client.
    ///   - options: Timeouts, retention and key prefix.
    ///   - logger: For both clients.
    package init(configuration: RedisClient.Configuration, options: Options = Options(), logger: Logger = Logger(label: "adload.redis")) {
        client = RedisClient(configuration: configuration, logger: logger)
        self.options = options
        self.logger = logger
        keys = RedisKeys(prefix: options.keyPrefix)
        streamShards = max(1, options.streamShards ?? (client.isCluster ? Self.clusterStreamShards : 1))
        ownsClient = true
        streams = Mutex(StreamClientState())
    }

    /// 1 + the cluster node owning the user's slot, or 0 (one Redis, or the map not yet known).
    package func failureDomain(ofUser userID: String) -> Int {
        guard client.isCluster else { return 0 }
        return client.clusterNode(forKey: keys.user(userID)).map { $0 + 1 } ?? 0
    }

    /// The stream shard of a user's decisions and feedback; `nil` when streams are not sharded.
    package func streamShard(ofUser userID: String) -> Int? {
        streamShards == 1 ? nil : Int(FNV1a64.hash(userID) % UInt64(streamShards))
    }

    /// The shard a sharded read of `stream` starts with this time (each read starts one further on).
    func rotateShards(_ stream: StreamName) -> Int {
        streams.withLock { state in
            let shard = (state.nextShard[stream] ?? 0) % streamShards
            state.nextShard[stream] = (shard + 1) % streamShards
            return shard
        }
    }

    /// The client for blocking stream reads, created on first use when none was passed in.
    func streamClient() throws(StoreError) -> RedisClient {
        try streams.withLock { (state: inout StreamClientState) throws(StoreError) -> RedisClient in
            if let existing = state.client { return existing }
            if state.shutDown { throw .unavailable("the Redis live store is shut down") }
            var configuration = client.configuration
            configuration.name = client.configuration.name + "-streams"
            // Blocking reads each hold a connection: one request per round trip on its own thread.
            configuration.transport = .threads
            configuration.connections = 2
            configuration.maxBatch = 1
            configuration.queueCapacity = 256
            configuration.commandTimeout = max(configuration.commandTimeout, options.maxBlock + .seconds(2))
            let created = RedisClient(configuration: configuration, logger: logger)
            state.client = created
            state.owned = true
            return created
        }
    }

    /// The client that appends decisions to the stream: its own connection(s), so a batch of
    /// decisions (tens of kilobytes under load) is never queued in front of the decide path's
    /// record reads on a shared connection. Same configuration as ``client`` (as many
    /// connections: one connection fell behind a test's 3,000 concurrent writes).
    func decisionClient() throws(StoreError) -> RedisClient {
        try streams.withLock { (state: inout StreamClientState) throws(StoreError) -> RedisClient in
            if let existing = state.decisionClient { return existing }
            if state.shutDown { throw .unavailable("the Redis live store is shut down") }
            var configuration = client.configuration
            configuration.name = client.configuration.name + "-decisions"
            let created = RedisClient(configuration: configuration, logger: logger)
            state.decisionClient = created
            return created
        }
    }

    /// Shuts down the clients this store created (not those passed in).
    package func shutdown() async {
        let (created, decisions) = streams.withLock { (state: inout StreamClientState) -> (RedisClient?, RedisClient?) in
            state.shutDown = true
            return (state.owned ? state.client : nil, state.decisionClient)
        }
        if let created {
            await created.shutdown()
        }
        if let decisions {
            await decisions.shutdown()
        }
        if ownsClient {
            await client.shutdown()
        }
    }

    // MARK: User state

    package func userRecord(userID: String, day: Int) async throws(StoreError) -> UserRecord? {
        try await userRecord(userID: userID, day: day, timeout: options.readTimeout)
    }

    /// The client fails the request at its deadline, whatever the connection does.
    package var honoursTimeouts: Bool { true }

    /// Gives up at `timeout` or ``Options/readTimeout``, whichever comes first.
    package func userRecord(userID: String, day: Int, timeout: Duration) async throws(StoreError) -> UserRecord? {
        try RedisKeys.validate(userID: userID)
        let userKey = keys.user(userID)
        let replies = try await client.execute(
            [Self.userFieldsCommand(userKey), [Array("GET".utf8), Array(keys.dailyAds(userID, day: day).utf8)]],
            timeout: min(timeout, options.readTimeout))
        guard let values = try Self.checked(replies[0], "HMGET \(userKey)").array, values.count == Self.userFields.count else {
            throw .failed("HMGET \(userKey) answered \(replies[0]), not an array of \(Self.userFields.count) values")
        }
        guard var record = try Self.decodeUser(values, key: userKey) else { return nil }
        let counter = try Self.checked(replies[1], "GET daily ads of \(userID)")
        if !counter.isNull {
            guard let ads = counter.int else {
                throw .failed("daily ad counter of user \(userID) for day \(day) holds \(counter), not an integer")
            }
            record.adsToday = ads
        }
        return record
    }

    /// The user hash's fields, in the order ``decodeUser(_:key:)`` reads them.
    static let userFields = ["lv", "lu", "w0", "w1", "w2", "w3", "w4", "m0", "m1", "m2", "m3", "m4", "dw", "ts", "q0", "q1"]

    /// `HMGET` of every field of ``userFields``, encoded once.
    private static let userFieldArguments = userFields.map { Array($0.utf8) }

    /// `HMGET <key> lv lu …`: only the values come back, in a fixed order, so reading a
    /// returning user's record needs no dictionary of field names; fields the record does
    /// not know are not sent.
    static func userFieldsCommand(_ key: String) -> [[UInt8]] {
        var command: [[UInt8]] = [Array("HMGET".utf8), Array(key.utf8)]
        command.reserveCapacity(2 + userFieldArguments.count)
        command.append(contentsOf: userFieldArguments)
        return command
    }

    /// Decodes the `HMGET` values of ``userFields``; `nil` when none is set (a user never seen).
    static func decodeUser(_ values: [RedisReply], key: String) throws(StoreError) -> UserRecord? {
        if values.allSatisfy(\.isNull) { return nil }
        func number(_ index: Int) throws(StoreError) -> Double? {
            let value = values[index]
            if value.isNull { return nil }
            guard let text = value.string, let number = Double(text) else {
                throw .failed("user hash \(key) field \(userFields[index]) holds `\(value.string ?? "\(value)")`, not a number")
            }
            return number
        }
        var record = UserRecord()
        record.lastVisit = try number(0)
        record.lastUpdate = try number(1)
        for slot in 0..<5 {
            record.week[slot] = try number(2 + slot) ?? 0
            record.month[slot] = try number(7 + slot) ?? 0
        }
        record.recentDwell = try number(12) ?? 0
        if !values[13].isNull {
            guard let text = values[13].string, let sessions = Int(text) else {
                throw .failed("user hash \(key) field ts holds `\(values[13].string ?? "\(values[13])")`, not an integer")
            }
            record.totalSessions = sessions
        }
        record.adReactions = [try number(14) ?? 0, try number(15) ?? 0]
        return record
    }

    // MARK: Decisions

    /// Appends decisions to the decision stream, in order; on sharded streams, each to its
    /// user's shard (one pipeline per shard). A failure may leave some shards written: the
    /// caller's retry then writes those decisions again, which readers count once by decision id.
    package func recordDecisions(_ entries: [DecisionEntry]) async throws(StoreError) {
        if entries.isEmpty { return }
        var byShard: [Int: [DecisionEntry]] = [:]
        for entry in entries {
            try RedisKeys.validate(userID: entry.userID)
            guard entry.time.isFinite else {
                throw .failed("decision \(entry.decisionID) has time \(entry.time), not a finite number")
            }
            byShard[streamShard(ofUser: entry.userID) ?? -1, default: []].append(entry)
        }
        for shard in byShard.keys.sorted() {
            let group = byShard[shard]!
            let key = keys.stream(.decisions, shard: shard < 0 ? nil : shard)
            let perEntry = DecisionStreamFormat.decisionsPerEntry
            let prefix = Self.command(["XADD", key, "MAXLEN", "~", String(max(1, options.streamMaxLength / perEntry)), "*", "d"])
            let chunks = stride(from: 0, to: group.count, by: perEntry).map { group[$0..<min(group.count, $0 + perEntry)] }
            let replies = try await decisionClient().execute(chunks.map { prefix + [DecisionStreamFormat.field($0)] }, timeout: options.writeTimeout)
            for (index, reply) in replies.enumerated() {
                _ = try Self.checked(reply, "recording decisions \(chunks[index].first!.decisionID)… in \(key)")
            }
        }
    }

    // MARK: Policy registry

    package func activePolicyVersion() async throws(StoreError) -> String? {
        let reply = try await client.execute([["GET", keys.activePolicy]], timeout: options.readTimeout)[0]
        if try Self.checked(reply, "GET \(keys.activePolicy)").isNull { return nil }
        guard let version = reply.string else {
            throw .failed("\(keys.activePolicy) holds \(reply), not a version string")
        }
        return version
    }

    package func policyBlob(version: String) async throws(StoreError) -> Data? {
        let reply = try await client.execute([["HGET", keys.policyBlobs, version]], timeout: options.readTimeout)[0]
        if try Self.checked(reply, "HGET \(keys.policyBlobs) \(version)").isNull { return nil }
        guard let bytes = reply.bytes else {
            throw .failed("policy blob \(version) is \(reply), not a string")
        }
        return Data(bytes)
    }

    /// Moves the active pointer only if it still holds ARGV[1] ('' for none), storing the blob
    /// first when ARGV[3] is '1', and pushes the event onto the history, trimmed to ARGV[6].
    /// KEYS: 1 active version, 2 blobs, 3 history (one hash slot: `{policy}`). ARGV: 1 expected,
    /// 2 version, 3 '1' when ARGV[4] is a blob to store, 4 blob, 5 event JSON, 6 history limit.
    /// Returns 1; the active version ('' for none) when it was not the expected one; or 0
    /// when no blob was given and the registry has none for the version.
    static let publishIfActiveScript = RedisScript(
        """
        local active = redis.call('GET', KEYS[1]) or ''
        if active ~= ARGV[1] then return active end
        if ARGV[3] == '1' then
          redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
        elseif redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[2])
        redis.call('LPUSH', KEYS[3], ARGV[5])
        redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[6]) - 1)
        return 1
        """)

    package func publishPolicy(version: String, blob: Data?, ifActive expected: String?, event: RegistryEvent) async throws(StoreError) -> PublishOutcome {
        guard !version.isEmpty, expected?.isEmpty != true else { throw .failed("policy versions must not be empty") }
        let registryKeys = [keys.activePolicy, keys.policyBlobs, keys.policyHistory].map { Array($0.utf8) }
        let reply = try await client.run(
            Self.publishIfActiveScript, keys: registryKeys,
            arguments: [
                Array((expected ?? "").utf8), Array(version.utf8), Array((blob == nil ? "0" : "1").utf8), blob.map(Array.init) ?? [],
                Array(event.json.utf8), Array(String(RegistryEvent.historyLimit).utf8),
            ], timeout: options.writeTimeout)
        switch reply {
        case .integer(1): return .published
        case .integer(0): throw .failed("the registry has no policy version \(version)")
        default:
            guard let active = reply.string else { throw .failed("publishing policy \(version): the script answered \(reply)") }
            return .activeChanged(active.isEmpty ? nil : active)
        }
    }

    package func policyHistory(limit: Int) async throws(StoreError) -> [RegistryEvent] {
        guard limit > 0 else { return [] }
        let reply = try await client.execute([["LRANGE", keys.policyHistory, "0", String(limit - 1)]], timeout: options.readTimeout)[0]
        guard let items = try Self.checked(reply, "LRANGE \(keys.policyHistory)").array else {
            throw .failed("\(keys.policyHistory) answered \(reply), not a list")
        }
        var events: [RegistryEvent] = []
        for item in items {
            guard let text = item.string else { throw .failed("\(keys.policyHistory) holds \(item), not text") }
            events.append(try RegistryEvent(json: text))
        }
        return events
    }

    package func policyVersions() async throws(StoreError) -> [String] {
        let reply = try await client.execute([["HKEYS", keys.policyBlobs]], timeout: options.readTimeout)[0]
        guard let items = try Self.checked(reply, "HKEYS \(keys.policyBlobs)").array else {
            throw .failed("HKEYS \(keys.policyBlobs) answered \(reply), not an array")
        }
        var versions: [String] = []
        for item in items {
            guard let version = item.string else { throw .failed("\(keys.policyBlobs) has a version \(item) that is not text") }
            versions.append(version)
        }
        return versions.sorted()
    }

    // MARK: Health

    package func ping() async throws(StoreError) {
        let reply = try await client.execute([["PING"]], timeout: options.readTimeout)[0]
        guard reply == .status("PONG") else {
            throw .failed("PING answered \(reply)")
        }
    }

    // MARK: Helpers

    static func command(_ arguments: [String], json: [UInt8]? = nil) -> [[UInt8]] {
        var command = arguments.map { Array($0.utf8) }
        if let json {
            command.append(json)
        }
        return command
    }

    /// `reply`, or ``StoreError/failed(_:)`` naming `what` if it is an error reply.
    static func checked(_ reply: RedisReply, _ what: @autoclosure () -> String) throws(StoreError) -> RedisReply {
        if let message = reply.errorMessage {
            throw .failed("\(what()): \(message)")
        }
        return reply
    }

    /// Whole seconds of `duration`, at least 1 (for `EXPIRE`).
    static func seconds(_ duration: Duration) -> Int64 {
        max(1, duration.components.seconds)
    }
}

/// Key names of ``RedisLiveStore`` (see its key layout).
struct RedisKeys: Sendable {
    let prefix: String

    func user(_ userID: String) -> String { "\(prefix){u:\(userID)}" }
    func dailyAds(_ userID: String, day: Int) -> String { "\(user(userID)):ads:\(day)" }
    /// A string of bits since 2026-11-27 (a new name, so an old hash and a new string never
    /// meet under one key and fail with WRONGTYPE mid-upgrade).
    func countedEvents(_ userID: String, decisionID: String) -> String { "\(user(userID)):ce:\(decisionID)" }
    /// Feedback counted on Redis Cluster and not yet in its stream shard (the outbox).
    func feedbackOutbox(_ userID: String) -> String { "\(user(userID)):fo" }
    /// A stream's key: `adload:decisions` unsharded, `adload:{s<shard>}:decisions` for a
    /// shard (the hash tag puts a shard's keys in one slot, and the shards on every master).
    func stream(_ name: StreamName, shard: Int? = nil) -> String {
        guard let shard else { return prefix + name.rawValue }
        return prefix + "adload:{s\(shard)}:" + name.rawValue.dropFirst("adload:".count)
    }
    /// The registry's two keys share the hash tag `{policy}`, so Redis Cluster keeps them on
    /// one shard and a script can update both (named `adload:policy:*` before 2026-11-27).
    var activePolicy: String { prefix + "adload:{policy}:active" }
    var policyBlobs: String { prefix + "adload:{policy}:blobs" }
    /// Registry events (``RegistryEvent`` as JSON), newest first, since 2026-12-04.
    var policyHistory: String { prefix + "adload:{policy}:history" }

    /// Rejects user ids that would break the hash tag (or make two users' keys collide).
    static func validate(userID: String) throws(StoreError) {
        // Bytes, not `String.contains(_:)`, which goes through Foundation's locale-aware search.
        if userID.isEmpty || userID.utf8.contains(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) {
            throw .failed("user id `\(userID)` is empty or contains `{` or `}`, which Redis keys cannot hold here")
        }
    }
}
