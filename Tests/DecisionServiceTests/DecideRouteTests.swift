import AdLoadCore
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Testing

@Suite("POST /v1/decide and /v1/feedback")
struct DecideRouteTests {
    @Test("decide returns valid plans with verifiable ids", arguments: ["na", "eu", "apac"])
    func validPlans(region: String) async throws {
        let server = try Fixtures.server(store: InMemoryLiveStore())
        let rules = try #require(try Fixtures.rules()[region])
        try await buildApplication(server: server).test(.router) { client in
            for (index, feedLength) in [1, 2, 4, 9, 30, 64, 200, 512].enumerated() {
                let user = "user-\(region)-\(index)"
                let response = try await client.decide(decideBody(user: user, region: region, hour: index * 3, feedLength: feedLength))
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let answer = try response.decode(DecideAnswer.self)
                let plan = try AdPlan(positions: answer.ad_positions)
                #expect(rules.violation(of: plan, feedLength: feedLength, adsToday: 0) == nil)
                #expect(answer.probability > 0 && answer.probability <= 1)
                #expect(answer.propensity == "exact")
                #expect(!answer.fallback)
                #expect(answer.policy_version == "v1")
                #expect(answer.plan == "no-ads" || answer.plan.hasPrefix("first="))
                #expect(server.decisionIDs.verify(answer.decision_id, userID: user))
                #expect(!server.decisionIDs.verify(answer.decision_id, userID: user + "x"))
            }
        }
    }

    @Test("an empty ad_formats list means no ad can be shown: the no-ads plan with probability 1; a non-empty one decides as without")
    func adFormats() async throws {
        let server = try Fixtures.server(store: InMemoryLiveStore())
        try await buildApplication(server: server).test(.router) { client in
            let none = try await client.decide(decideBody(user: "formats", feedLength: 200, extra: "\"ad_formats\": []"))
            #expect(none.status == .ok)
            let answer = try none.decode(DecideAnswer.self)
            #expect(answer.ad_positions.isEmpty && answer.plan == "no-ads" && answer.probability == 1)
            let plain = try await client.decide(decideBody(user: "formats", feedLength: 200)).decode(DecideAnswer.self)
            let video = try await client.decide(decideBody(user: "formats", feedLength: 200, extra: "\"ad_formats\": [\"video\"]"))
                .decode(DecideAnswer.self)
            #expect(!plain.ad_positions.isEmpty && !video.ad_positions.isEmpty, "the fixture's policy shows ads in a 200-item feed")
        }
        // The logged decision says why: ad limit 0, so a learner rebuilds a one-plan candidate list.
        let engine = try Fixtures.engine()
        let request = DecisionRequest(
            userID: "formats", sessionID: "s", region: "na", device: "ios", hour: 20, feedLength: 200, adFormats: [], timestamp: Fixtures.timestamp)
        let decision = engine.decide(try engine.resolve(request), record: nil, decisionID: "d", time: Fixtures.timestamp / 86_400)
        #expect(decision.entry.adLimit == 0 && decision.entry.chosen == 0 && decision.adPositions.isEmpty)
        // A non-empty list decides exactly as no list.
        var withVideo = request
        withVideo.adFormats = ["video", "banner"]
        var without = request
        without.adFormats = nil
        let a = engine.decide(try engine.resolve(withVideo), record: nil, decisionID: "d", time: Fixtures.timestamp / 86_400)
        let b = engine.decide(try engine.resolve(without), record: nil, decisionID: "d", time: Fixtures.timestamp / 86_400)
        #expect(a.entry == b.entry && a.entry.adLimit > 0)
    }

    @Test("decide answers are the engine's decision for the stored record")
    func matchesEngine() async throws {
        let store = InMemoryLiveStore()
        let engine = try Fixtures.engine()
        let server = try Fixtures.server(store: store, engine: engine)
        let day = Int((Fixtures.timestamp / 86_400).rounded(.down))
        _ = try await store.applyFeedback(FeedbackEntry(
            decisionID: "seed", userID: "regular", time: Double(day) - 3,
            events: [.init(kind: .impression, position: 4), .init(kind: .dwell, position: 1, value: 20), .init(kind: .sessionEnd, value: 30)]))
        try await buildApplication(server: server).test(.router) { client in
            let answer = try await client.decide(decideBody(user: "regular")).decode(DecideAnswer.self)
            let record = try await store.userRecord(userID: "regular", day: day)
            let request = DecisionRequest(
                userID: "regular", sessionID: "s-regular", region: "na", device: "ios", hour: 20, feedLength: 50, timestamp: Fixtures.timestamp)
            let expected = engine.decide(
                try engine.resolve(request), record: record, decisionID: answer.decision_id, time: Fixtures.timestamp / 86_400)
            #expect(answer.ad_positions == expected.adPositions)
            #expect(answer.probability == expected.probability)
            #expect(expected.entry.features[try #require(engine.schema.contextNames.firstIndex(of: "new_user"))] == 0)
        }
    }

    @Test("feedback is stored, updates the user's state, and repeats count once")
    func feedbackFlow() async throws {
        let store = InMemoryLiveStore()
        let server = try Fixtures.server(store: store)
        try await buildApplication(server: server).test(.router) { client in
            let decision = try await client.decide(decideBody(user: "fb-user")).decode(DecideAnswer.self)
            let events = """
                [{"type": "impression", "position": 4}, {"type": "click", "position": 4, "value": 0.5},
                 {"type": "dwell", "position": 1, "value": 12.5}, {"type": "skip", "position": 2},
                 {"type": "session_end", "value": 30}]
                """
            let feedback = """
                {"decision_id": "\(decision.decision_id)", "user_id": "fb-user", "events": \(events), "timestamp": \(Fixtures.timestamp + 60)}
                """
            let first = try await client.feedback(feedback)
            #expect(first.status == .accepted)
            let counts = try first.decode(FeedbackAnswer.self)
            #expect(counts.accepted == 5 && counts.duplicates == 0)
            let day = Int(((Fixtures.timestamp + 60) / 86_400).rounded(.down))
            let record = try #require(try await store.userRecord(userID: "fb-user", day: day))
            #expect(record.totalSessions == 1)
            #expect(record.adsToday == 1)
            #expect(record.week[2] == 1 && record.week[3] == 1 && record.week[4] == 1 && record.week[1] == 1)
            #expect(record.recentDwell == 12.5)
            // The session end records the decision's time, read from the id (to the millisecond), not the feedback's.
            let lastVisit = try #require(record.lastVisit)
            #expect(abs(lastVisit - Fixtures.timestamp / 86_400) < 0.002 / 86_400, "last visit \(lastVisit)")

            let again = try await client.feedback(feedback)
            #expect(again.status == .accepted)
            let repeated = try again.decode(FeedbackAnswer.self)
            #expect(repeated.accepted == 0 && repeated.duplicates == 5)
            #expect(try await store.userRecord(userID: "fb-user", day: day) == record)

            let next = try await client.decide(decideBody(user: "fb-user", timestamp: Fixtures.timestamp + 3600))
            #expect(next.status == .ok)
        }
    }

    @Test("feedback for an id that does not verify is 404 without a store call")
    func unknownDecision() async throws {
        let store = CountingStore()
        let server = try Fixtures.server(store: store)
        try await buildApplication(server: server).test(.router) { client in
            let decision = try await client.decide(decideBody(user: "owner")).decode(DecideAnswer.self)
            for (id, user) in [
                ("lz3k2a-1x2y3z-0123456789abcdef", "owner"), (decision.decision_id, "someone-else"), ("not-an-id", "owner"),
            ] {
                let response = try await client.feedback("""
                    {"decision_id": "\(id)", "user_id": "\(user)", "events": [{"type": "impression", "position": 2}]}
                    """)
                #expect(response.status == .notFound)
                #expect(try response.decode(ErrorAnswer.self).error.field == "decision_id")
            }
            #expect(store.feedbackCalls.load(ordering: .relaxed) == 0)
        }
    }
}
