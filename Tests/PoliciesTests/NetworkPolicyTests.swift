@testable import AdLoadCore
import Foundation
import LinearAlgebra
import Networks
@testable import Policies
import Testing

@Suite("Network (policy-gradient) policies under the contract")
struct NetworkPolicyTests {
    static let candidates = PolicyContractTests.candidates

    /// A random network over the first `actionCount` catalog specs (so some candidates are
    /// outside its action list).
    static func policy(actionCount: Int = 30, seed: UInt64 = 3) -> NetworkPolicy {
        let schema = PolicyFileTests.schema
        let header = PolicyHeader(schema: schema, planFamily: .standard, reward: ["revenue": 1], provenance: PolicyFileTests.provenance)
        let actions = Array(candidates.prefix(actionCount).map(\.spec))
        let network = MLP(sizes: [schema.contextCount, 12, actions.count], random: CounterRandom(seed: seed, domain: 1), outputGain: 2)
        let mean = (0..<schema.contextCount).map { 0.1 * Double($0 % 3) }
        let std = (0..<schema.contextCount).map { 1 + 0.5 * Double($0 % 2) }
        return NetworkPolicy(
            algorithm: "ppo", settings: [(name: "clip", value: 0.2), (name: "gamma", value: 0.99)], header: header, actions: actions,
            mean: mean, standardDeviation: std, network: network)
    }

    @Test("probabilities are the softmax of the network's logits over the valid plans in its action list; decide draws from them")
    func probabilities() throws {
        let policy = Self.policy()
        let workspace = policy.makeWorkspace(maxCandidates: Self.candidates.count)
        var random = TestRandom(seed: 0x51)
        var probabilities: [Double] = []
        var scratch = MLP.Scratch(for: policy.network)
        for _ in 0..<20 {
            let c = randomContext(PolicyFileTests.schema.contextCount, using: &random)
            workspace.load(features: c)
            let kind = policy.probabilities(Self.candidates, random: random.stream(), workspace: workspace, into: &probabilities)
            #expect(kind == .exact)
            // By hand: normalize, run the network, softmax over the candidates it knows.
            let input = Vector(c.indices.map { (c[$0] - policy.mean[$0]) / policy.standardDeviation[$0] })
            policy.network.infer(input, scratch: &scratch)
            let logits = Self.candidates.indices.map { k in k < 30 ? scratch.output[k] : -Double.infinity }
            let largest = logits.max()!
            let weights = logits.map { exp($0 - largest) }
            let total = weights.reduce(0, +)
            for k in Self.candidates.indices {
                #expect(abs(probabilities[k] - weights[k] / total) < 1e-12)
            }
            let choice = policy.decide(Self.candidates, random: random.stream(), workspace: workspace)
            #expect(choice.index < 30 && abs(choice.probability - probabilities[choice.index]) < 1e-12)
            let greedy = policy.conservative().decide(Self.candidates, random: random.stream(), workspace: workspace)
            #expect(greedy.probability == 1 && greedy.index == probabilities.indices.max { probabilities[$0] < probabilities[$1] })
        }
        // Draws follow the probabilities: 4,000 decisions on one context.
        workspace.load(features: randomContext(PolicyFileTests.schema.contextCount, using: &random))
        _ = policy.probabilities(Self.candidates, random: random.stream(), workspace: workspace, into: &probabilities)
        var counts = [Int](repeating: 0, count: Self.candidates.count)
        for draw in 0..<4000 {
            counts[policy.decide(Self.candidates, random: CounterRandom(seed: 77, domain: 1).child(UInt64(draw)), workspace: workspace).index] += 1
        }
        for k in Self.candidates.indices {
            let expected = 4000 * probabilities[k]
            #expect(abs(Double(counts[k]) - expected) < 5 * (expected + 1).squareRoot() + 1, "plan \(k): \(counts[k]) draws, \(expected) expected")
        }
    }

    @Test("a network policy file round-trips through the one loader; a bad value is named by file and key")
    func file() throws {
        let directory = try PolicyFileTests.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ppo.json").path
        let policy = Self.policy()
        let text = try policy.rendered()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let loaded = try PolicyFile.load(path: path, expectedSchema: PolicyFileTests.schema)
        let network = try #require(loaded as? NetworkPolicy)
        #expect(network.network == policy.network && network.actions == policy.actions && network.mean == policy.mean)
        #expect(try loaded.rendered() == text)

        var document = try JSONValue.parse(Data(text.utf8), file: path)
        guard case var .object(normalization) = document[path: "normalization"], case var .array(std) = normalization["std"] else {
            Issue.record("normalization.std is an array")
            return
        }
        std[2] = .number(0)
        normalization["std"] = .array(std)
        document[path: "normalization"] = .object(normalization)
        try Data(sealed(document).utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ConfigError.self) { try PolicyFile.load(path: path, expectedSchema: nil) }
        #expect(error?.file == path && error?.key == "normalization.std[2]")

        // An edited value without a new checksum is refused.
        try Data(text.replacingOccurrences(of: "\"ppo\"", with: "\"reinforce\"").utf8).write(to: URL(fileURLWithPath: path))
        let tampered = #expect(throws: ConfigError.self) { try PolicyFile.load(path: path, expectedSchema: nil) }
        #expect(tampered?.key == "checksum")
    }

    /// A priced random network: the context's features and the four prices in.
    static func pricedPolicy() -> NetworkPolicy {
        let schema = PolicyFileTests.schema
        let header = PolicyHeader(schema: schema, planFamily: .standard, reward: ["revenue": 1, "items": 0.001], provenance: PolicyFileTests.provenance)
        let actions = Array(candidates.map(\.spec))
        let inputs = schema.contextCount + 4
        let network = MLP(sizes: [inputs, 12, actions.count], random: CounterRandom(seed: 9, domain: 1), outputGain: 2)
        return NetworkPolicy(
            algorithm: "ppo", settings: [(name: "clip", value: 0.2)], header: header, actions: actions,
            mean: (0..<inputs).map { 0.05 * Double($0 % 4) }, standardDeviation: (0..<inputs).map { 1 + 0.25 * Double($0 % 3) },
            network: network, pricing: NetworkPricing(scales: [0.004, 0.3, 0.0002]))
    }

    @Test("a priced network reads the prices (clamped to its training ranges) after the context; its file keeps the pricing")
    func priced() throws {
        let policy = Self.pricedPolicy()
        let workspace = policy.makeWorkspace(maxCandidates: Self.candidates.count)
        var random = TestRandom(seed: 0x77)
        var scratch = MLP.Scratch(for: policy.network)
        var probabilities: [Double] = []
        let ranges = NetworkPricing.defaultRanges
        func byHand(_ c: [Double], _ prices: [Double]) -> [Double] {
            let raw = c + prices.indices.map { min(ranges[$0].upperBound, max(ranges[$0].lowerBound, prices[$0])) }
            policy.network.infer(Vector(raw.indices.map { (raw[$0] - policy.mean[$0]) / policy.standardDeviation[$0] }), scratch: &scratch)
            let logits = Self.candidates.indices.map { scratch.output[$0] }
            let weights = logits.map { exp($0 - logits.max()!) }
            return weights.map { $0 / weights.reduce(0, +) }
        }
        let c = randomContext(PolicyFileTests.schema.contextCount, using: &random)
        var seen: [[Double]] = []
        for prices in [[1.0, 0, 0, 0], [2.0, 0.5, 0, 0], [1, 0, 1.5, 0.7], [15, 12, 0, 0], [10, 10, 0, 0]] {
            workspace.load(features: c, prices: PacingPrices(revenue: prices[0], impressions: prices[1], negatives: prices[2], organic: prices[3]))
            _ = policy.probabilities(Self.candidates, random: random.stream(), workspace: workspace, into: &probabilities)
            let expected = byHand(c, prices)
            for k in Self.candidates.indices { #expect(abs(probabilities[k] - expected[k]) < 1e-12) }
            seen.append(probabilities)
        }
        #expect(seen[0] != seen[1] && seen[1] != seen[2], "the prices move the probabilities")
        #expect(seen[3] == seen[4], "prices past the training ranges read as the ranges' ends")

        // The file keeps the pricing; a range upside down is named by file and key.
        let directory = try PolicyFileTests.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("priced.json").path
        let text = try policy.rendered()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let loaded = try #require(try PolicyFile.load(path: path, expectedSchema: PolicyFileTests.schema) as? NetworkPolicy)
        let reloaded = try loaded.rendered()
        #expect(loaded.pricing == policy.pricing && loaded.network == policy.network && reloaded == text)
        var document = try JSONValue.parse(Data(text.utf8), file: path)
        document[path: "pricing.ranges.impressions"] = .array([.number(2), .number(1)])
        try Data(sealed(document).utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ConfigError.self) { try PolicyFile.load(path: path, expectedSchema: nil) }
        #expect(error?.file == path && error?.key == "pricing.ranges.impressions")
        // Unpriced files stay as they were: no pricing key.
        let unpriced = try Self.policy().rendered()
        #expect(!unpriced.contains("pricing"))
    }
}

