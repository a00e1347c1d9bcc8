import AdLoadCore
import Foundation
import Hummingbird
import StateStore

extension DecisionServer {
    /// Seconds per day: request timestamps are Unix seconds, the store and the policy count days.
    static let secondsPerDay = 86_400.0

    /// `POST /v1/decide`: validates, reads the user's record through the circuit breaker
    /// within the decide budget (or falls back), decides with the policy read once, queues
    /// the decision for the stream and answers.
    func decide(_ request: Request, context: ServiceRequestContext) async throws(RequestError) -> Response {
        guard let engine = policyHolder.current else {
            return JSONResponse.error(
                .serviceUnavailable, field: "policy", message: "no policy is loaded yet", headers: [.retryAfter: "1"], request: request,
                context: context)
        }
        let buffer = try await readBody(request)
        let decisionRequest = if let fast = DecideBodyFastPath.parse(buffer) { fast } else { try decode(DecideBody.self, from: buffer).request }
        let resolved = try engine.resolve(decisionRequest)
        let seconds = decisionRequest.timestamp ?? Date().timeIntervalSince1970
        let time = seconds / Self.secondsPerDay
        let userID = decisionRequest.userID
        let decisionID = decisionIDs.make(userID: userID, timeMilliseconds: Int64((seconds * 1000).rounded(.down)))
        let day = Int(time.rounded(.down))
        let store = store
        let budget = configuration.decideStoreBudget
        let outcome = await circuitBreaker(forUser: userID).call(budget: budget, selfTimed: store.honoursTimeouts) { () async throws(StoreError) in
            try await store.userRecord(userID: userID, day: day, timeout: budget)
        }
        let decision: Decision
        switch outcome {
        case let .success(record):
            decision = engine.decide(resolved, record: record, decisionID: decisionID, time: time, prices: pacing?.prices(region: resolved.region))
        case let .failure(failure):
            if case let .store(error) = failure { metrics.recordStoreError(operation: "user_record", error: error) }
            metrics.recordFallback(reason: failure.reason)
            decision = engine.decideFallback(resolved, decisionID: decisionID, time: time, prices: pacing?.prices(region: resolved.region))
        }
        metrics.recordDecision(fallback: decision.fallback)
        decisionLog.append(decision.entry)
        return JSONResponse.decide(decision)
    }

    /// `POST /v1/feedback`: validates, checks the decision id without the store, and
    /// answers 202 only once the store has applied the events; 503 with `Retry-After: 1`
    /// when the store fails, times out or the circuit is open.
    func feedback(_ request: Request, context: ServiceRequestContext) async throws(RequestError) -> Response {
        let body = try await decodeBody(FeedbackBody.self, from: request)
        guard decisionIDs.verify(body.decisionID, userID: body.userID) else {
            throw RequestError(
                .unknownDecision, field: "decision_id",
                message: "unknown decision id \(JSONText.quoted(body.decisionID)) for user \(JSONText.quoted(body.userID))")
        }
        if let pacing {
            if body.region == nil && pacing.isActive {
                throw RequestError.invalid("region", "is required while pacing is on: the counters are per region")
            }
            if let region = body.region, !pacing.regions.contains(region) {
                throw RequestError.invalid("region", "unknown region \(JSONText.quoted(region)), expected one of \(pacing.regions.joined(separator: ", "))")
            }
        }
        let seconds = body.timestamp ?? Date().timeIntervalSince1970
        // The id carries the decision time to the millisecond (it verified above): when the session started.
        let sessionStart = DecisionIDCodec.timeMilliseconds(of: body.decisionID).map { Double($0) / 1000 / Self.secondsPerDay }
        let entry = FeedbackEntry(
            decisionID: body.decisionID, userID: body.userID, time: seconds / Self.secondsPerDay, events: body.events,
            sessionStart: sessionStart)
        let store = store
        let outcome = await circuitBreaker(forUser: body.userID, path: .feedback).call(budget: configuration.feedbackStoreBudget) { () async throws(StoreError) in
            try await store.applyFeedback(entry)
        }
        switch outcome {
        case let .success(result):
            metrics.recordFeedback(accepted: result.newEvents, duplicates: result.duplicateEvents)
            if let pacing, let region = body.region {
                do throws(StoreError) {
                    try await pacing.count(result.counted, userID: body.userID, region: region, time: entry.time)
                } catch {
                    // The feedback is stored (and in the stream); only today's pacing counters miss it.
                    metrics.recordStoreError(operation: "pacing_counters", error: error)
                    logger.warning("feedback stored but not counted for pacing", metadata: ["error": "\(error)"])
                }
            }
            if let error = result.notStreamed {
                // Counted (and paced) but not in its stream shard yet: the retry streams it.
                metrics.recordStoreError(operation: "apply_feedback", error: error)
                return JSONResponse.error(
                    .serviceUnavailable, field: "store", message: "feedback was counted but not streamed yet, retry: \(error.description)",
                    headers: [.retryAfter: "1"], request: request, context: context)
            }
            return JSONResponse.make(
                .accepted, FeedbackResponse(accepted: result.newEvents, duplicates: result.duplicateEvents), request: request,
                context: context)
        case let .failure(failure):
            if case let .store(error) = failure { metrics.recordStoreError(operation: "apply_feedback", error: error) }
            logger.debug("feedback refused: the store did not take it", metadata: ["error": "\(failure)"])
            return JSONResponse.error(
                .serviceUnavailable, field: "store", message: "feedback was not stored, retry: \(failure.description)",
                headers: [.retryAfter: "1"], request: request, context: context)
        }
    }

    /// `GET /v1/policy`: the active policy's version, algorithm, hyper-parameters, provenance and reward weights.
    func policy(_ request: Request, context: ServiceRequestContext) -> Response {
        guard let engine = policyHolder.current else {
            return JSONResponse.error(
                .serviceUnavailable, field: "policy", message: "no policy is loaded yet", headers: [.retryAfter: "1"], request: request,
                context: context)
        }
        return JSONResponse.make(.ok, PolicyResponse(engine), request: request, context: context)
    }

    /// `GET /readyz`: 200 when the store answers a ping within the readiness budget and a
    /// policy is loaded; otherwise 503 naming what failed.
    func readiness(_ request: Request, context: ServiceRequestContext) async -> Response {
        var checks: [String: String] = [:]
        var failed: [String] = []
        if let engine = policyHolder.current {
            checks["policy"] = engine.version
        } else {
            checks["policy"] = "no policy loaded"
            failed.append("policy")
        }
        let store = store
        do throws(StoreError) {
            // The budget runs on the request path's timer (the circuit breaker's, on the server's clock).
            try await StoreBudget.run(configuration.readinessBudget, timer: circuitBreaker.deadlines) { () async throws(StoreError) in
                try await store.ping()
            }
            checks["store"] = "ok"
        } catch {
            metrics.recordStoreError(operation: "ping", error: error)
            checks["store"] = error.description
            failed.insert("store", at: 0)
        }
        if failed.isEmpty {
            return JSONResponse.make(.ok, ReadinessResponse(status: "ready", failed: nil, checks: checks), request: request, context: context)
        }
        return JSONResponse.make(
            .serviceUnavailable, ReadinessResponse(status: "not_ready", failed: failed, checks: checks), request: request, context: context)
    }

    /// `GET /metrics`: the registry in the Prometheus text format, gauges refreshed first.
    func renderMetrics() -> Response {
        metrics.bufferEntries.set(to: Double(decisionLog.count))
        metrics.circuitState.set(to: Double(circuitBreaker.state.rawValue))
        metrics.recordPolicyVersion(policyHolder.current?.version)
        if let pacing { metrics.recordPacing(pacing.snapshot(), regions: pacing.regions) }
        let text = metrics.registry.emitToBuffer()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
    }

    /// Reads at most ``DecisionServiceConfiguration/maxBodyBytes`` of the body and decodes it strictly.
    func decodeBody<Body: Decodable>(_ type: Body.Type, from request: Request) async throws(RequestError) -> Body {
        try decode(type, from: try await readBody(request))
    }

    /// The body, refused when larger than ``DecisionServiceConfiguration/maxBodyBytes``.
    func readBody(_ request: Request, limit: Int? = nil) async throws(RequestError) -> ByteBuffer {
        let limit = limit ?? configuration.maxBodyBytes
        let tooLarge = RequestError(.tooLarge, field: "body", message: "is larger than the limit of \(limit) bytes")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge
        } catch {
            throw RequestError.malformed("body", "could not be read (\(error))")
        }
    }

    /// Decodes a body strictly.
    func decode<Body: Decodable>(_ type: Body.Type, from buffer: ByteBuffer) throws(RequestError) -> Body {
        let decoder = JSONDecoder()
        if let key = RequestLimits.maxEventsKey { decoder.userInfo[key] = configuration.maxFeedbackEvents }
        do {
            return try decoder.decode(Body.self, from: Data(buffer.readableBytesView))
        } catch {
            throw RequestError.undecodable(error)
        }
    }
}
