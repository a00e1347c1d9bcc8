@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import StateStore
import Testing

@Suite("Replicas: two services on one Redis", .serialized)
struct ReplicasOnRedisTests {
    /// The version field of `PUT /v1/policy`'s answer.
    struct Published: Decodable {
        let version: String
    }

    struct FeedbackAnswer: Decodable {
        let accepted: Int
        let duplicates: Int
    }

    @Test("one decision stream for both; feedback counted once whichever replica gets it again; a policy published through one is served by both")
    func twoReplicas() async throws {
        let redis = try RedisFixture()
        let token = "replicas-admin-token-0123456789"
        let storeA = RedisLiveStore(configuration: .init(address: redis.address), options: Fixture.storeOptions, logger: Fixture.logger)
        let storeB = RedisLiveStore(configuration: .init(address: redis.address), options: Fixture.storeOptions, logger: Fixture.logger)
        let replicaA = try await Fixture.server(store: storeA, adminToken: token)
        let replicaB = try await Fixture.server(store: storeB, adminToken: token)
        let time = Fixture.day * 86_400
        try await buildApplication(server: replicaA).test(.router) { a in
            try await buildApplication(server: replicaB).test(.router) { b in
                func decide(_ client: some TestClientProtocol, _ user: String, _ session: Int) async throws -> Answer {
                    try await client.execute(uri: "/v1/decide", method: .post, body: Fixture.decideBody(user: user, session: session, time: time)) {
                        #expect($0.status == .ok)
                        return try JSONDecoder().decode(Answer.self, from: Data(buffer: $0.body))
                    }
                }
                func feedback(_ client: some TestClientProtocol, _ answer: Answer, _ user: String) async throws -> FeedbackAnswer {
                    let body = Fixture.feedbackBody(decision: answer.decision_id, user: user, time: time + 60, adPositions: answer.ad_positions)
                    return try await client.execute(uri: "/v1/feedback", method: .post, body: body) {
                        #expect($0.status == .accepted)
                        return try JSONDecoder().decode(FeedbackAnswer.self, from: Data(buffer: $0.body))
                    }
                }

                // A decision made by A, its feedback sent to A, then again to B (a client retry
                // that a load balancer sent elsewhere): counted once, streamed once.
                let fromA = try await decide(a, "shared-user", 0)
                let first = try await feedback(a, fromA, "shared-user")
                #expect(first.accepted > 0 && first.duplicates == 0)
                let again = try await feedback(b, fromA, "shared-user")
                #expect(again.accepted == 0 && again.duplicates == first.accepted)
                let record = try #require(try await storeB.userRecord(userID: "shared-user", day: Int(Fixture.day)))
                #expect(record.totalSessions == 1)
                let streamed = try await storeA.latestEntries(.feedback, before: nil, count: 100)
                #expect(streamed.filter { $0.fields["decision_id"] == fromA.decision_id }.count == 1)

                // B decides for the same user with the state A's feedback wrote; both decisions reach one stream.
                let fromB = try await decide(b, "shared-user", 1)
                #expect(!fromB.fallback)
                #expect(try await eventually {
                    let decisions = try await storeB.latestEntries(.decisions, before: nil, count: 100)
                    let ids = Set([fromA.decision_id, fromB.decision_id])
                    return ids.filter { id in decisions.contains { $0.fields["d"]?.contains(id) == true } }.count == 2
                })

                // A policy published through A's admin route: A serves it at once, B within its watcher's poll.
                let thompson = try Data(contentsOf: packageRoot.appendingPathComponent("policies/default-thompson.json"))
                let published: String = try await a.execute(
                    uri: "/v1/policy", method: .put, headers: [.authorization: "Bearer \(token)"], body: ByteBuffer(bytes: thompson)
                ) {
                    #expect($0.status == .ok, "\(String(buffer: $0.body))")
                    return try JSONDecoder().decode(Published.self, from: Data(buffer: $0.body)).version
                }
                #expect(try await decide(a, "u2", 0).policy_version == published)
                #expect(try await eventually { try await decide(b, "u3", 0).policy_version == published })
            }
        }
        await storeA.shutdown()
        await storeB.shutdown()
    }
}

