import Hummingbird

/// Everything the decision service can be tuned with; the defaults are the production values.
package struct DecisionServiceConfiguration: Sendable {
    /// Where the HTTP server listens (default 127.0.0.1:8080).
    package var address: BindAddress
    /// The `Server` response header, or `nil` for none.
    var serverName: String?
    /// Largest request body accepted, bytes (default 64 KiB); larger bodies get 413.
    var maxBodyBytes: Int
    /// Largest number of events in one feedback request (default 1000).
    var maxFeedbackEvents: Int
    /// Time the decide path waits for the user's record before answering from the fallback (default 20 ms).
    var decideStoreBudget: Duration
    /// Time the feedback path waits for the store before answering 503 (default 500 ms).
    var feedbackStoreBudget: Duration
    /// Time `/readyz` gives the store's ping (default 100 ms).
    var readinessBudget: Duration
    /// The circuit breaker in front of the store on the decide and feedback paths.
    var circuitBreaker: CircuitBreaker.Configuration
    /// How the policy watcher polls the registry.
    var policyWatcher: PolicyWatcher.Configuration
    /// How decisions are buffered and written to the decision stream.
    var decisionLog: DecisionLogBuffer.Configuration
    /// The key of the decision-id check (see ``DecisionIDCodec``). Every instance serving the
    /// same users must share it. The default is a constant: the check protects against
    /// mistakes (ids of another user, truncated or made-up ids), not against adversaries.
    var decisionIDSecret: String
    /// Adds the `/bench/...` routes, which do only a part of a decide's work, so a load
    /// benchmark can measure what those parts cost (default off; never needed in production).
    package var benchmarkRoutes: Bool
    /// The bearer token admin routes (`PUT /v1/targets`, `PUT /v1/policy`,
    /// `POST /v1/policy/rollback`) require; `nil`: admin routes answer 403.
    package var adminToken: String?
    /// Largest policy file `PUT /v1/policy` accepts, bytes (default 16 MiB; the shipped ones are about 64 KiB).
    var maxPolicyBytes = 16 * 1024 * 1024

    /// The default secret of decision ids.
    static let defaultDecisionIDSecret = "adload-decision-id-v1"

    /// Creates a configuration; every parameter has the production default.
    package init(
        address: BindAddress = .hostname("127.0.0.1", port: 8080),
        serverName: String? = "adload",
        maxBodyBytes: Int = 64 * 1024,
        maxFeedbackEvents: Int = 1000,
        decideStoreBudget: Duration = .milliseconds(20),
        feedbackStoreBudget: Duration = .milliseconds(500),
        readinessBudget: Duration = .milliseconds(100),
        circuitBreaker: CircuitBreaker.Configuration = .init(),
        policyWatcher: PolicyWatcher.Configuration = .init(),
        decisionLog: DecisionLogBuffer.Configuration = .init(),
        decisionIDSecret: String = DecisionServiceConfiguration.defaultDecisionIDSecret,
        benchmarkRoutes: Bool = false,
        adminToken: String? = nil
    ) {
        self.adminToken = adminToken
        self.address = address
        self.serverName = serverName
        self.maxBodyBytes = maxBodyBytes
        self.maxFeedbackEvents = maxFeedbackEvents
        self.decideStoreBudget = decideStoreBudget
        self.feedbackStoreBudget = feedbackStoreBudget
        self.readinessBudget = readinessBudget
        self.circuitBreaker = circuitBreaker
        self.policyWatcher = policyWatcher
        self.decisionLog = decisionLog
        self.decisionIDSecret = decisionIDSecret
        self.benchmarkRoutes = benchmarkRoutes
    }
}
