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
        let header = PolicyGradientCheckpointTests.header(config)
        let first = try PolicyGradientCheckpointTests.makeRun(config: config, iterations: 1, threads: 1).run(header: header).policy
        let second = try PolicyGradientCheckpointTests.makeRun(config: config, iterations: 3, threads: 1).run(header: header).policy
        let check = HeldOutCheck(config: config, engagementWeight: 0, training: SimulationSetup(users: 40, days: 6, seed: 21), seed: 21, threads: 2)
        let same = try #require(try check.compare(first, with: first, catalog: config.planCatalog()))
        #expect(same.ratio == 1 && same.standardError == 0 && same.count == 40)
        let ratio = try #require(try check.compare(second, with: first, catalog: config.planCatalog()))
        let firstScores = try check.objectives(first, catalog: config.planCatalog())
        let secondScores = try check.objectives(second, catalog: config.planCatalog())
        #expect(abs(ratio.ratio - secondScores.reduce(0, +) / firstScores.reduce(0, +)) < 1e-12)
    }
}
