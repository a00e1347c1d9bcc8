import AdLoadCore
import Policies
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

    /// Runs every user of `setup` with a fixed rule (the first allowed plan with ads, else
    /// none) and returns each step's reward, and each episode's prices.
    static func fixedRewards(_ episodes: inout SimulatedEpisodes, users: Int) -> (rewards: [Double], prices: [PacingPrices]) {
        var rewards: [Double] = []
        var prices: [PacingPrices] = []
        for user in 0..<users {
            var step = episodes.reset(episode: user)
            prices.append(episodes.prices)
            while let current = step {
                let action = current.mask.indices.first { current.mask[$0] && !episodes.specs[$0].isEmpty } ?? episodes.specs.firstIndex(of: .empty)!
                let result = episodes.step(action)
                rewards.append(result.reward)
                step = result.next
            }
        }
        return (rewards, prices)
    }

    @Test("a region-plan teacher (best-plan) takes its region's plan wherever the session offers it and no ads elsewhere; masks follow the catalog as daily caps fill")
    func regionPlanTeacher() throws {
        var config = try defaultEnvironment()
        // A daily cap in every region (the presets have none), so that some sessions cannot
        // take their region's plan.
        let shares = ["na": 0.25, "eu": 0.2, "apac": 0.1]  // env/default.json's max_ad_share
        for region in config.regions.indices {
            let rules = config.regions[region].rules
            let share = try #require(shares[config.regions[region].name])
            config.regions[region].rules = try PlacementRules(
                firstSlot: rules.firstSlot, minGap: rules.minGap, maxShare: share, maxAdsPerSession: rules.maxAdsPerSession, dailyCap: 30)
        }
        let model = EnvironmentModel(config: config)
        let setup = SimulationSetup(users: 24, days: 10, seed: 21)
        var episodes = SimulatedEpisodes(model: model, schema: config.featureSchema, setup: setup, engagementWeight: 0)
        // The densest valid plan of each region, so that daily caps bind.
        let plans = config.regions.indices.map { region in
            episodes.catalog.specs(region: region).filter { !$0.isEmpty }.min { ($0.spacing, $0.first) < ($1.spacing, $1.first) } ?? .empty
        }
        let noAds = try #require(episodes.specs.firstIndex(of: .empty))
        var expected: [Int] = []
        var capped = 0
        for user in 0..<setup.users {
            var step = episodes.reset(episode: user)
            while let current = step {
                let session = try #require(episodes.context)
                let offered = episodes.specs.map {
                    episodes.catalog.offers($0, region: session.region, feedLength: session.feedLength, adsToday: session.adsToday)
                }
                #expect(current.mask == offered, "the mask is the catalog's offer for the session")
                let planned = try #require(episodes.specs.firstIndex(of: plans[session.region]))
                if !current.mask[planned] { capped += 1 }
                let action = current.mask[planned] ? planned : noAds
                expected.append(action)
                step = episodes.step(action).next
            }
        }
        #expect(capped > 0, "some sessions found their region's plan unavailable (the daily cap used up)")
        let batch = episodes.teacherRollout(.regionPlans(plans), episodes: 0..<setup.users, gamma: 0.99, random: CounterRandom(seed: 1, domain: 2))
        #expect(batch.actions == expected)
        #expect(batch.actions.contains(noAds) && batch.actions.contains { $0 != noAds })
    }

    @Test("priced episodes: the prices are drawn per episode, observed after the context, and weigh the reward exactly")
    func pricedEpisodes() throws {
        let config = try defaultEnvironment()
        let model = EnvironmentModel(config: config)
        let setup = SimulationSetup(users: 40, days: 6, seed: 12)
        let schema = config.featureSchema
        var unpriced = SimulatedEpisodes(model: model, schema: schema, setup: setup, engagementWeight: 0)
        // Only the revenue price moves, from its default 1 up to 2.5: a step's reward is then
        // exactly p_rev times the unpriced one (the same plans on the same luck).
        let pricing = NetworkPricing(scales: [0.01, 0.2, 0.001], ranges: [1...2.5, 0...0, 0...0, 0...0])
        var priced = SimulatedEpisodes(model: model, schema: schema, setup: setup, engagementWeight: 0, pricing: pricing)
        priced.priceDraws = CounterRandom(seed: 8, domain: 2)
        #expect(priced.observationCount == schema.contextCount + 4)
        let plain = Self.fixedRewards(&unpriced, users: setup.users)
        let weighed = Self.fixedRewards(&priced, users: setup.users)
        #expect(plain.rewards.count == weighed.rewards.count && plain.rewards.contains { $0 > 0 })
        let revenuePrices = weighed.prices.map(\.revenue)
        #expect(revenuePrices.contains(1) && revenuePrices.contains { $0 > 1 } && revenuePrices.allSatisfy { (1...2.5).contains($0) },
                "each price is its default or drawn from its range: \(revenuePrices)")
        #expect(weighed.prices.allSatisfy { $0.impressions == 0 && $0.negatives == 0 && $0.organic == 0 })
        var step = 0
        for user in 0..<setup.users {
            var episode = priced.reset(episode: user)
            #expect(priced.prices == weighed.prices[user], "the same episode draws the same prices")
            while let current = episode {
                #expect(Array(current.observation.suffix(4)) == [priced.prices.revenue, 0, 0, 0], "the prices follow the context")
                #expect(weighed.rewards[step] == priced.prices.revenue * plain.rewards[step])
                let action = current.mask.indices.first { current.mask[$0] && !priced.specs[$0].isEmpty } ?? priced.specs.firstIndex(of: .empty)!
                episode = priced.step(action).next
                step += 1
            }
        }
        // Draws over the default ranges: about half the episodes keep each default, the rest
        // fall inside the range, and another stream draws other prices.
        let draws = (0..<2000).map { SimulatedEpisodes.samplePrices(NetworkPricing.defaultRanges, random: CounterRandom(seed: 3, domain: 4).child(UInt64($0))) }
        let kept = draws.filter { $0.impressions == 0 }.count
        #expect(abs(kept - 1000) < 120, "impression price kept at its default in \(kept) of 2000 episodes")
        #expect(draws.allSatisfy { NetworkPricing.defaultRanges[0].contains($0.revenue) && NetworkPricing.defaultRanges[1].contains($0.impressions) })
        let revenueDraws = draws.map(\.revenue).filter { $0 != 1 }
        #expect(revenueDraws.filter { $0 < 1 }.count > 300 && revenueDraws.filter { $0 > 1 }.count > 300, "log-uniform around the default")
        let again = SimulatedEpisodes.samplePrices(NetworkPricing.defaultRanges, random: CounterRandom(seed: 3, domain: 4).child(0))
        #expect(again == draws[0])

        // The objective by hand, at prices where every term counts.
        let outcome = PricedOutcome(revenue: 0.3, impressions: 4, negatives: 1, organicItems: 50)
        let prices = PacingPrices(revenue: 1.5, impressions: 0.5, negatives: 2, organic: 0.25)
        let expected = 1.5 * 0.3 + 0.002 * 50 - 0.5 * 0.01 * 4 - 2 * 0.2 * 1 + 0.25 * 0.001 * 50
        #expect(abs(pricing.objective(outcome, prices: prices, engagementWeight: 0.002) - expected) < 1e-15)
    }
}
