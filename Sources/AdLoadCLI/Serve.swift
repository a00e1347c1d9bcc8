import AdLoadCore
import ArgumentParser
import DecisionService
import Foundation
import Hummingbird
import LinearAlgebra
import Logging
import Metrics
import NIOPosix
import Policies
import Prometheus
import Simulation
import StateStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve ad plans over HTTP (POST /v1/decide, POST /v1/feedback) on live state in Redis.",
        discussion: """
        With no --redis, starts a private redis-server as a child (append-only file on, data \
        under --data-dir) and writes its address to <data-dir>/redis.url for `adload learn` \
        and `adload replay`. The active policy comes from the Redis policy registry; when the \
        registry has none, --policy is loaded and published to it. SIGTERM or SIGINT stops \
        accepting, finishes in-flight requests, flushes the decision buffer, then stops Redis.
        """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @OptionGroup(title: "Redis")
    var redisOptions: RedisOptions

    @Option(help: "Environment configuration whose regional placement rules the service enforces.")
    var env = "env/default.json"

    @Option(help: ArgumentHelp(
        "Policy file to publish when the registry has no active policy.",
        discussion: "The default, ε-greedy (ε = 0.05), earns the most of the shipped policies as they act, exploring with exact propensities."))
    var policy = "policies/default-egreedy.json"

    @Option(help: ArgumentHelp(
        "How Redis I/O runs: event-loops or threads.",
        discussion: """
            event-loops (default): non-blocking connections on the HTTP server's event loops, which \
            also run the request handlers, so a decide costs no thread switch. threads: blocking \
            hiredis connections on dedicated threads, handlers on Swift's default pool.
            """))
    var redisIO: RedisIO = .eventLoops

    @OptionGroup(title: "Logging")
    var logging: LoggingOptions

    @Flag(help: "Run a policy on an environment other than the one it was trained on (refused otherwise).")
    var allowEnvMismatch = false

    @Option(help: ArgumentHelp(
        "A targets file (docs/pacing.md) to pace to when the store holds none.",
        discussion: "Targets stored by PUT /v1/targets or another replica win over this file. Without either, decisions use the default prices until targets are PUT."))
    var targets: String?

    @Option(help: "A file holding the bearer token (at least 16 characters) of the admin routes (PUT /v1/targets, PUT /v1/policy, POST /v1/policy/rollback); without it those routes answer 403.")
    var adminTokenFile: String?

    @Flag(help: ArgumentHelp(
        "Add the /bench/body and /bench/user-record routes (for scripts/bench-service).",
        discussion: "Each does only a part of a decide's work, so the benchmark can measure what the parts cost."))
    var benchmarkRoutes = false

    /// Whether Redis I/O runs on the event loops; the entry point (`Main`) then installs the
    /// loops as Swift's global executor, so request handlers run on the same threads as the
    /// Redis connections and a decide's round trip to Redis costs no thread switch.
    var usesEventLoopIO: Bool { redisIO == .eventLoops }

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be in 1...65535, got \(port)") }
    }

    func run() async throws {
        let eventLoopIO = usesEventLoopIO
        // Everything that can be refused is checked before logging, metrics or Redis start.
        let config = try loadEnvironment(env)
        let rules = Dictionary(uniqueKeysWithValues: config.regions.map { ($0.name, $0.rules) })
        try Preflight.checkPortFree(host: host, port: port)
        let lock = !redisOptions.namesRedis ? try DataDirectoryLock(dataDirectory: redisOptions.dataDir) : nil
        defer { withExtendedLifetime(lock) {} }
        let initial = try loadPolicyArgument(config: config)
        let regions = config.featureSchema.regions
        let targetsText = try targets.map { path throws -> Data in
            let text = try ConfigReader.contents(of: path)
            do throws(ConfigError) {
                try RevenueTargets.parse(text, file: path).validate(regions: regions, file: path)
            } catch {
                throw CLIError(error.description)
            }
            return text
        }
        let adminToken = try adminTokenFile.map { path throws -> String in
            let token = String(decoding: try ConfigReader.contents(of: path), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.count >= 16 else { throw CLIError("\(path): the admin token must have at least 16 characters, has \(token.count)") }
            return token
        }

        prepareLinearAlgebra()
        bootstrapLogging(level: logging.logLevel)
        let logger = Logger(label: "adload.serve")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let (address, embedded) = try startRedis(logger: logger)
        defer { if embedded != nil { try? FileManager.default.removeItem(atPath: redisURLPath) } }
        // The embedded redis-server is restarted when it dies (same port and data, its
        // append-only file replayed); decisions fall back meanwhile and leave fallback
        // when the connections reconnect.
        let supervisor = embedded.map { Self.supervise($0, logger: Logger(label: "adload.redis-supervisor")) }
        // Reconnects at least every 0.5 s (the default backs off to 2 s), so that with the
        // breakers' 1 s cool-down decisions leave fallback within 2 s of Redis returning.
        var redisConfiguration = RedisClient.Configuration(address: address, maxBackoff: .milliseconds(500))
        redisConfiguration.clusterSeeds = try redisOptions.clusterSeeds()
        if eventLoopIO {
            let group = MultiThreadedEventLoopGroup.singleton
            redisConfiguration.transport = .eventLoops(group)
            redisConfiguration.connections = Array(group.makeIterator()).count
        }
        let store = RedisLiveStore(configuration: redisConfiguration, logger: Logger(label: "adload.redis"))
        do {
            let engine = try await initialEngine(initial, store: store, rules: rules, config: config, logger: logger)
            let holder = PolicyHolder(initial: engine)
            let pacing = ServicePacing(store: store, regions: regions, logger: Logger(label: "adload.pacing"))
            if let targetsText, let path = targets {
                if try await store.pacingTargets() == nil {
                    _ = try await pacing.setTargets(targetsText, source: path)
                    logger.info("pacing to the targets file", metadata: ["targets": "\(path)"])
                } else {
                    logger.info("the store already holds pacing targets; they win over --targets", metadata: ["targets": "\(path)"])
                }
            }
            let server = DecisionServer(
                configuration: DecisionServiceConfiguration(
                    address: .hostname(host, port: port), benchmarkRoutes: benchmarkRoutes, adminToken: adminToken),
                store: store, policyHolder: holder, registry: registry, logger: logger, pacing: pacing)
            let application = buildApplication(server: server)
            logger.info("serving", metadata: [
                "address": "http://\(host):\(port)", "policy": "\(engine.version)", "redis": "\(address)",
                "blas_core": "\(openBLASCoreName())",
            ])
            try await application.runService()
        } catch {
            await store.shutdown()
            supervisor?.stop()
            embedded?.stop()
            throw error
        }
        await store.shutdown()
        supervisor?.stop()
        embedded?.stop()
    }

    /// Watches the embedded redis-server: logs every exit and restart and counts them
    /// (`adload_embedded_redis_exits_total`, `adload_embedded_redis_restarts_total`).
    static func supervise(_ server: RedisServerProcess, logger: Logger) -> RedisSupervisor {
        let exits = Counter(label: "adload_embedded_redis_exits_total")
        let restarts = Counter(label: "adload_embedded_redis_restarts_total")
        let supervisor = RedisSupervisor(server: server) { event in
            switch event {
            case let .exited(status):
                exits.increment()
                logger.error("the embedded redis-server exited; restarting it", metadata: ["status": "\(status)"])
            case let .restarted(attempts):
                restarts.increment()
                logger.notice("the embedded redis-server answers again", metadata: ["attempts": "\(attempts)", "port": "\(server.address.port)"])
            case let .restartFailed(reason, retryIn):
                logger.error("the embedded redis-server could not be restarted", metadata: ["reason": "\(reason)", "retry_in": "\(retryIn)"])
            }
        }
        supervisor.start()
        return supervisor
    }

    /// Where the embedded redis-server's address is written for `learn` and `replay` (removed on exit).
    var redisURLPath: String { URL(fileURLWithPath: redisOptions.dataDir).appendingPathComponent("redis.url").path }

    /// The Redis to use: --redis, or an embedded server under the data folder.
    func startRedis(logger: Logger) throws -> (RedisAddress, RedisServerProcess?) {
        if let first = try redisOptions.clusterSeeds().first { return (first, nil) }
        if let redis = redisOptions.redis {
            do { return (try RedisAddress(parsing: redis), nil) } catch { throw CLIError("--redis: \(error)") }
        }
        let directory = URL(fileURLWithPath: redisOptions.dataDir).appendingPathComponent("redis").path
        let server: RedisServerProcess
        do {
            server = try RedisServerProcess.start(port: try RedisServerProcess.freePort(), directory: directory, appendOnly: true)
        } catch {
            throw CLIError("\(error)")
        }
        let url = "redis://127.0.0.1:\(server.address.port)/0"
        do {
            try Data((url + "\n").utf8).write(to: URL(fileURLWithPath: redisURLPath))
        } catch {
            server.stop()
            throw CLIError("\(redisOptions.dataDir)/redis.url: cannot write the embedded Redis address (\(error.localizedDescription))")
        }
        say("adload serve: embedded redis-server at \(url) (data in \(directory))")
        logger.info("started embedded redis-server", metadata: ["url": "\(url)", "data": "\(directory)"])
        return (server.address, server)
    }

    /// The --policy file's bytes and policy, checked against the environment's schema and name.
    func loadPolicyArgument(config: EnvironmentConfig) throws -> (data: Data, policy: any DecisionPolicy) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: policy)) } catch {
            throw CLIError("\(policy): cannot be read (\(error.localizedDescription))")
        }
        let file: any DecisionPolicy
        do { file = try PolicyFile.parse(data, file: policy, expectedSchema: config.featureSchema) } catch { throw CLIError(error.description) }
        try Preflight.checkEnvironment(file, file: policy, config: config, configPath: env, allowed: allowEnvMismatch)
        return (data, file)
    }

    /// The registry's active policy, or --policy published to the registry.
    ///
    /// --policy was read and checked before Redis started (``loadPolicyArgument(config:)``),
    /// whatever the registry holds. When the registry already has an active version that
    /// loads, that version serves and --policy is not published: a line on stdout says so.
    func initialEngine(
        _ initial: (data: Data, policy: any DecisionPolicy), store: RedisLiveStore, rules: [String: PlacementRules],
        config: EnvironmentConfig, logger: Logger
    ) async throws -> DecisionEngine {
        let schema = config.featureSchema
        let (data, file) = initial
        let version = policyVersion(policy)
        if let active = try await store.activePolicyVersion(), let blob = try await store.policyBlob(version: active) {
            do {
                let registered = try PolicyFile.parse(blob, file: "registry:\(active)", expectedSchema: schema)
                try Preflight.checkEnvironment(
                    registered, file: "the registry's active policy \(active)", config: config, configPath: env, allowed: allowEnvMismatch)
                if active != version {
                    say("adload serve: the registry already serves \(active); --policy \(policy) (\(version)) is not published (use a fresh --data-dir to start from it)")
                }
                return try DecisionEngine(policy: registered, version: active, rules: rules)
            } catch let error as CLIError {
                throw error
            } catch {
                logger.warning("the registry's active policy does not load; publishing --policy instead", metadata: ["error": "\(error)"])
            }
        }
        try await store.publishPolicy(
            version: version, blob: data,
            event: RegistryEvent(version: version, previous: nil, action: .publish, at: RegistryEvent.now(), by: "adload serve --policy \(policy) (\(whoAndWhere()))"))
        logger.info("published policy to the registry", metadata: ["file": "\(policy)", "version": "\(version)"])
        do { return try DecisionEngine(policy: file, version: version, rules: rules) } catch { throw CLIError("\(policy): \(error)") }
    }
}

/// Logs to stderr at `level`, once per process.
func bootstrapLogging(level: LogLevel) {
    let parsed = level.level
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
}
