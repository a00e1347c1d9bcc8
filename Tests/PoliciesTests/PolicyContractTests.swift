@testable import AdLoadCore
import Foundation
@testable import Policies
import Testing

@Suite("The policy contract")
struct PolicyContractTests {
    static let candidates = PlanCatalog(
        family: .standard,
        rules: [try! PlacementRules(firstSlot: 2, minGap: 1, maxShare: 0.5, maxAdsPerSession: 20, dailyCap: nil)]
    ).byRegion[0]

    @Test("deciding through the contract is the bandit's own decision; the probabilities are its distribution", arguments: PolicyFileTests.algorithms)
    func contractIsTheBandit(algorithm: BanditAlgorithm) throws {
        let policy = try PolicyFileTests.policy(algorithm)
        let contract: any DecisionPolicy = policy
        let workspace = contract.makeWorkspace(maxCandidates: Self.candidates.count)
        var scratch = policy.bandit.makeScratch(maxCandidates: Self.candidates.count)
        var random = TestRandom(seed: 0xC0)
        var probabilities: [Double] = []
        var direct: [Double] = []
        for _ in 0..<40 {
            let c = randomContext(PolicyFileTests.schema.contextCount, using: &random)
            let stream = random.stream()
            workspace.load(features: c)
            let choice = contract.decide(Self.candidates, random: stream, workspace: workspace)
            #expect(choice == policy.bandit.decide(context: c, candidates: Self.candidates, random: stream, scratch: &scratch))
            let kind = contract.probabilities(Self.candidates, random: stream, workspace: workspace, into: &probabilities)
            policy.bandit.probabilities(context: c, candidates: Self.candidates, random: stream, scratch: &scratch, into: &direct)
            #expect(probabilities == direct)
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-9)
            if case .thompson = algorithm {
                #expect(kind != .exact)
            } else {
                #expect(kind == .exact)
                #expect(abs(probabilities[choice.index] - choice.probability) < 1e-12)
            }
        }
    }

    @Test("an explanation carries the decision, the probabilities, and scores whose parts add up", arguments: PolicyFileTests.algorithms)
    func explanation(algorithm: BanditAlgorithm) throws {
        let policy = try PolicyFileTests.policy(algorithm)
        let workspace = policy.makeWorkspace(maxCandidates: Self.candidates.count)
        var random = TestRandom(seed: 0xE4)
        var probabilities: [Double] = []
        var scratch = policy.bandit.makeScratch(maxCandidates: Self.candidates.count)
        for _ in 0..<20 {
            let c = randomContext(PolicyFileTests.schema.contextCount, using: &random)
            let stream = random.stream()
            workspace.load(features: c)
            let explanation = policy.explain(Self.candidates, random: stream, workspace: workspace)
            workspace.load(features: c)
            #expect(explanation.choice == policy.decide(Self.candidates, random: stream, workspace: workspace))
            _ = policy.probabilities(Self.candidates, random: stream, workspace: workspace, into: &probabilities)
            #expect(explanation.plans.map(\.probability) == probabilities)
            policy.bandit.scores(context: c, candidates: Self.candidates, scratch: &scratch)
            #expect(explanation.plans.map(\.value) == scratch.means)
            #expect(explanation.plans.allSatisfy { $0.price == 0 })
            let best = explanation.plans.indices.max { explanation.plans[$0].score < explanation.plans[$1].score }!
            switch algorithm {
            case let .linUCB(alpha, _):
                #expect(maxAbsDifference(explanation.plans.map(\.bonus), scratch.widths.map { alpha * $0 }) < 1e-12)
                #expect(explanation.plans[best].probability == probabilities.max())
            case .thompson:
                // The decision is the argmax of the sampled score (value + bonus).
                #expect(explanation.choice.index == best)
            case .epsilonGreedy:
                #expect(explanation.plans.allSatisfy { $0.bonus == 0 })
                #expect(explanation.plans[best].probability == probabilities.max())
            case let .softmax(temperature, floor):
                // π_k − ε/K ∝ exp(score_k / τ): without the uniform part, the log-odds of any
                // two plans is their score gap over τ.
                let other = (best + 1) % probabilities.count
                let uniform = floor / Double(probabilities.count)
                let logOdds = log((probabilities[best] - uniform) / (probabilities[other] - uniform))
                #expect(abs(logOdds - (explanation.plans[best].score - explanation.plans[other].score) / temperature) < 1e-6)
                #expect(probabilities.allSatisfy { $0 >= uniform })
            }
            #expect(!explanation.rule.isEmpty)
        }
    }

    @Test("the conservative twin puts all its mass on the best value, exactly", arguments: PolicyFileTests.algorithms)
    func conservative(algorithm: BanditAlgorithm) throws {
        let policy = try PolicyFileTests.policy(algorithm)
        let greedy = policy.conservative()
        #expect(greedy.algorithm == "egreedy" && greedy.hyperparameters.map(\.value) == [0])
        #expect(policy.algorithm == algorithm.name)
        let workspace = policy.makeWorkspace(maxCandidates: Self.candidates.count)
        var random = TestRandom(seed: 0x6E)
        var probabilities: [Double] = []
        for _ in 0..<20 {
            workspace.load(features: randomContext(PolicyFileTests.schema.contextCount, using: &random))
            let stream = random.stream()
            let explanation = greedy.explain(Self.candidates, random: stream, workspace: workspace)
            let choice = greedy.decide(Self.candidates, random: stream, workspace: workspace)
            #expect(greedy.probabilities(Self.candidates, random: stream, workspace: workspace, into: &probabilities) == .exact)
            // All the mass on the best value; plans with exactly equal values (the same plan
            // cut to the feed) share it.
            let best = try #require(explanation.plans.map(\.value).max())
            let ties = explanation.plans.filter { $0.value == best }.count
            #expect(explanation.plans[choice.index].value == best)
            #expect(choice.probability == 1 / Double(ties) && probabilities[choice.index] == choice.probability)
            for (k, plan) in explanation.plans.enumerated() where plan.value < best {
                #expect(probabilities[k] == 0)
            }
        }
    }

    @Test("the loader reads any kind by its algorithm and refuses an unknown kind naming file and field")
    func loaderDispatch() throws {
        let directory = try PolicyFileTests.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.json").path
        let original = try PolicyFileTests.policy(.softmax(temperature: 0.25))
        try original.write(to: path)
        let loaded = try PolicyFile.load(path: path, expectedSchema: PolicyFileTests.schema)
        #expect(loaded is LinearBanditPolicy && loaded.algorithm == "softmax")
        #expect(try loaded.rendered() == original.rendered())

        var document = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: path)), file: path)
        document[path: "algorithm"] = .string("ppo-v9")
        let unknown = sealed(document)
        try Data(unknown.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ConfigError.self) { try PolicyFile.load(path: path, expectedSchema: nil) }
        #expect(error?.file == path && error?.key == "algorithm")
        #expect(error?.description.contains("unknown policy kind") == true)
        #expect(error?.description.contains("linear-bandit: linucb, thompson, egreedy, softmax") == true)

        document[path: "algorithm"] = nil
        let missing = sealed(document)
        try Data(missing.utf8).write(to: URL(fileURLWithPath: path))
        let missingError = #expect(throws: ConfigError.self) { try PolicyFile.load(path: path, expectedSchema: nil) }
        #expect(missingError?.key == "algorithm" && missingError?.description.contains("is missing") == true)
    }
}
