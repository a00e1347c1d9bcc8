@testable import DecisionService
import Foundation
import Prometheus
import Testing

@Suite("Metrics series")
struct MetricsSeriesTests {
    func render(_ registry: PrometheusCollectorRegistry) -> [Substring] {
        String(decoding: registry.emitToBuffer(), as: UTF8.self).split(separator: "\n")
    }

    @Test("request series exist for the pairs a service answers from the start; others appear when first seen")
    func requestSeries() {
        let registry = PrometheusCollectorRegistry()
        let metrics = ServiceMetrics(registry: registry)
        let lines = render(registry)
        let counters = lines.filter { $0.hasPrefix("adload_http_requests_total{") }
        #expect(counters.count == 9, "\(counters)")
        #expect(!lines.contains { $0.contains(#"status="1xx""#) || $0.contains(#"status="3xx""#) })
        #expect(counters.contains(#"adload_http_requests_total{route="decide",status="2xx"} 0"#))
        #expect(!lines.contains { $0.contains(#"route="metrics""#) })
        #expect(lines.count < 350, "/metrics of a fresh service has \(lines.count) lines")

        metrics.recordRequest(route: .metrics, status: 200, duration: .milliseconds(1))
        metrics.recordRequest(route: .metrics, status: 200, duration: .milliseconds(1))
        let after = render(registry)
        #expect(after.contains(#"adload_http_requests_total{route="metrics",status="2xx"} 2"#))
        #expect(after.filter { $0.hasPrefix("adload_http_requests_total{") }.count == 10)
    }
}
