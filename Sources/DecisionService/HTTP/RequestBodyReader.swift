import AdLoadCore
import Foundation

/// The request-body readers of `/v1/decide` and `/v1/feedback` as plain functions over
/// bytes, without a server: what the fuzz targets (`scripts/fuzz`) and their corpus
/// regression test run.
package enum RequestBodyReader {
    /// Reads a decide body as the route does: ``DecideBodyFastPath`` first, the strict
    /// decoder when it declines.
    package static func decide(_ bytes: [UInt8]) -> Result<DecisionRequest, RequestError> {
        if let fast = fastDecide(bytes) { return .success(fast) }
        return strictDecide(bytes)
    }

    /// What ``DecideBodyFastPath`` reads, `nil` when it declines (the strict decoder then decides).
    package static func fastDecide(_ bytes: [UInt8]) -> DecisionRequest? {
        DecideBodyFastPath.parse(bytes)
    }

    /// What the strict decoder reads. Where the fast path accepts a body, the two must agree
    /// (the fuzz target checks it).
    package static func strictDecide(_ bytes: [UInt8]) -> Result<DecisionRequest, RequestError> {
        Result { () throws(RequestError) in try DecisionRequest.decodeStrictly(bytes) }
    }

    /// Reads a feedback body as the route does, allowing `maxEvents` events (`nil`: the service's default, 1000).
    package static func feedback(_ bytes: [UInt8], maxEvents: Int? = nil) -> Result<[FeedbackEvent], RequestError> {
        let decoder = JSONDecoder()
        if let key = RequestLimits.maxEventsKey { decoder.userInfo[key] = maxEvents ?? RequestLimits.defaultMaxEvents }
        do {
            return .success(try decoder.decode(FeedbackBody.self, from: Data(bytes)).events)
        } catch {
            return .failure(RequestError.undecodable(error))
        }
    }

    /// Reads a decide body and, when it is valid for `engine`'s schema, decides with no user
    /// state and from the fallback, as the route would: the whole decide path short of the store.
    /// - Returns: The decision's ad positions, or the 4xx error.
    package static func decide(_ bytes: [UInt8], engine: DecisionEngine) -> Result<[Int], RequestError> {
        let request: ResolvedDecisionRequest
        switch decide(bytes) {
        case let .failure(error): return .failure(error)
        case let .success(read):
            do { request = try engine.resolve(read) } catch { return .failure(error) }
        }
        let time = (request.request.timestamp ?? 1_750_000_000) / 86_400
        let decision = engine.decide(request, record: nil, decisionID: "fuzz", time: time)
        let fallback = engine.decideFallback(request, decisionID: "fuzz", time: time)
        return .success(decision.adPositions + fallback.adPositions)
    }
}
