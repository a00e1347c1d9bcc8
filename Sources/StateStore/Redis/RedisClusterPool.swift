import Logging
import Synchronization

/// The Redis Cluster backend of a ``RedisClient``: one plain client per node, and the slot
/// map that says which node serves a request.
///
/// A request goes to the node that owns the slot of its keys (all its keyed commands must
/// share one slot: hash tags make a user's keys do so); keyless requests (`PING`) go to
/// the nodes in turn. The slot map comes from `CLUSTER SLOTS`, asked of the seeds on the
/// first request and again whenever a node answers `MOVED` (the request is then sent to
/// the new owner). `ASK` (a slot being migrated) sends the request once to the named node
/// with `ASKING` before each keyed command. A node that is down fails only the requests
/// for its slots, as a plain client's requests fail when its server is down; its client
/// reconnects with the usual backoff.
final class RedisClusterPool: Sendable {
    /// Most redirections one request follows before it fails.
    static let maxRedirections = 5

    private struct State {
        /// Node index per slot; -1 while unknown.
        var owners = [Int](repeating: -1, count: RedisClusterRouting.slotCount)
        var nodes: [RedisAddress] = []
        var clients: [String: RedisClient] = [:]
        var mapLoaded = false
        var nextKeyless = 0
        var shutDown = false
    }

    private let template: RedisClient.Configuration
    private let seeds: [RedisAddress]
    private let logger: Logger
    private let state = Mutex(State())

    /// - Parameters:
    ///   - configuration: The template of every node's client (its address and seeds are replaced).
    ///   - seeds: Nodes to ask for the slot map.
    init(configuration: RedisClient.Configuration, seeds: [RedisAddress], logger: Logger) {
        var template = configuration
        template.clusterSeeds = []
        self.template = template
        self.seeds = seeds
        self.logger = logger
    }

    private static func name(_ address: RedisAddress) -> String { "\(address.host):\(address.port)" }

    /// The client of the node at `address`, created on first use.
    private func client(for address: RedisAddress) throws(StoreError) -> RedisClient {
        try state.withLock { (state: inout State) throws(StoreError) -> RedisClient in
            if state.shutDown { throw .unavailable("the Redis cluster client is shut down") }
            let key = Self.name(address)
            if let existing = state.clients[key] { return existing }
            var configuration = template
            configuration.address = address
            configuration.name = "\(template.name)@\(key)"
            let created = RedisClient(configuration: configuration, logger: logger)
            state.clients[key] = created
            return created
        }
    }

    /// Where a request for `slot` goes now (`nil` slot: the next node in turn).
    private func target(slot: Int?) -> RedisAddress? {
        state.withLock { state in
            if let slot, state.owners[slot] >= 0 { return state.nodes[state.owners[slot]] }
            guard !state.nodes.isEmpty else { return nil }
            state.nextKeyless = (state.nextKeyless + 1) % state.nodes.count
            return state.nodes[state.nextKeyless]
        }
    }

    func execute(_ commands: [[[UInt8]]], timeout: Duration) async throws(StoreError) -> [RedisReply] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let slot = try RedisClusterRouting.slot(of: commands)
        if !state.withLock({ $0.mapLoaded }) { try await refresh(timeout: timeout) }
        guard var address = target(slot: slot) else { throw .unavailable("no Redis cluster node is known (seeds: \(seeds.map(Self.name)))") }
        var asking = false
        for _ in 0...Self.maxRedirections {
            let remaining = deadline - clock.now
            guard remaining > .zero else { throw .timeout }
            let client = try client(for: address)
            let replies: [RedisReply]
            if asking {
                var sent: [[[UInt8]]] = []
                var answerAt: [Int] = []
                for command in commands {
                    if RedisClusterRouting.key(of: command) != nil { sent.append([Array("ASKING".utf8)]) }
                    answerAt.append(sent.count)
                    sent.append(command)
                }
                let all = try await client.execute(sent, timeout: remaining)
                replies = answerAt.map { all[$0] }
            } else {
                replies = try await client.execute(commands, timeout: remaining)
            }
            guard let redirection = replies.lazy.compactMap({ RedisClusterRouting.redirection(in: $0, template: self.template.address) }).first else {
                return replies
            }
            switch redirection {
            case let .moved(movedSlot, to):
                logger.debug("slot moved; refreshing the cluster map", metadata: ["slot": "\(movedSlot)", "to": "\(Self.name(to))"])
                state.withLock { state in
                    let index = state.nodes.firstIndex(of: to) ?? { state.nodes.append(to); return state.nodes.count - 1 }()
                    state.owners[movedSlot] = index
                }
                try? await refresh(timeout: max(.milliseconds(1), deadline - clock.now))
                address = target(slot: movedSlot) ?? to
                asking = false
            case let .ask(_, to):
                address = to
                asking = true
            }
        }
        throw .failed("Redis cluster redirected one request more than \(Self.maxRedirections) times")
    }

    /// Reads the slot map with `CLUSTER SLOTS` from the first node that answers: the known
    /// nodes, then the seeds.
    func refresh(timeout: Duration) async throws(StoreError) {
        let known = state.withLock { $0.nodes }
        var lastError = StoreError.unavailable("no Redis cluster seed answered")
        for address in known + seeds.filter({ !known.contains($0) }) {
            let reply: RedisReply
            do {
                reply = try await client(for: address).execute([[Array("CLUSTER".utf8), Array("SLOTS".utf8)]], timeout: timeout)[0]
            } catch {
                lastError = error
                continue
            }
            guard let ranges = reply.array else {
                lastError = .failed("CLUSTER SLOTS at \(Self.name(address)) answered \(reply)")
                continue
            }
            var owners = [Int](repeating: -1, count: RedisClusterRouting.slotCount)
            var nodes: [RedisAddress] = []
            for range in ranges {
                guard let fields = range.array, fields.count >= 3, let low = fields[0].int, let high = fields[1].int,
                      let master = fields[2].array, master.count >= 2, let port = master[1].int,
                      low >= 0, high < RedisClusterRouting.slotCount, low <= high
                else { continue }
                var node = template.address
                let host = master[0].string ?? ""
                node.host = host.isEmpty || host == "?" ? address.host : host
                node.port = port
                let index = nodes.firstIndex(of: node) ?? { nodes.append(node); return nodes.count - 1 }()
                for slot in low...high { owners[slot] = index }
            }
            guard !nodes.isEmpty else {
                lastError = .failed("CLUSTER SLOTS at \(Self.name(address)) listed no slot ranges (is it a cluster?)")
                continue
            }
            state.withLock { state in
                state.owners = owners
                state.nodes = nodes
                state.mapLoaded = true
            }
            return
        }
        throw lastError
    }

    /// The node index owning `slot` (`nil` while unknown).
    func owner(ofSlot slot: Int) -> Int? {
        state.withLock { $0.owners[slot] >= 0 ? $0.owners[slot] : nil }
    }

    /// Every node client made so far.
    private var clients: [RedisClient] { state.withLock { Array($0.clients.values) } }

    var statistics: RedisClient.Statistics {
        clients.reduce(into: RedisClient.Statistics()) { $0.add($1.statistics) }
    }

    var connectionsUp: Int { clients.reduce(0) { $0 + $1.connectionsUp } }

    func shutdown() async {
        let all = state.withLock { state -> [RedisClient] in
            state.shutDown = true
            return Array(state.clients.values)
        }
        for client in all { await client.shutdown() }
    }
}
