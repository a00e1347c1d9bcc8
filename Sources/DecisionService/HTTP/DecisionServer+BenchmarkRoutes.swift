import Foundation
import Hummingbird
import StateStore

extension DecisionServer {
    /// Adds routes that each do only a part of `POST /v1/decide`'s work and, when it
    /// succeeds, answer with `/healthz`'s body, so `scripts/bench-service` can put a price on the parts: what
    /// reading a request body costs, and what one round trip for a user's record costs.
    /// Registered only with ``DecisionServiceConfiguration/benchmarkRoutes``.
    ///
    /// - `POST /bench/body`: reads and parses a decide body.
    /// - `POST /bench/user-record`: reads and parses a decide body, then reads the user's
    ///   record and the day's ad counter as decide does (circuit breaker, decide budget): the
    ///   floor of a decide, with no policy, no decision log and a small answer. Its store
    ///   failures count in the circuit breaker like decide's (503 instead of a fallback).
    func addBenchmarkRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/bench/body") { request, _ in
            _ = try await self.benchmarkRequest(request)
            return JSONResponse.healthy
        }
        router.post("/bench/user-record") { request, context in
            let decisionRequest = try await self.benchmarkRequest(request)
            let userID = decisionRequest.userID
            let seconds = decisionRequest.timestamp ?? Date().timeIntervalSince1970
            let day = Int((seconds / Self.secondsPerDay).rounded(.down))
            let store = self.store
            let budget = self.configuration.decideStoreBudget
            let outcome = await self.circuitBreaker.call(budget: budget, selfTimed: store.honoursTimeouts) {
                () async throws(StoreError) in
                try await store.userRecord(userID: userID, day: day, timeout: budget)
            }
            if case .failure = outcome {
                return JSONResponse.error(
                    .serviceUnavailable, field: "store", message: "the user's record could not be read", headers: [.retryAfter: "1"],
                    request: request, context: context)
            }
            return JSONResponse.healthy
        }
    }

    /// A decide body, read and parsed as `POST /v1/decide` does.
    func benchmarkRequest(_ request: Request) async throws(RequestError) -> DecisionRequest {
        let buffer = try await readBody(request)
        if let fast = DecideBodyFastPath.parse(buffer) { return fast }
        return try decode(DecideBody.self, from: buffer).request
    }
}
