import Hummingbird

/// Counts every request and its latency by route and status class.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let route = ServiceMetrics.Route(path: request.uri.path)
        do {
            let response = try await next(request, context)
            metrics.recordRequest(route: route, status: response.status.code, duration: .now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.recordRequest(route: route, status: status, duration: .now - start)
            throw error
        }
    }
}
