import AdLoadCore
import Foundation
@testable import OnlineLearning
@testable import StateStore
import Testing
@testable import Training

@Suite("The service's decisions read back from the streams for off-policy evaluation")
struct ServiceLogTests {
    let regions = ["apac", "eu", "na"]

    func catalog() throws -> PlanCatalog {
        let rules = try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.25, maxAdsPerSession: 40, dailyCap: nil)
        return PlanCatalog(family: .standard, rules: [rules, rules, rules])
    }

    func decision(_ id: String, user: String, time: Double, spec: PlanSpec, chosen: Int, region: String = "na") -> DecisionEntry {
        DecisionEntry(
            decisionID: id, userID: user, time: time, region: region, policyVersion: "v0", features: [1, time], plan: [spec.first, spec.spacing, spec.maxAds],
            chosen: chosen, adPositions: [spec.first], probability: 0.25, propensity: "exact", fallback: false, feedLength: 30, adLimit: 40)
    }

    @Test("joins feedback and returns as the learner does, rebuilds the candidates, and leaves out open windows and plans the rules do not offer")
    func joins() async throws {
        let catalog = try catalog()
        var candidates: [CandidatePlan] = []
        catalog.candidates(region: 2, feedLength: 30, adsToday: 0, maxAds: 40, into: &candidates)
        try #require(candidates.count > 4)
        let spec = candidates[3].spec
        let store = InMemoryLiveStore()
        let weights = RewardWeights(revenue: 1, items: 0.01, negatives: 0.5, returned: 0.25, loadSquared: 0)
        try await store.recordDecisions([decision("d1", user: "u1", time: 100.0, spec: spec, chosen: 3)])
        _ = try await store.applyFeedback(FeedbackEntry(decisionID: "d1", userID: "u1", time: 100.01, events: [
            FeedbackEvent(kind: .impression, position: spec.first, value: 0.2), FeedbackEvent(kind: .dwell, position: 1, value: 10),
            FeedbackEvent(kind: .dwell, position: 2, value: 12), FeedbackEvent(kind: .hide, position: spec.first),
            FeedbackEvent(kind: .sessionEnd, value: 20),
        ]))
        try await store.recordDecisions([
            decision("d2", user: "u1", time: 100.5, spec: spec, chosen: 3),
            // A plan the family does not hold, and a region the catalog does not know.
            decision("d4", user: "u3", time: 100.6, spec: PlanSpec(first: 3, spacing: 1, maxAds: 40), chosen: 0),
            decision("d5", user: "u4", time: 100.7, spec: spec, chosen: 3, region: "mars"),
            decision("d3", user: "u2", time: 103, spec: spec, chosen: 3),
        ])
        let log = try await ServiceLog.read(store: store, count: 100, catalog: catalog, regions: regions, weights: weights, windowDays: 1)
        #expect(log.read == 5 && log.unreadable == 0)
        #expect(log.stillOpen == 1, "d3 is within a window of the newest decision")
        #expect(log.unmatched == 2)
        #expect(log.records.map(\.decisionID) == ["d1", "d2"])
        #expect(log.withoutFeedback == 1)
        #expect(log.versions == ["v0": 2])
        let d1 = log.records[0]
        // Revenue 0.2 + 2 items × 0.01 − 1 negative × 0.5 + the return (d2 within a day) 0.25.
        #expect(abs(d1.reward - (0.2 + 0.02 - 0.5 + 0.25)) < 1e-12)
        #expect(log.records[1].reward == 0)
        #expect(d1.candidates.map(\.spec) == candidates.map(\.spec))
        #expect(d1.chosen == 3 && d1.probability == 0.25 && d1.features == [1, 100])
        #expect(d1.outcome.ads == 1 && d1.outcome.items == 2 && d1.outcome.negatives == 1)
    }

    @Test("reads more decisions than one page, newest last, and only the newest count")
    func pages() async throws {
        let catalog = try catalog()
        var candidates: [CandidatePlan] = []
        catalog.candidates(region: 2, feedLength: 30, adsToday: 0, maxAds: 40, into: &candidates)
        let store = InMemoryLiveStore()
        let total = ServiceLog.page * 2 + 10
        try await store.recordDecisions((0..<total).map { decision("d\($0)", user: "u\($0)", time: Double($0) / 1000, spec: candidates[1].spec, chosen: 1) })
        let log = try await ServiceLog.read(
            store: store, count: ServiceLog.page + 5, catalog: catalog, regions: regions, weights: .standard, windowDays: 0.0005)
        #expect(log.read == ServiceLog.page + 5)
        #expect(log.records.first?.decisionID == "d\(total - ServiceLog.page - 5)")
        #expect(log.records.last?.decisionID == "d\(total - 2)")
    }
}
