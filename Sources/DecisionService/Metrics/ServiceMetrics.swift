import Prometheus
import StateStore
import Synchronization

/// The service's Prometheus metrics, registered in a caller-owned registry.
///
/// The library never bootstraps the global `MetricsSystem`; the executable may bootstrap
/// it with `PrometheusMetricsFactory(registry:)` on the same registry so that other
/// libraries' metrics appear on `/metrics` too.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `adload_http_requests_total` | counter | `route`, `status` (`2xx`…) |
/// | `adload_http_request_duration_seconds` | histogram | `route`, `status` |
/// | `adload_decisions_total` | counter | `fallback` |
/// | `adload_decision_fallbacks_total` | counter | `reason` (`circuit_open`, `timeout`, `unavailable`, `failed`) |
/// | `adload_store_errors_total` | counter | `operation`, `kind` |
/// | `adload_circuit_breaker_state` | gauge | — (0 closed, 1 half-open, 2 open) |
/// | `adload_circuit_breaker_opened_total` | counter | — |
/// | `adload_feedback_events_total` | counter | `outcome` (`accepted`, `duplicate`) |
/// | `adload_decision_buffer_entries` | gauge | — |
/// | `adload_decision_buffer_dropped_total` | counter | — |
/// | `adload_decision_log_written_total` | counter | — |
/// | `adload_policy_info` | gauge | `version` (1 for the active version) |
/// | `adload_policy_swaps_total` | counter | — |
/// | `adload_policy_load_failures_total` | counter | — |
package final class ServiceMetrics: Sendable {
    /// The routes requests are counted under (anything else is `other`).
    enum Route: String, Sendable, CaseIterable {
        case decide, feedback, policy, healthz, readyz, metrics, other

        /// The route of a request path.
        init(path: String) {
            switch path {
            case "/v1/decide": self = .decide
            case "/v1/feedback": self = .feedback
            case "/v1/policy": self = .policy
            case "/healthz": self = .healthz
            case "/readyz": self = .readyz
            case "/metrics": self = .metrics
            default: self = .other
            }
        }

        /// Position in `allCases`, without building that array.
        var index: Int {
            switch self {
            case .decide: 0
            case .feedback: 1
            case .policy: 2
            case .healthz: 3
            case .readyz: 4
            case .metrics: 5
            case .other: 6
            }
        }
    }

    /// The registry `/metrics` renders.
    package let registry: PrometheusCollectorRegistry

    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]
    /// The (route, status class) pairs every service answers from its first minute on,
    /// registered up front so their rates start at zero; other pairs appear when first seen,
    /// so `/metrics` carries no series that can never move.
    static let expectedRequests: [(Route, String)] = [
        (.decide, "2xx"), (.decide, "4xx"), (.decide, "5xx"), (.feedback, "2xx"), (.feedback, "4xx"), (.feedback, "5xx"),
        (.healthz, "2xx"), (.readyz, "2xx"), (.readyz, "5xx"),
    ]
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5),
    ]

    /// Request counter and latency histogram per (route, status class) index, made when first needed.
    let requestSeries = Mutex<[Int: (count: Counter, duration: DurationHistogram)]>([:])
    let decisions: [Counter]
    let circuitState: Gauge
    let circuitOpened: Counter
    let bufferEntries: Gauge
    let bufferDropped: Counter
    let decisionsWritten: Counter
    let feedbackAccepted: Counter
    let feedbackDuplicate: Counter
    let policySwaps: Counter
    let policyLoadFailures: Counter
    let policyInfo = Mutex<(version: String, gauge: Gauge)?>(nil)
    let fallbacks: [String: Counter]
    let storeErrors: [String: Counter]

    /// Why a decision fell back: the circuit was open, or the store call's error kind.
    static let fallbackReasons = ["circuit_open", "timeout", "unavailable", "failed"]
    /// The store operations the service calls.
    static let storeOperations = [
        "user_record", "apply_feedback", "record_decisions", "active_policy_version", "policy_blob", "ping", "pacing_counters",
        "store_targets",
    ]
    static let storeErrorKinds = ["timeout", "unavailable", "failed"]


    static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "adload", metricName: name, unitName: unit, helpText: help)
    }

    /// Registers every metric in `registry`.
    package init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let decisions = Self.descriptor("decisions", "total", "Decisions made, by whether they came from the fallback")
        self.decisions = [false, true].map { registry.makeCounter(descriptor: decisions, labels: [("fallback", "\($0)")]) }
        circuitState = registry.makeGauge(
            descriptor: Self.descriptor("circuit_breaker_state", "", "State store circuit breaker: 0 closed, 1 half-open, 2 open"))
        circuitOpened = registry.makeCounter(descriptor: Self.descriptor("circuit_breaker_opened", "total", "Times the circuit breaker opened"))
        bufferEntries = registry.makeGauge(
            descriptor: Self.descriptor("decision_buffer_entries", "", "Decisions waiting to be written to the decision stream"))
        bufferDropped = registry.makeCounter(
            descriptor: Self.descriptor("decision_buffer_dropped", "total", "Decisions dropped because the decision buffer was full"))
        decisionsWritten = registry.makeCounter(
            descriptor: Self.descriptor("decision_log_written", "total", "Decisions written to the decision stream"))
        let feedback = Self.descriptor("feedback_events", "total", "Feedback events stored, by whether they were new or duplicates")
        feedbackAccepted = registry.makeCounter(descriptor: feedback, labels: [("outcome", "accepted")])
        feedbackDuplicate = registry.makeCounter(descriptor: feedback, labels: [("outcome", "duplicate")])
        policySwaps = registry.makeCounter(descriptor: Self.descriptor("policy_swaps", "total", "Hot swaps to a new policy version"))
        policyLoadFailures = registry.makeCounter(
            descriptor: Self.descriptor("policy_load_failures", "total", "Policy versions from the registry that failed to load"))
        let fallbacks = Self.descriptor("decision_fallbacks", "total", "Decisions answered from the fallback, by reason")
        self.fallbacks = Dictionary(uniqueKeysWithValues: Self.fallbackReasons.map { reason in
            (reason, registry.makeCounter(descriptor: fallbacks, labels: [("reason", reason)]))
        })
        let errors = Self.descriptor("store_errors", "total", "State store calls that failed or timed out, by operation and kind")
        var errorCounters: [String: Counter] = [:]
        for operation in Self.storeOperations {
            for kind in Self.storeErrorKinds {
                errorCounters[operation + "/" + kind] = registry.makeCounter(
                    descriptor: errors, labels: [("operation", operation), ("kind", kind)])
            }
        }
        storeErrors = errorCounters
        circuitState.set(to: 0)
        for (route, status) in Self.expectedRequests {
            _ = requestMetrics(index: Self.requestIndex(route: route, statusClass: Self.statusClasses.firstIndex(of: status) ?? 1))
        }
    }

    static func requestIndex(route: Route, statusClass: Int) -> Int {
        route.index * statusClasses.count + statusClass
    }

    /// The request metrics of `index`, registered on first use.
    func requestMetrics(index: Int) -> (count: Counter, duration: DurationHistogram) {
        requestSeries.withLock { metrics in
            if let existing = metrics[index] { return existing }
            let route = Route.allCases[index / Self.statusClasses.count]
            let labels = [("route", route.rawValue), ("status", Self.statusClasses[index % Self.statusClasses.count])]
            let made = (
                count: registry.makeCounter(
                    descriptor: Self.descriptor("http_requests", "total", "HTTP requests by route and status class"), labels: labels),
                duration: registry.makeDurationHistogram(
                    descriptor: Self.descriptor("http_request_duration", "seconds", "HTTP request latency by route and status class"),
                    labels: labels, buckets: Self.latencyBuckets))
            metrics[index] = made
            return made
        }
    }

    /// Counts one HTTP request and its latency.
    func recordRequest(route: Route, status: Int, duration: Duration) {
        let metrics = requestMetrics(index: Self.requestIndex(route: route, statusClass: min(max(status / 100, 1), 5) - 1))
        metrics.count.increment()
        metrics.duration.record(duration)
    }

    /// Counts one decision.
    func recordDecision(fallback: Bool) {
        decisions[fallback ? 1 : 0].increment()
    }

    /// Counts one fallback decision and why.
    func recordFallback(reason: String) {
        fallbacks[reason]?.increment()
    }

    /// Counts one failed store call.
    func recordStoreError(operation: String, error: StoreError) {
        storeErrors[operation + "/" + StoreErrorLabel.kind(error)]?.increment()
    }

    /// Follows the circuit breaker.
    func recordCircuit(_ state: CircuitBreaker.State) {
        circuitState.set(to: Double(state.rawValue))
        if state == .open { circuitOpened.increment() }
    }

    /// Makes `version` the one `adload_policy_info` reports.
    func recordPolicyVersion(_ version: String?) {
        policyInfo.withLock { info in
            guard info?.version != version else { return }
            if let old = info { registry.unregisterGauge(old.gauge) }
            guard let version else {
                info = nil
                return
            }
            let gauge = registry.makeGauge(
                descriptor: Self.descriptor("policy_info", "", "The active policy version (value 1)"), labels: [("version", version)])
            gauge.set(to: 1)
            info = (version, gauge)
        }
    }

    /// Counts stored feedback events.
    func recordFeedback(accepted: Int, duplicates: Int) {
        feedbackAccepted.increment(by: Int64(accepted))
        feedbackDuplicate.increment(by: Int64(duplicates))
    }

    /// Sets the pacing gauges: per region each price (`adload_pacing_price{region, price}`) and
    /// today's attainment so far (`adload_pacing_attainment{region, target}`: revenue over the
    /// day's revenue target, impressions over the day's budget; absent where none is set).
    func recordPacing(_ snapshot: ServicePacing.Current, regions: [String]) {
        for (index, region) in regions.enumerated() {
            let prices = snapshot.prices[index]
            for (name, value) in [("revenue", prices.revenue), ("impressions", prices.impressions), ("negatives", prices.negatives), ("organic", prices.organic)] {
                registry.makeGauge(
                    descriptor: Self.descriptor("pacing_price", "", "The pacing price decisions in the region use now"),
                    labels: [("region", region), ("price", name)]
                ).set(to: value)
            }
            let today = snapshot.today[index]
            let targets = snapshot.targets?.targets(region: region)
            let attainment: [(String, Double?)] = [
                ("revenue", targets?.dailyRevenue.flatMap { target in
                    let amount = target.amount(activeUsers: today.activeUsers, day: today.day)
                    return amount > 0 ? today.counters.revenue / amount : nil
                }),
                ("impressions", targets?.dailyImpressionBudget.map { today.counters.impressions / $0.on(day: today.day) }),
            ]
            for (name, value) in attainment {
                guard let value else { continue }
                registry.makeGauge(
                    descriptor: Self.descriptor("pacing_attainment", "", "Today's amount so far over the day's target or budget"),
                    labels: [("region", region), ("target", name)]
                ).set(to: value)
            }
        }
    }
}
