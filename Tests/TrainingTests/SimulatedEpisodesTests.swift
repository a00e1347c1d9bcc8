import AdLoadCore
import PolicyGradient
@testable import Simulation
import Testing
@testable import Training

@Suite("The ad-load problem as policy-gradient episodes")
struct SimulatedEpisodesTests {
    @Test("episodes follow the simulator: masks allow only valid plans, rewards are realized revenue, PPO updates are reproducible")
    func episodes() throws {
        let config = try defaultEnvironment()
        let model = EnvironmentModel(config: config)
        let setup = SimulationSetup(users: 30, days: 8, seed: 12)
        var episodes = SimulatedEpisodes(model: model, schema: config.featureSchema, setup: setup, engagementWeight: 0)
        #expect(episodes.observationCount == config.featureSchema.contextCount && episodes.actionCount > 50)

        // Always the plan with no ads: the episodes are exactly the simulator's `none` baseline.
        let noAds = try #require(episodes.specs.firstIndex(of: .empty))
        var sessions = 0
        var revenue = 0.0
        var usersWithSessions = 0
        for user in 0..<setup.users {
            var step = episodes.reset(episode: user)
            if step != nil { usersWithSessions += 1 }
            while let current = step {
                #expect(current.mask[noAds])
                let session = try #require(episodes.context)
                let offered = episodes.specs.map {
                    episodes.catalog.offers($0, region: session.region, feedLength: session.feedLength, adsToday: session.adsToday)
                }
                #expect(current.mask == offered, "the mask is the catalog's offer for the session")
                let result = episodes.step(noAds)
                sessions += 1
                revenue += result.reward
                step = result.next
            }
        }
        let baseline = try SimulationRunner(model: model, threads: 1).run(CadencePolicy.none, setup: setup)
        #expect(sessions == baseline.sessions && revenue == 0)

        func run(threads: Int = 1) -> (batch: RolloutBatch, statistics: UpdateStatistics, model: ActorCritic) {
            var configuration = PolicyGradientConfiguration()
            configuration.hidden = [16]
            var trainer = PolicyGradientTrainer(
                observationCount: episodes.observationCount, actionCount: episodes.actionCount, configuration: configuration, seed: 4)
            var environment = episodes
            let batch = trainer.collect(&environment, episodes: 0..<setup.users, random: CounterRandom(seed: 5, domain: 1))
            let statistics = trainer.update(batch, random: CounterRandom(seed: 6, domain: 1), threads: threads)
            return (batch, statistics, trainer.model)
        }
        let first = run()
        let batch = first.batch
        // One episode per user with a session in the horizon (when a user first comes does not
        // depend on the policy), each ending once.
        #expect(batch.episodeReturns.count == usersWithSessions && batch.episodeEnds.filter { $0 }.count == usersWithSessions)
        #expect(batch.count > usersWithSessions)
        for (index, action) in batch.actions.enumerated() {
            #expect(batch.masks[index * episodes.actionCount + action], "step \(index) took a masked action")
        }
        #expect(batch.rewards.contains { $0 > 0 }, "a near-uniform policy shows ads and earns revenue")
        #expect(first.statistics.entropy > 0 && first.statistics.valueLoss.isFinite)
        let second = run()
        #expect(second.batch.actions == batch.actions && second.statistics == first.statistics)
        // The update's blocks are summed in a fixed order: any thread count gives the same networks.
        let threaded = run(threads: 3)
        #expect(threaded.statistics == first.statistics && threaded.model == first.model)
    }
}
