import AdLoadCore
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import StateStore
import Synchronization

/// The decision service's parts, wired together: the policy holder and watcher, the
/// circuit breaker in front of the store, the decision log buffer, the decision-id codec,
/// the metrics, and the HTTP routes over them.
///
/// ``buildApplication(server:)`` turns it into a Hummingbird application whose service
/// group also runs ``services`` (the policy watcher and the decision log flusher).
package final class DecisionServer: Sendable {
    /// The configuration.
    package let configuration: DecisionServiceConfiguration
    /// The live state store.
    package let store: any LiveStore
    /// The active policy.
    package let policyHolder: PolicyHolder
    /// Follows the policy registry.
    let policyWatcher: PolicyWatcher
    /// Buffers decisions for the decision stream.
    let decisionLog: DecisionLogBuffer
    /// Guards the decide path's store calls of failure domain 0 (the whole store, or users
    /// whose cluster node is not yet known); its state is the `adload_circuit_breaker_state` gauge.
    let circuitBreaker: CircuitBreaker
    /// The other breakers, made on first use: one per path (decide, feedback) and failure
    /// domain of the store (a Redis Cluster node). A dead node opens the circuits of its own
    /// users only, and decide timeouts (a 20 ms budget, which a saturated machine misses
    /// while Redis is fine) do not turn feedback (a 500 ms budget) away.
    let otherBreakers: Mutex<[BreakerKey: CircuitBreaker]>

    /// Which store calls a circuit breaker guards.
    enum StorePath: Hashable {
        case decide, feedback
    }

    struct BreakerKey: Hashable {
        var domain: Int
        var path: StorePath
    }
    /// Makes and verifies decision ids.
    let decisionIDs: DecisionIDCodec
    /// The service's metrics.
    package let metrics: ServiceMetrics
    /// The logger handlers use.
    package let logger: Logger
    /// The clock of every budget, cool-down and period of the parts.
    package let clock: any TimeSource
    /// Revenue and supply pacing (`nil`: off, decisions use the default prices).
    package let pacing: ServicePacing?

    /// Wires the parts.
    /// - Parameters:
    ///   - configuration: Limits, budgets and timings.
    ///   - store: The live state store (Redis in production, in memory in tests).
    ///   - policyHolder: The policy to serve first (or an empty holder the watcher fills).
    ///   - registry: Where metrics are registered; `/metrics` renders it.
    ///   - logger: The service's logger.
    ///   - clock: Measures the store budgets, the circuit breaker's cool-down, the policy
    ///     watcher's interval and the decision log's pauses (tests pass a manual clock).
    package init(
        configuration: DecisionServiceConfiguration = .init(), store: any LiveStore, policyHolder: PolicyHolder,
        registry: PrometheusCollectorRegistry, logger: Logger, clock: any TimeSource = SystemClock(), pacing: ServicePacing? = nil
    ) {
        let metrics = ServiceMetrics(registry: registry)
        self.pacing = pacing
        self.configuration = configuration
        self.store = store
        self.policyHolder = policyHolder
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        circuitBreaker = Self.makeBreaker(domain: 0, configuration: configuration, clock: clock, metrics: metrics, logger: logger)
        otherBreakers = Mutex([:])
        decisionLog = DecisionLogBuffer(
            store: store, configuration: configuration.decisionLog, metrics: metrics, logger: logger, clock: clock)
        policyWatcher = PolicyWatcher(
            holder: policyHolder, store: store, configuration: configuration.policyWatcher, metrics: metrics, logger: logger,
            clock: clock)
        decisionIDs = DecisionIDCodec(secret: configuration.decisionIDSecret)
        metrics.recordPolicyVersion(policyHolder.current?.version)
    }

    /// A circuit breaker for `path`'s calls for the users of failure `domain` (``LiveStore/failureDomain(ofUser:)``).
    static func makeBreaker(
        domain: Int, path: StorePath = .decide, configuration: DecisionServiceConfiguration, clock: any TimeSource, metrics: ServiceMetrics,
        logger: Logger
    ) -> CircuitBreaker {
        let gauge = domain == 0 && path == .decide
        let what = path == .decide ? "deciding from the fallback" : "refusing feedback (503)"
        return CircuitBreaker(configuration: configuration.circuitBreaker, clock: clock) { state in
            if gauge { metrics.recordCircuit(state) } else if state == .open { metrics.circuitOpened.increment() }
            let metadata: Logger.Metadata = ["domain": "\(domain)", "path": "\(path)"]
            if state == .open {
                logger.warning("state store circuit breaker opened: \(what)", metadata: metadata)
            } else {
                logger.info("state store circuit breaker \(state)", metadata: metadata)
            }
        }
    }

    /// The breaker guarding `path`'s store calls for `userID`: one per path and failure domain.
    func circuitBreaker(forUser userID: String, path: StorePath = .decide) -> CircuitBreaker {
        let key = BreakerKey(domain: store.failureDomain(ofUser: userID), path: path)
        if key.domain == 0 && path == .decide { return circuitBreaker }
        return otherBreakers.withLock { breakers in
            if let existing = breakers[key] { return existing }
            let made = Self.makeBreaker(
                domain: key.domain, path: path, configuration: configuration, clock: clock, metrics: metrics, logger: logger)
            breakers[key] = made
            return made
        }
    }

    /// The background services the application runs beside the HTTP server: the policy
    /// watcher and the decision log flusher. On graceful shutdown the server stops first
    /// (finishing in-flight requests), then the flusher drains the buffer.
    package var services: [any Service] { [policyWatcher, decisionLog] + (pacing.map { [$0] } ?? []) }

    /// The router with every route and the request metrics middleware.
    func makeRouter() -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.post("/v1/decide") { request, context in try await self.decide(request, context: context) }
        router.post("/v1/feedback") { request, context in try await self.feedback(request, context: context) }
        router.get("/v1/policy") { request, context in self.policy(request, context: context) }
        router.put("/v1/policy") { request, context in try await self.putPolicy(request, context: context) }
        router.post("/v1/policy/rollback") { request, context in try await self.rollbackPolicy(request, context: context) }
        router.get("/v1/targets") { request, context in self.targets(request, context: context) }
        router.put("/v1/targets") { request, context in try await self.putTargets(request, context: context) }
        router.get("/healthz") { _, _ in JSONResponse.healthy }
        router.get("/readyz") { request, context in await self.readiness(request, context: context) }
        router.get("/metrics") { _, _ in self.renderMetrics() }
        if configuration.benchmarkRoutes { addBenchmarkRoutes(to: router) }
        return router
    }
}

/// Builds the decision service's HTTP application.
///
/// The application's service group runs the HTTP server, the ``PolicyWatcher`` and the
/// ``DecisionLogBuffer`` flusher; run it with `runService()` (which shuts down gracefully on
/// SIGTERM and SIGINT) or put it in your own `ServiceGroup`.
/// - Parameters:
///   - configuration: Address, limits, budgets and timings.
///   - store: The live state store.
///   - policyHolder: The policy to serve first.
///   - registry: Where metrics are registered (`/metrics` renders it); never the global `MetricsSystem`.
///   - logger: The service's logger.
package func buildApplication(
    configuration: DecisionServiceConfiguration = .init(), store: any LiveStore, policyHolder: PolicyHolder,
    registry: PrometheusCollectorRegistry, logger: Logger
) -> some ApplicationProtocol {
    buildApplication(
        server: DecisionServer(configuration: configuration, store: store, policyHolder: policyHolder, registry: registry, logger: logger))
}

/// Builds the HTTP application of an already wired ``DecisionServer`` (tests keep the
/// server to look at its buffer, circuit breaker and metrics).
package func buildApplication(server: DecisionServer) -> some ApplicationProtocol {
    Application(
        router: server.makeRouter(),
        configuration: ApplicationConfiguration(address: server.configuration.address, serverName: server.configuration.serverName),
        services: server.services,
        logger: server.logger)
}
