import AdLoadCore
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Simulation

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive a running decision service with simulated users over HTTP.",
        discussion: """
        Users from the environment model ask the service for an ad plan at each session \
        start (POST /v1/decide), live the session in the simulator with that plan, and report \
        what they did (POST /v1/feedback: impressions with their revenue, clicks, hides, dwell \
        per item, session end). Simulated days are replayed in order, users in parallel within \
        a day; request timestamps carry simulated time, so the service and `adload learn` see \
        the simulated calendar. Prints the running objective per window of simulated days.
        """)

    @Option(help: "Environment-model configuration (JSON).")
    var env = "env/default.json"

    @Option(help: "Base URL of the service.")
    var target = "http://127.0.0.1:8080"

    @Option(parsing: .unconditional, help: "Simulated users.")
    var users = 200

    @Option(parsing: .unconditional, help: "Simulated days.")
    var days = 14

    @Option(help: "Seed of the simulated users.")
    var seed: UInt64 = 11

    @Option(help: "Simulated days per progress line.")
    var window = 1

    @Option(help: "Concurrent users in flight.")
    var concurrency = 16

    @Option(help: "Print the first N decisions.")
    var show = 3

    @Flag(help: "Print one JSON object on stdout at the end; the per-day lines go to stderr.")
    var json = false

    @Flag(help: "No per-day lines or decisions; only the summary (or the JSON object).")
    var quiet = false

    func validate() throws {
        guard users >= 1 && users <= 1_000_000 else { throw ValidationError("--users must be in 1...1000000, got \(users)") }
        guard days >= 1 && days <= 3650 else { throw ValidationError("--days must be in 1...3650, got \(days)") }
        guard window >= 1 else { throw ValidationError("--window must be at least 1, got \(window)") }
        guard concurrency >= 1 && concurrency <= 1024 else { throw ValidationError("--concurrency must be in 1...1024, got \(concurrency)") }
        guard URL(string: target)?.host != nil else { throw ValidationError("--target must be a URL such as http://127.0.0.1:8080, got '\(target)'") }
    }

    func run() async throws {
        let summary = try await replay()
        if json {
            print(summary.json)
        } else {
            say(summary.line)
        }
        if summary.totals.failures > 0 {
            throw CLIError("\(summary.totals.failures) requests to \(target) failed (see the counts above)")
        }
    }

    /// Replays every user and day against the service and returns the totals.
    func replay() async throws -> ReplaySummary {
        let config = try loadEnvironment(env)
        let model = EnvironmentModel(config: config)
        let client = ServiceClient(base: target)
        try await client.checkReady()
        // Simulated day 0 starts at the most recent UTC midnight, so the service's calendar days line up.
        let epoch = (Date.now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400
        var trajectories = (0..<users).map { model.startTrajectory(model.user($0, populationSeed: seed), luckSeed: seed, days: days) }
        var windowTotals = ReplayTotals()
        var allTotals = ReplayTotals()
        var shown = 0
        // Human-readable lines: stdout normally, stderr under --json, nowhere under --quiet.
        let progress: (String) -> Void = if quiet {
            { _ in }
        } else if json {
            { (line: String) in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        } else {
            say
        }
        progress("replaying \(users) users × \(days) days from \(config.name) against \(target)")
        progress("days      sessions  revenue/user  ads/session  items/session  fallbacks  policy versions")
        for day in 0..<days {
            let dayEnd = Double(day + 1)
            let results = try await withThrowingTaskGroup(of: (Int, UserTrajectory, ReplayTotals, [String]).self) { group in
                var next = 0
                var collected: [(Int, UserTrajectory, ReplayTotals, [String])] = []
                func submit() {
                    while next < trajectories.count && !trajectories[next].isActive { next += 1 }
                    guard next < trajectories.count else { return }
                    let index = next
                    let trajectory = trajectories[index]
                    next += 1
                    group.addTask {
                        var trajectory = trajectory
                        var totals = ReplayTotals()
                        var lines: [String] = []
                        while trajectory.isActive && trajectory.time < dayEnd {
                            let line = try await Self.session(&trajectory, model: model, config: config, client: client, epoch: epoch, totals: &totals)
                            lines.append(line)
                        }
                        return (index, trajectory, totals, lines)
                    }
                }
                for _ in 0..<concurrency { submit() }
                while let result = try await group.next() {
                    collected.append(result)
                    submit()
                }
                return collected.sorted { $0.0 < $1.0 }
            }
            for (index, trajectory, totals, lines) in results {
                trajectories[index] = trajectory
                windowTotals.add(totals)
                allTotals.add(totals)
                for line in lines where shown < show {
                    progress("  decision: \(line)")
                    shown += 1
                }
            }
            if (day + 1) % window == 0 || day + 1 == days {
                progress(windowTotals.line(days: "\(day + 2 - window)-\(day + 1)", users: users))
                windowTotals = ReplayTotals()
            }
        }
        progress(allTotals.line(days: "all", users: users))
        let survival = Double(trajectories.filter { !$0.churned }.count) / Double(users)
        return ReplaySummary(
            totals: allTotals, users: users, days: days, survival: survival, environment: config.name, target: target)
    }

    /// Retries of a feedback call answered 503, and the longest wait between two (seconds).
    static let feedbackRetries = 5
    static let longestRetryWait = 2.0

    /// One session: decide over HTTP, simulate with the plan, report feedback. Returns a log line.
    static func session(
        _ trajectory: inout UserTrajectory, model: EnvironmentModel, config: EnvironmentConfig, client: ServiceClient,
        epoch: Double, totals: inout ReplayTotals
    ) async throws -> String {
        let context = model.context(of: trajectory)
        let user = trajectory.user
        let userID = "sim-\(user.index)"
        let timestamp = epoch + context.time * 86_400
        let request: [String: Any] = [
            "user_id": userID, "session_id": "\(user.index)-\(context.sessionIndex)",
            "region": config.regions[user.region].name, "device": config.devices[user.device].name,
            "tenure": config.tenures[user.tenure].name, "hour": context.hour, "feed_length": context.feedLength,
            "timestamp": timestamp,
        ]
        var plan = AdPlan()
        var decisionID: String?
        var line = ""
        do {
            let answer = try await client.post("/v1/decide", request)
            decisionID = answer["decision_id"] as? String
            let positions = (answer["ad_positions"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? []
            plan = (try? AdPlan(positions: positions)) ?? AdPlan()
            if (answer["fallback"] as? Bool) == true { totals.fallbacks += 1 }
            if let version = answer["policy_version"] as? String { totals.versions.insert(String(version.suffix(8))) }
            line = "\(userID) \(config.regions[user.region].name) hour \(context.hour): ads at \(positions) "
                + "(p = \(answer["probability"] ?? "?"), policy \(answer["policy_version"] ?? "?"), fallback \(answer["fallback"] ?? "?"))"
        } catch {
            totals.failures += 1
            totals.failedDecisions += 1
            if let error = error as? HTTPStatusError, error.status >= 500 { totals.serverErrors += 1 }
            line = "\(userID): decide failed: \((error as? URLError).map(ServiceClient.reason) ?? "\(error)")"
        }
        var recorder = RecordingDecider(plan: plan)
        let outcome = try model.step(&trajectory, decider: &recorder, policyName: "replay")
        recorder.finish(outcome)
        totals.sessions += 1
        totals.revenue += outcome.revenue
        totals.ads += outcome.ads
        totals.items += outcome.items
        if let decisionID {
            let revenuePerAd = outcome.ads > 0 ? outcome.revenue / Double(outcome.ads) : 0
            var events: [[String: Any]] = recorder.events.map { event in
                var object: [String: Any] = ["type": event.type, "position": event.position]
                if event.type == "impression" { object["value"] = revenuePerAd }
                if let dwell = event.dwell { object["value"] = dwell }
                return object
            }
            events.append(["type": "session_end", "value": outcome.items + outcome.ads])
            // As a feed server would: a 503 (Redis could not store it) is retried after its
            // Retry-After, a few times, so feedback refused during a short Redis stall is
            // delivered once Redis takes it.
            let body: [String: Any] = [
                "decision_id": decisionID, "user_id": userID, "events": Array(events.suffix(1000)), "timestamp": timestamp + 60,
            ]
            var attempts = 0
            while true {
                do {
                    _ = try await client.post("/v1/feedback", body)
                    totals.feedbackAccepted += 1
                    break
                } catch let error as HTTPStatusError where error.status == 503 && attempts < Self.feedbackRetries {
                    attempts += 1
                    totals.feedbackRetries += 1
                    try? await Task.sleep(for: .seconds(min(Self.longestRetryWait, max(0.05, error.retryAfter ?? 1))))
                } catch {
                    totals.failures += 1
                    if let error = error as? HTTPStatusError, error.status >= 500 { totals.serverErrors += 1 }
                    break
                }
            }
        }
        return line
    }
}

/// Turns the simulator's per-position view into feedback events: at each position it sees
/// the session so far, so it knows what the previous position did.
struct RecordingDecider: AdDecider {
    struct Event { let type: String; let position: Int; let dwell: Double? }

    let plan: AdPlan
    var events: [Event] = []
    var last = SessionSoFar()
    var lastPosition = 0

    init(plan: AdPlan) { self.plan = plan }

    mutating func showAd(tracker: PlacementTracker, session: SessionSoFar) -> Bool {
        record(upTo: tracker.position - 1, session: session)
        return plan.contains(tracker.position) && tracker.allowsAd()
    }

    mutating func record(upTo position: Int, session: SessionSoFar) {
        guard position >= 1 else { return }
        if session.ads > last.ads { events.append(Event(type: "impression", position: position, dwell: nil)) }
        if session.clicks > last.clicks { events.append(Event(type: "click", position: position, dwell: nil)) }
        if session.negatives > last.negatives { events.append(Event(type: "hide", position: position, dwell: nil)) }
        if session.items > last.items { events.append(Event(type: "dwell", position: position, dwell: session.lastDwell)) }
        last = session
        lastPosition = position
    }

    /// The last position is not followed by another decision: take it from the totals.
    mutating func finish(_ outcome: SessionOutcome) {
        let position = lastPosition + 1
        if outcome.ads > last.ads { events.append(Event(type: "impression", position: position, dwell: nil)) }
        if outcome.clicks > last.clicks { events.append(Event(type: "click", position: position, dwell: nil)) }
        if outcome.negatives > last.negatives { events.append(Event(type: "hide", position: position, dwell: nil)) }
        if outcome.items > last.items {
            events.append(Event(type: "dwell", position: position, dwell: max(0, outcome.dwell - last.dwell)))
        }
    }
}

/// What a whole replay did.
struct ReplaySummary {
    let totals: ReplayTotals
    let users: Int
    let days: Int
    let survival: Double
    let environment: String
    let target: String

    /// The closing line of the table.
    var line: String {
        String(
            format: "revenue per user %.4f, survival %.3f, %d requests failed, %d feedback calls retried after 503",
            totals.revenue / Double(users), survival, totals.failures, totals.feedbackRetries)
    }

    /// The whole replay as one JSON object (`adload replay --json`).
    var json: String {
        let perSession = { (value: Double) in totals.sessions > 0 ? value / Double(totals.sessions) : 0 }
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("env"); writer.string(environment)
        writer.key("target"); writer.string(target)
        writer.key("users"); writer.integer(users)
        writer.key("days"); writer.integer(days)
        writer.key("sessions"); writer.integer(totals.sessions)
        writer.key("revenue_per_user"); writer.number(totals.revenue / Double(max(1, users)))
        writer.key("ads_per_session"); writer.number(perSession(Double(totals.ads)))
        writer.key("items_per_session"); writer.number(perSession(Double(totals.items)))
        writer.key("survival"); writer.number(survival)
        writer.key("fallbacks"); writer.integer(totals.fallbacks)
        writer.key("failed_requests"); writer.integer(totals.failures)
        writer.key("feedback_retries"); writer.integer(totals.feedbackRetries)
        writer.key("feedback_accepted"); writer.integer(totals.feedbackAccepted)
        writer.key("server_errors"); writer.integer(totals.serverErrors)
        writer.key("failed_decisions"); writer.integer(totals.failedDecisions)
        writer.key("policy_versions")
        writer.byte(UInt8(ascii: "["))
        for (index, version) in totals.versions.sorted().enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.string(version)
        }
        writer.byte(UInt8(ascii: "]"))
        writer.endObject()
        return writer.text
    }
}

/// Sums over replayed sessions.
struct ReplayTotals {
    var sessions = 0, ads = 0, items = 0, fallbacks = 0, failures = 0, feedbackRetries = 0
    /// Feedback calls answered 2xx (202: stored), and requests answered 5xx in the end (after any retries).
    var feedbackAccepted = 0, serverErrors = 0
    /// Decide calls that failed (the rest of ``failures`` are feedback calls that failed after their retries).
    var failedDecisions = 0
    var revenue = 0.0
    var versions = Set<String>()

    mutating func add(_ other: ReplayTotals) {
        sessions += other.sessions
        ads += other.ads
        items += other.items
        fallbacks += other.fallbacks
        failures += other.failures
        feedbackRetries += other.feedbackRetries
        feedbackAccepted += other.feedbackAccepted
        serverErrors += other.serverErrors
        failedDecisions += other.failedDecisions
        revenue += other.revenue
        versions.formUnion(other.versions)
    }

    func line(days: String, users: Int) -> String {
        let perSession = { (value: Double) in sessions > 0 ? value / Double(sessions) : 0 }
        return String(
            format: "%-8@ %9d  %12.4f  %11.2f  %13.1f  %9d  %@", days, sessions, revenue / Double(max(1, users)),
            perSession(Double(ads)), perSession(Double(items)), fallbacks, versions.sorted().joined(separator: ","))
    }
}

/// A minimal JSON-over-HTTP client for the replay (URLSession).
struct ServiceClient: Sendable {
    let base: String
    let session: URLSession

    init(base: String) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 10
        session = URLSession(configuration: configuration)
    }

    /// Fails fast, with one line, when the service does not answer `GET /readyz` with 200
    /// within 2 seconds: before any user is replayed.
    func checkReady() async throws {
        guard let url = URL(string: base + "/readyz") else { throw CLIError("--target \(base): not a URL") }
        var request = URLRequest(url: url)
        request.timeoutInterval = 2
        let status: Int
        do {
            let (_, response) = try await session.data(for: request)
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
        } catch {
            let reason = (error as? URLError).map { Self.reason($0) } ?? "\(error)"
            throw CLIError("cannot reach the decision service at \(base) (\(reason)); start it with `adload serve` or pass --target")
        }
        guard status == 200 else {
            throw CLIError("the decision service at \(base) is not ready (GET /readyz answered \(status)); check its log")
        }
    }

    /// A short reason for a transport error.
    static func reason(_ error: URLError) -> String {
        switch error.code {
        case .cannotConnectToHost: "connection refused"
        case .timedOut: "no answer within 2 s"
        case .cannotFindHost: "unknown host"
        default: error.localizedDescription
        }
    }

    func post(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        guard let url = URL(string: base + path) else { throw CLIError("bad URL \(base + path)") }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await session.data(for: request)
        let http = response as? HTTPURLResponse
        let status = http?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw HTTPStatusError(
                path: path, status: status, retryAfter: http?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init),
                body: String(decoding: data, as: UTF8.self))
        }
        guard !data.isEmpty else { return [:] }
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }
}

/// A response outside 2xx, with what a client needs to decide whether to retry.
struct HTTPStatusError: Error, CustomStringConvertible {
    let path: String
    let status: Int
    /// Seconds from the `Retry-After` header, if any.
    let retryAfter: Double?
    let body: String

    var description: String { "\(path) answered \(status): \(body)" }
}
