import AdLoadCore
import AdLoadTestSupport
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
@testable import StateStore
import Testing

@Suite("Admin routes: registry changes need the bearer token; PUT /v1/policy and POST /v1/policy/rollback")
struct AdminRoutesTests {
    static let token = "admin-routes-token-0123456789"

    struct ChangeAnswer: Decodable {
        let changed: Bool
        let version: String
        let previous: String?
        let action: String
    }

    /// A store whose registry serves `default-linucb` as `v1`, and a server on it.
    static func fixture(token: String? = AdminRoutesTests.token) async throws -> (InMemoryLiveStore, DecisionServer) {
        let store = InMemoryLiveStore()
        try await store.publishPolicy(version: "v1", blob: try Fixtures.policyData("default-linucb"))
        var configuration = Fixtures.configuration()
        configuration.adminToken = token
        return (store, try Fixtures.server(store: store, configuration: configuration))
    }

    static func checksum(_ data: Data) throws -> String {
        guard case let .object(fields) = try JSONValue.parse(data, file: "test"), case let .string(checksum)? = fields["checksum"] else {
            throw CancellationError()
        }
        return checksum
    }

    func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ data: Data, authorization: String?
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(bytes: data))
    }

    @Test("every registry-changing route answers 401 without a bearer token, 403 with a wrong one or none configured, and changes nothing")
    func refusals() async throws {
        let thompson = try Fixtures.policyData("default-thompson")
        let routes: [(HTTPRequest.Method, String, Data)] = [
            (.put, "/v1/policy", thompson), (.post, "/v1/policy/rollback", Data()), (.put, "/v1/targets", Data("{}".utf8)),
        ]
        for configured in [Self.token, nil] {
            let (store, server) = try await Self.fixture(token: configured)
            try await buildApplication(server: server).test(.router) { client in
                for (method, uri, data) in routes {
                    let none = try await send(client, method, uri, data, authorization: nil)
                    let basic = try await send(client, method, uri, data, authorization: "Basic YWRtaW46YWRtaW4=")
                    let wrong = try await send(client, method, uri, data, authorization: "Bearer \(Self.token.dropLast())x")
                    let longer = try await send(client, method, uri, data, authorization: "Bearer \(Self.token)0")
                    if configured != nil {
                        #expect(none.status == .unauthorized, "\(uri)")
                        #expect(none.headers[.wwwAuthenticate] == "Bearer")
                        #expect(basic.status == .unauthorized, "\(uri)")
                        #expect(wrong.status == .forbidden, "\(uri)")
                        #expect(longer.status == .forbidden, "\(uri)")
                    } else {
                        for answer in [none, basic, wrong, longer] { #expect(answer.status == .forbidden, "\(uri) with no admin token configured") }
                    }
                    #expect(try none.decode(ErrorAnswer.self).error.field == "authorization")
                }
            }
            #expect(try await store.activePolicyVersion() == "v1", "nothing refused changed the registry")
            #expect(try await store.policyVersions() == ["v1"])
            #expect(try await store.policyHistory(limit: 10).count == 1)
        }
    }

    @Test("PUT /v1/policy publishes a file for every replica and serves it at once; POST /v1/policy/rollback returns to the version before")
    func publishAndRollback() async throws {
        let (store, server) = try await Self.fixture()
        let thompson = try Fixtures.policyData("default-thompson")
        let version = try Self.checksum(thompson)
        let bearer = "Bearer \(Self.token)"
        try await buildApplication(server: server).test(.router) { client in
            let published = try await send(client, .put, "/v1/policy", thompson, authorization: bearer)
            #expect(published.status == .ok, "\(published.text)")
            let answer = try published.decode(ChangeAnswer.self)
            #expect(answer.changed && answer.version == version && answer.previous == "v1" && answer.action == "promote")
            #expect(try await store.activePolicyVersion() == version)
            #expect(try await store.policyBlob(version: version) == thompson)
            #expect(server.policyHolder.current?.version == version, "served at once, before the watcher's next poll")
            let event = try #require(try await store.policyHistory(limit: 1).first)
            #expect(event.action == .promote && event.previous == "v1" && event.by.contains("admin API"))

            let again = try await send(client, .put, "/v1/policy", thompson, authorization: bearer)
            #expect(try again.decode(ChangeAnswer.self).changed == false)

            // A file that is not a policy, and a policy whose checksum does not match: 422, nothing changes.
            var tampered = String(decoding: thompson, as: UTF8.self)
            tampered = tampered.replacingOccurrences(of: version, with: "fnv1a64:0000000000000000")
            for bad in [Data(#"{"kind": "nothing"}"#.utf8), Data(tampered.utf8), Data("not json".utf8)] {
                let refused = try await send(client, .put, "/v1/policy", bad, authorization: bearer)
                #expect(refused.status == .unprocessableContent, "\(refused.text)")
                #expect(!(try refused.decode(ErrorAnswer.self).error.message.isEmpty))
            }
            #expect(try await store.activePolicyVersion() == version)

            let unknown = try await send(client, .post, "/v1/policy/rollback", Data(#"{"version": "nope"}"#.utf8), authorization: bearer)
            #expect(unknown.status == .notFound)
            #expect(try unknown.decode(ErrorAnswer.self).error.field == "version")
            let extra = try await send(client, .post, "/v1/policy/rollback", Data(#"{"versoin": "v1"}"#.utf8), authorization: bearer)
            #expect(extra.status == .badRequest)
            #expect(try extra.decode(ErrorAnswer.self).error.field == "versoin")

            let rolledBack = try await send(client, .post, "/v1/policy/rollback", Data(), authorization: bearer)
            #expect(rolledBack.status == .ok, "\(rolledBack.text)")
            let back = try rolledBack.decode(ChangeAnswer.self)
            #expect(back.changed && back.version == "v1" && back.previous == version && back.action == "rollback")
            #expect(try await store.activePolicyVersion() == "v1")
            #expect(server.policyHolder.current?.version == "v1")
            #expect(try await store.policyHistory(limit: 1).first?.action == .rollback)

            // Named: forward again to the stored version.
            let named = try await send(client, .post, "/v1/policy/rollback", Data("{\"version\": \"\(version)\"}".utf8), authorization: bearer)
            #expect(try named.decode(ChangeAnswer.self).version == version)
            #expect(try await store.activePolicyVersion() == version)
        }
    }
}
