import AdLoadCore
import Foundation

/// The request-body readers of `/v1/decide` and `/v1/feedback` as plain functions over
/// bytes, without a server: what the fuzz targets (`scripts/fuzz`) and their corpus
/// regression test run.
package enum RequestBodyReader {
    /// Reads a decide body as the route does: ``DecideBodyFastPath`` first, the strict
    /// decoder when it declines.
    ///
    /// When the fast path accepts a body, the strict decoder must accept it too and read the
    /// same request; a disagreement is a bug in the fast path, and stops the process (the
    /// fuzzer reports it as a crash).
    package static func decide(_ bytes: [UInt8]) -> Result<DecisionRequest, RequestError> {
        let strict = Result { () throws(RequestError) in try DecisionRequest.decodeStrictly(bytes) }
        guard let fast = DecideBodyFastPath.parse(bytes) else { return strict }
        guard case let .success(strictRequest) = strict, strictRequest == fast else {
            fatalError("the decide fast path read \(fast) where the strict decoder read \(strict): \(String(decoding: bytes, as: UTF8.self))")
        }
        return .success(fast)
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
