import AdLoadCore
import Foundation
import Hummingbird
import StateStore

extension DecisionServer {
    /// `GET /v1/targets`: the targets in force (`null`: none), and per region today's counters
    /// so far, attainment (today so far over the day's revenue target and over the
    /// impression budget) and the prices decisions use now. 404 when pacing is not configured.
    func targets(_ request: Request, context: ServiceRequestContext) -> Response {
        guard let pacing else {
            return JSONResponse.error(.notFound, field: "targets", message: "pacing is not configured (serve --targets FILE)", request: request, context: context)
        }
        let snapshot = pacing.snapshot()
        let number = JSONNumber.json
        func optional(_ value: Double?) -> String { value.map(number) ?? "null" }
        var rows: [String] = []
        for (index, region) in pacing.regions.enumerated() {
            let today = snapshot.today[index]
            let targets = snapshot.targets?.targets(region: region)
            let prices = snapshot.targets == nil ? PacingPrices.defaults : snapshot.prices[index]
            let counters = today.counters
            let revenueTarget = targets?.dailyRevenue?.amount(activeUsers: today.activeUsers, day: today.day)
            let budget = targets?.dailyImpressionBudget?.on(day: today.day)
            // Today so far over the whole day's target or budget.
            let attainment = "{\"impressions\": \(optional(budget.map { counters.impressions / $0 })), "
                + "\"revenue\": \(optional(revenueTarget.flatMap { $0 > 0 ? counters.revenue / $0 : nil }))}"
            rows.append(
                "{\"active_users\": \(today.activeUsers), \"attainment\": \(attainment), \"day\": \(today.day), "
                    + "\"impression_budget\": \(optional(budget)), "
                    + "\"impressions\": \(number(counters.impressions)), \"negatives\": \(number(counters.negatives)), "
                    + "\"organic_items\": \(number(counters.organicItems)), \"prices\": {\"impressions\": \(number(prices.impressions)), "
                    + "\"negatives\": \(number(prices.negatives)), \"organic\": \(number(prices.organic)), \"revenue\": \(number(prices.revenue))}, "
                    + "\"region\": \(JSONValue.quoted(region)), \"revenue\": \(number(counters.revenue)), "
                    + "\"revenue_target\": \(optional(revenueTarget)), "
                    + "\"sessions\": \(number(counters.sessions))}")
        }
        let targetsText = snapshot.targetsText.map { String(decoding: $0, as: UTF8.self) } ?? "null"
        let body = "{\"regions\": [" + rows.joined(separator: ", ") + "], \"targets\": " + targetsText + "}"
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// `PUT /v1/targets` (admin): checks the body as a targets file and stores it for every
    /// replica. 401 without `Authorization: Bearer`, 403 with a wrong token or when the
    /// service has no admin token; 422 naming the key of an invalid file.
    func putTargets(_ request: Request, context: ServiceRequestContext) async throws(RequestError) -> Response {
        if let refused = checkAdmin(request, context: context) { return refused }
        guard let pacing else {
            return JSONResponse.error(.notFound, field: "targets", message: "pacing is not configured (serve --targets FILE)", request: request, context: context)
        }
        let body = Data(try await readBody(request).readableBytesView)
        do {
            let targets = try await pacing.setTargets(body, source: "request body")
            logger.info("pacing targets replaced", metadata: ["name": "\(targets.name)"])
        } catch let error as ConfigError {
            throw RequestError.invalid(error.key ?? "body", error.description)
        } catch let error as StoreError {
            metrics.recordStoreError(operation: "store_targets", error: error)
            return JSONResponse.error(
                .serviceUnavailable, field: "store", message: "targets were not stored, retry: \(error.description)", headers: [.retryAfter: "1"],
                request: request, context: context)
        } catch {
            throw RequestError.invalid("body", "\(error)")
        }
        return targets(request, context: context)
    }

    /// `nil` when the request carries the admin token; else the 401 or 403 answer.
    func checkAdmin(_ request: Request, context: ServiceRequestContext) -> Response? {
        guard let expected = configuration.adminToken else {
            return JSONResponse.error(
                .forbidden, field: "authorization", message: "admin routes are disabled: start the service with --admin-token-file",
                request: request, context: context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            return JSONResponse.error(
                .unauthorized, field: "authorization", message: "admin route: send Authorization: Bearer <admin token>",
                headers: [.wwwAuthenticate: "Bearer"], request: request, context: context)
        }
        guard Self.constantTimeEqual(Array(header.utf8.dropFirst(7)), Array(expected.utf8)) else {
            return JSONResponse.error(.forbidden, field: "authorization", message: "wrong admin token", request: request, context: context)
        }
        return nil
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
