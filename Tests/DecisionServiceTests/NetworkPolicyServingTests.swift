import AdLoadCore
@testable import DecisionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Networks
import Policies
import Prometheus
@testable import StateStore
import Testing

/// A policy-gradient (network) policy goes through the same contract as the bandits: the
/// service decides with it, logs its exact probabilities and swaps to it from the registry.
@Suite("Serving a network policy")
struct NetworkPolicyServingTests {
    /// A PPO policy file over every spec of the standard family valid in some region, with a
    /// random network (no training needed to check the serving path).
    static func networkPolicyBlob() throws -> Data {
        let schema = Fixtures.schema
        let rules = try Fixtures.rules()
        let catalog = PlanCatalog(family: .standard, rules: try schema.regions.map { try #require(rules[$0]) })
        let actions = catalog.allSpecs
        let network = MLP(sizes: [schema.contextCount, 16, actions.count], random: CounterRandom(seed: 9, domain: 1), outputGain: 2)
        let provenance = PolicyProvenance(
            environment: "default", environmentFile: "env/default.json", environmentFingerprint: "fnv1a64:0123456789abcdef", seed: 1,
            sessions: 1000, users: 10, days: 5, trainedAt: "2026-12-03T00:00:00Z", source: .simulation)
        let header = PolicyHeader(schema: schema, planFamily: .standard, reward: ["revenue": 1, "items": 0], provenance: provenance)
        let policy = NetworkPolicy(
            algorithm: "ppo", settings: [(name: "clip", value: 0.2)], header: header, actions: actions,
            mean: Array(repeating: 0, count: schema.contextCount), standardDeviation: Array(repeating: 1, count: schema.contextCount),
            network: network)
        return Data(try policy.rendered().utf8)
    }

    @Test("decide answers the network policy's draw with its exact probability, as the engine computes it")
    func decides() async throws {
        let engine = try DecisionEngine(
            blob: try Self.networkPolicyBlob(), source: "ppo-test", version: "n1", rules: try Fixtures.rules(), expectedSchema: Fixtures.schema)
        #expect(engine.policy.algorithm == "ppo")
        let store = InMemoryLiveStore()
        let server = try Fixtures.server(store: store, engine: engine)
        try await buildApplication(server: server).test(.router) { client in
            let answer = try await client.decide(decideBody(user: "net")).decode(DecideAnswer.self)
            #expect(answer.propensity == "exact" && answer.policy_version == "n1" && !answer.fallback)
            // A random network spreads its probability over the valid plans.
            #expect(answer.probability > 0 && answer.probability < 1)
            let day = Int((Fixtures.timestamp / 86_400).rounded(.down))
            let record = try await store.userRecord(userID: "net", day: day)
            let request = DecisionRequest(
                userID: "net", sessionID: "s-net", region: "na", device: "ios", hour: 20, feedLength: 50, timestamp: Fixtures.timestamp)
            let expected = engine.decide(try engine.resolve(request), record: record, decisionID: answer.decision_id, time: Fixtures.timestamp / 86_400)
            #expect(answer.ad_positions == expected.adPositions && answer.probability == expected.probability)
        }
    }

    @Test("the registry swaps a bandit for a network policy and back")
    func hotSwap() async throws {
        let store = InMemoryLiveStore()
        let holder = PolicyHolder(initial: try Fixtures.engine(version: "v1"))
        let watcher = PolicyWatcher(
            holder: holder, store: store, metrics: ServiceMetrics(registry: PrometheusCollectorRegistry()), logger: Fixtures.logger)
        try await store.publishPolicy(version: "n2", blob: try Self.networkPolicyBlob())
        #expect(await watcher.poll() == .swapped(version: "n2"))
        #expect(holder.current?.policy.algorithm == "ppo")
        try await store.publishPolicy(version: "v3", blob: try Fixtures.policyData("default-thompson"))
        #expect(await watcher.poll() == .swapped(version: "v3"))
        #expect(holder.current?.policy.algorithm == "thompson")
    }
}
