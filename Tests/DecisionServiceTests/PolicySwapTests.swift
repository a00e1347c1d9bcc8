import AdLoadCore
import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Testing

@Suite("Policy hot swap", .timeLimit(.minutes(1)))
struct PolicySwapTests {
    @Test("200 concurrent decisions across a swap each use one whole policy; then all use the new one")
    func hotSwap() async throws {
        let store = InMemoryLiveStore()
        let engines = ["v1": try Fixtures.engine("default-linucb", version: "v1"), "v2": try Fixtures.engine("default-thompson", version: "v2")]
        let clock = ManualClock()
        let server = try Fixtures.server(
            store: store, configuration: Fixtures.configuration(pollInterval: .milliseconds(20)), engine: engines["v1"], clock: clock)
        let day = Int((Fixtures.timestamp / 86_400).rounded(.down))
        for index in stride(from: 0, to: 200, by: 3) {
            _ = try await store.applyFeedback(FeedbackEntry(
                decisionID: "seed-\(index)", userID: "user-\(index)", time: Double(day) - Double(index % 9),
                events: [.init(kind: .impression, position: 3), .init(kind: .click, position: 3), .init(kind: .sessionEnd, value: 40)]))
        }
        let blob = try Fixtures.policyData("default-thompson")
        try await buildApplication(server: server).test(.router) { client in
            // The first requests finish before the new version is published (they must be v1).
            // The middle ones go out one every 3 ms of `schedule`, a second manual clock that
            // moves with the server's: the watcher (every 20 ms) finds the new version and
            // loads and swaps it while they are in flight. The last ones go out once the holder
            // serves v2. Everything in between races the swap.
            let schedule = ManualClock()
            let start = schedule.now
            @Sendable func decide(_ index: Int) async throws -> (Int, DecideAnswer) {
                let text = decideBody(user: "user-\(index)", region: ["na", "eu", "apac"][index % 3], hour: index % 24, feedLength: 20 + index)
                return (index, try await client.decide(text).decode(DecideAnswer.self))
            }
            let answers = try await withThrowingTaskGroup(of: (Int, DecideAnswer).self) { group in
                for index in 0..<150 {
                    group.addTask {
                        if index >= 20 { try await schedule.sleep(until: start + .milliseconds(Int64(index - 20) * 3)) }
                        return try await decide(index)
                    }
                }
                var answers: [(Int, DecideAnswer)] = []
                while answers.count < 20, let answer = try await group.next() { answers.append(answer) }
                // The watcher is asleep: its next poll reads the registry after the publication.
                try await clock.servicesIdle()
                try await store.publishPolicy(version: "v2", blob: blob)
                for _ in 0..<130 {
                    schedule.advance(by: .milliseconds(3))
                    clock.advance(by: .milliseconds(3))
                    await Task.yield()
                }
                // The watcher has woken since the publication; asleep again, it has swapped.
                try await clock.servicesIdle()
                #expect(server.policyHolder.current?.version == "v2")
                for index in 150..<200 {
                    group.addTask { try await decide(index) }
                }
                for try await answer in group { answers.append(answer) }
                return answers
            }
            #expect(answers.count == 200)
            var versions: [String: Int] = [:]
            for (index, answer) in answers {
                versions[answer.policy_version, default: 0] += 1
                let engine = try #require(engines[answer.policy_version], "version \(answer.policy_version)")
                #expect(!answer.fallback)
                let request = DecisionRequest(
                    userID: "user-\(index)", sessionID: "s-user-\(index)", region: ["na", "eu", "apac"][index % 3], device: "ios",
                    hour: index % 24, feedLength: 20 + index, timestamp: Fixtures.timestamp)
                let record = try await store.userRecord(userID: "user-\(index)", day: day)
                let expected = engine.decide(
                    try engine.resolve(request), record: record, decisionID: answer.decision_id, time: Fixtures.timestamp / 86_400)
                #expect(answer.probability == expected.probability, "decision \(index) under \(answer.policy_version)")
                #expect(answer.ad_positions == expected.adPositions)
                #expect(answer.propensity == expected.propensity)
            }
            #expect(versions.keys.allSatisfy { $0 == "v1" || $0 == "v2" })
            #expect(versions["v1", default: 0] >= 20)
            #expect(versions["v2", default: 0] >= 50)

            // The holder serves v2: every later answer uses it.
            #expect(try await client.decide(decideBody(user: "probe")).decode(DecideAnswer.self).policy_version == "v2")
            for index in 0..<20 {
                let answer = try await client.decide(decideBody(user: "after-\(index)")).decode(DecideAnswer.self)
                #expect(answer.policy_version == "v2")
                #expect(answer.propensity == "estimated:100")
            }
            let policy = try await client.execute(uri: "/v1/policy", method: .get)
            #expect(policy.text.contains(#""version":"v2""#))
            #expect(policy.text.contains(#""algorithm":"thompson""#))
        }
    }

    @Test("a bad blob keeps the last good policy")
    func badBlob() async throws {
        let store = InMemoryLiveStore()
        let clock = ManualClock()
        let server = try Fixtures.server(store: store, configuration: Fixtures.configuration(pollInterval: .milliseconds(20)), clock: clock)
        try await buildApplication(server: server).test(.router) { client in
            try await store.publishPolicy(version: "broken", blob: Data("{\"format\": \"adload-policy\"}".utf8))
            try await clock.step(by: .milliseconds(20))
            #expect(try await client.execute(uri: "/metrics", method: .get).text.contains("adload_policy_load_failures_total 1"))
            let answer = try await client.decide(decideBody()).decode(DecideAnswer.self)
            #expect(answer.policy_version == "v1")
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(metrics.contains(#"adload_policy_info{version="v1"}"#))
        }
    }
}
