import AdLoadCore
import Policies
import PolicyGradient
@testable import Simulation
import Testing
@testable import Training

@Suite("The held-out check of a trained policy against its teacher")
struct HeldOutCheckTests {
    @Test("held-out users are another population; a user's score is its realized revenue plus the engagement weight per item")
    func realizedObjective() throws {
        let config = try defaultEnvironment()
        #expect(config.objective.expectedRevenue, "the evaluation's objective credits click probabilities: the check must not")
        let run = PolicyGradientCheckpointTests.makeRun(config: config, iterations: 1, threads: 1)
        let policy = try run.run(header: PolicyGradientCheckpointTests.header(config)).policy
        let training = SimulationSetup(users: 30, days: 6, seed: 21)
        for weight in [0.0, 0.01] {
            let check = HeldOutCheck(config: config, engagementWeight: weight, training: training, seed: 21, threads: 2)
            #expect(check.setup.users == 30 && check.setup.days == 6)
            #expect(check.setup.populationSeed != training.populationSeed && check.setup.luckSeed != training.luckSeed)
            let scores = try check.objectives(policy, catalog: config.planCatalog())
            var greedy = policy
            greedy.greedy = true
            let outcomes = try SimulationRunner(model: EnvironmentModel(config: config), threads: 1).outcomes(
                SimulatedPolicy(name: "x", version: "", policy: greedy, catalog: config.planCatalog(), decisionSeed: check.setup.luckSeed),
                setup: check.setup)
            let realized = outcomes.map { $0.revenue + weight * Double($0.items) }
            #expect(zip(scores, realized).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) })
            #expect(outcomes.map(\.objective) != scores, "the evaluation's expected revenue is another number")
        }
    }

    @Test("a policy against itself is at exactly 1 with no width; the ratio is of the held-out means")
    func selfComparison() throws {
        let config = try defaultEnvironment()
        let (first, second) = try Self.twoPolicies(config)
        let check = HeldOutCheck(config: config, engagementWeight: 0, training: SimulationSetup(users: 40, days: 6, seed: 21), seed: 21, threads: 2)
        let same = try #require(try check.compare(first, with: first, catalog: config.planCatalog()))
        #expect(same.ratio == 1 && same.standardError == 0 && same.count == 40)
        let ratio = try #require(try check.compare(second, with: first, catalog: config.planCatalog()))
        let firstScores = try check.objectives(first, catalog: config.planCatalog())
        let secondScores = try check.objectives(second, catalog: config.planCatalog())
        #expect(abs(ratio.ratio - secondScores.reduce(0, +) / firstScores.reduce(0, +)) < 1e-12)
    }

    @Test("restarts are chosen on a population of their own, as many users as asked, and the policy with the highest mean wins")
    func selection() throws {
        let config = try defaultEnvironment()
        let (first, second) = try Self.twoPolicies(config)
        let training = SimulationSetup(users: 20, days: 6, seed: 21)
        let check = HeldOutCheck(config: config, engagementWeight: 0, training: training, seed: 21, threads: 2)
        let selection = HeldOutCheck(
            config: config, engagementWeight: 0, training: training, seed: 21, threads: 2, population: .selection, users: 40)
        #expect(selection.setup.users == 40 && selection.setup.days == 6)
        #expect(selection.setup.populationSeed != check.setup.populationSeed && selection.setup.populationSeed != training.populationSeed)
        let catalog = config.planCatalog()
        let means = try [first, second].map { policy in
            let scores = try selection.objectives(policy, catalog: catalog)
            return scores.reduce(0, +) / Double(scores.count)
        }
        #expect(means[0] != means[1])
        let best = try selection.best(of: [first, second], catalog: catalog)
        #expect(best.means == means && best.index == (means[1] > means[0] ? 1 : 0))
        let reversed = try selection.best(of: [second, first], catalog: catalog)
        #expect(reversed.index == 1 - best.index, "the same policy wins in either order")
        #expect(try selection.best(of: [first, first], catalog: catalog).index == 0, "the first of equals")
    }

    /// Two policies of the same small run, after 1 and after 3 iterations.
    static func twoPolicies(_ config: EnvironmentConfig) throws -> (NetworkPolicy, NetworkPolicy) {
        let header = PolicyGradientCheckpointTests.header(config)
        return (
            try PolicyGradientCheckpointTests.makeRun(config: config, iterations: 1, threads: 1).run(header: header).policy,
            try PolicyGradientCheckpointTests.makeRun(config: config, iterations: 3, threads: 1).run(header: header).policy
        )
    }
}
