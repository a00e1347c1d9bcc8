import Hummingbird
import StateStore

extension DecisionServer {
    /// Adds routes that each do only a part of `POST /v1/decide`'s work and answer what
    /// `/healthz` answers, so `scripts/bench-service` can put a price on the parts: what
    /// reading a request body costs, and what one round trip for a user's record costs.
    /// Registered only with ``DecisionServiceConfiguration/benchmarkRoutes``.
    ///
    /// - `POST /bench/body`: reads and parses a decide body.
    /// - `POST /bench/user-record`: reads and parses a decide body, then reads the user's
    ///   record as decide does (circuit breaker, decide budget): the floor of a decide, with
    ///   no policy, no decision log and a small answer.
    func addBenchmarkRoutes(to router: Router<BasicRequestContext>) {
        router.post("/bench/body") { request, _ in
            do throws(RequestError) {
                _ = try await self.benchmarkUserID(request)
            } catch {
                return JSONResponse.error(error)
            }
            return JSONResponse.healthy
        }
        router.post("/bench/user-record") { request, _ in
            let userID: String
            do throws(RequestError) {
                userID = try await self.benchmarkUserID(request)
            } catch {
                return JSONResponse.error(error)
            }
            let store = self.store
            let budget = self.configuration.decideStoreBudget
            let day = 0
            let outcome = await self.circuitBreaker.call(budget: budget, selfTimed: store.honoursTimeouts) {
                () async throws(StoreError) in
                try await store.userRecord(userID: userID, day: day, timeout: budget)
            }
            if case .failure = outcome {
                return JSONResponse.error(503, field: "store", message: "the user's record could not be read", headers: [.retryAfter: "1"])
            }
            return JSONResponse.healthy
        }
    }

    /// The user id of a decide body, read and parsed as `POST /v1/decide` does.
    func benchmarkUserID(_ request: Request) async throws(RequestError) -> String {
        let buffer = try await readBody(request)
        if let fast = DecideBodyFastPath.parse(buffer) { return fast.userID }
        return try decode(DecideBody.self, from: buffer).request.userID
    }
}
