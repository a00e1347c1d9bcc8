import AdLoadCore
import Foundation
import LinearAlgebra
@testable import Policies
import Testing

@Suite("Priced bandits: one A, a model per priced quantity, θ(prices) exact")
struct BanditPricingTests {
    /// One observation of a synthetic session: φ's parts, the reward and the priced quantities.
    struct Session {
        let context: [Double]
        let descriptors: [Double]
        let reward: Double
        let outcome: PricedOutcome
        let weight: Double
    }

    /// Sessions whose priced quantities depend on the plan's single descriptor (ads):
    /// revenue ≈ 0.01·ads, impressions = ads, negatives ≈ 0.1·ads, organic items ≈ 20 − ads.
    static func sessions(count: Int, seed: UInt64) -> [Session] {
        var random = TestRandom(seed: seed)
        return (0..<count).map { step in
            let context = [1, random.uniform(in: -1...1)]
            let ads = Double(random.index(below: 5))
            let revenue = max(0, 0.01 * ads * (1 + 0.3 * context[1]) + 0.002 * random.normal())
            let negatives = random.uniform() < 0.1 * ads / 4 ? 1.0 : 0.0
            let outcome = PricedOutcome(revenue: revenue, impressions: ads, negatives: negatives, organicItems: 20 - ads)
            let reward = revenue + 0.001 * (20 - ads) + 0.01 * random.normal()
            return Session(context: context, descriptors: [1, ads], reward: reward, outcome: outcome, weight: step % 7 == 0 ? 0.5 : 1)
        }
    }

    static func pricedBandit(refreshInterval: Int, sessions: [Session]) throws -> LinearBandit {
        var bandit = try LinearBandit(
            contextCount: 2, descriptorCount: 2, algorithm: .epsilonGreedy(epsilon: 0), lambda: 0.5, refreshInterval: refreshInterval)
        bandit.enablePricing()
        for session in sessions {
            bandit.update(
                context: session.context, descriptors: session.descriptors, reward: session.reward, outcome: session.outcome,
                weight: session.weight)
        }
        return bandit
    }

    static let priceSets: [PacingPrices] = [
        .defaults,
        PacingPrices(revenue: 2.5, impressions: 0, negatives: 0, organic: 0),
        PacingPrices(revenue: 0.4, impressions: 1.5, negatives: 3, organic: 0.7),
        PacingPrices(revenue: 1, impressions: 0.2, negatives: 0, organic: 2),
    ]

    @Test("θ(prices) equals a ridge model trained on the priced objective itself, across refreshes", arguments: [5, 64, Int.max])
    func pricedThetaMatchesDirectTraining(refreshInterval: Int) throws {
        let sessions = Self.sessions(count: 400, seed: 21)
        let bandit = try Self.pricedBandit(refreshInterval: refreshInterval, sessions: sessions)
        let pricing = try #require(bandit.pricing)
        // The scales are the totals' ratios, computed here from the data by hand.
        let totals = sessions.reduce(into: [0.0, 0, 0, 0]) { sums, session in
            sums[0] += session.weight * session.outcome.revenue
            sums[1] += session.weight * session.outcome.impressions
            sums[2] += session.weight * session.outcome.negatives
            sums[3] += session.weight * session.outcome.organicItems
        }
        let scales = (totals[0] / totals[1], totals[0] / totals[2], totals[0] / totals[3])
        #expect(abs(pricing.scales.impressions - scales.0) <= 1e-12 * scales.0)
        for prices in Self.priceSets {
            var direct = RidgeModel(dimension: 4, lambda: 0.5, refreshInterval: refreshInterval)
            for session in sessions {
                let x = session.outcome
                let objective = session.reward + (prices.revenue - 1) * x.revenue - prices.impressions * scales.0 * x.impressions
                    - prices.negatives * scales.1 * x.negatives + prices.organic * scales.2 * x.organicItems
                direct.update(features: kronecker(session.context, session.descriptors), reward: objective, weight: session.weight)
            }
            var priced = [Double](repeating: 0, count: 4)
            bandit.model.theta.withUnsafeBufferPointer { base in
                priced.withUnsafeMutableBufferPointer { pricing.pricedTheta(base: base, prices: prices, into: $0) }
            }
            let reference = Array(direct.theta)
            let scale = max(1, maxAbs(reference))
            #expect(maxAbsDifference(priced, reference) <= 1e-9 * scale, "prices \(prices): \(priced) against \(reference)")
        }
    }

    @Test("at default prices a priced bandit decides exactly as the same model unpriced")
    func defaultPricesChangeNothing() throws {
        let sessions = Self.sessions(count: 300, seed: 22)
        let priced = try Self.pricedBandit(refreshInterval: 64, sessions: sessions).with(algorithm: .softmax(temperature: 0.002, explorationFloor: 0.05))
        let unpriced = try LinearBandit(algorithm: priced.algorithm, model: priced.model, contextCount: 2, descriptorCount: 2)
        var scratch = priced.makeScratch(maxCandidates: 5)
        var probabilities: [Double] = [], reference: [Double] = []
        let descriptors = (0..<5).flatMap { [1.0, Double($0)] }
        var random = TestRandom(seed: 5)
        for _ in 0..<20 {
            let context = [1, random.uniform(in: -1...1)]
            let stream = random.stream()
            priced.probabilities(context: context, descriptors: descriptors, prices: .defaults, random: stream, scratch: &scratch, into: &probabilities)
            unpriced.probabilities(
                context: context, descriptors: descriptors, prices: PacingPrices(revenue: 3, impressions: 2, negatives: 1, organic: 1),
                random: stream, scratch: &scratch, into: &reference)
            #expect(probabilities == reference, "an unpriced bandit ignores prices; a priced one at default prices is the same model")
        }
    }

    @Test("prices move the choice the way they should: a costly impression removes ads, a dear revenue adds them")
    func pricesMoveTheChoice() throws {
        let sessions = Self.sessions(count: 2_000, seed: 23)
        let bandit = try Self.pricedBandit(refreshInterval: 64, sessions: sessions)
        var scratch = bandit.makeScratch(maxCandidates: 5)
        let descriptors = (0..<5).flatMap { [1.0, Double($0)] }
        func ads(at prices: PacingPrices) -> Int {
            bandit.decide(context: [1, 0], descriptors: descriptors, prices: prices, random: CounterRandom(seed: 1, domain: 1), scratch: &scratch).index
        }
        // The reward earns 0.01 per ad and loses 0.001 per organic item: 4 ads win at default prices.
        #expect(ads(at: .defaults) == 4)
        // An impression priced at twice what it earns makes every ad a loss.
        #expect(ads(at: PacingPrices(revenue: 1, impressions: 2, negatives: 0, organic: 0)) == 0)
        // Revenue at a tenth of its value, and organic items worth ~ revenue per item, also remove ads.
        #expect(ads(at: PacingPrices(revenue: 0.05, impressions: 0, negatives: 0, organic: 0)) == 0)
        // From no ads, a higher revenue price brings them back.
        #expect(ads(at: PacingPrices(revenue: 3, impressions: 2, negatives: 0, organic: 0)) == 4)
    }

    @Test("a priced policy file round-trips: the same pricing, the same priced decisions; an unpriced file has no pricing key")
    func fileRoundTrip() throws {
        let sessions = Self.sessions(count: 200, seed: 24)
        let schema = PolicyFileTests.schema
        var bandit = try LinearBandit(
            contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0.1))
        #expect(bandit.pricing == nil)
        let unpricedText = try policy(bandit, schema: schema).rendered()
        #expect(!unpricedText.contains("\"pricing\""))
        bandit.enablePricing()
        var random = TestRandom(seed: 3)
        for session in sessions {
            let context = (0..<schema.contextCount).map { $0 == 0 ? 1 : random.uniform(in: 0...1) }
            let descriptors = (0..<schema.descriptorCount).map { $0 == 0 ? 1 : session.descriptors[1] * random.uniform() }
            bandit.update(context: context, descriptors: descriptors, reward: session.reward, outcome: session.outcome)
        }
        let text = try policy(bandit, schema: schema).rendered()
        let loaded = try LinearBanditPolicy.parse(Data(text.utf8), file: "priced.json", expectedSchema: schema)
        let pricing = try #require(loaded.bandit.pricing)
        let original = try #require(bandit.pricing)
        #expect(pricing.totals == original.totals)
        #expect(pricing.b == original.b)
        for k in 0..<4 {
            #expect(maxAbsDifference(Array(pricing.theta[k]), Array(original.theta[k])) <= 1e-9 * max(1, maxAbs(Array(original.theta[k]))))
        }
        #expect(try loaded.rendered() == text, "writing the loaded policy gives the same bytes")

        let edited = text.replacingOccurrences(of: "\"organic_items\": ", with: "\"organic\": ")
        #expect(throws: ConfigError.self) { _ = try LinearBanditPolicy.parse(Data(edited.utf8), file: "edited.json", expectedSchema: schema) }
    }

    private func policy(_ bandit: LinearBandit, schema: FeatureSchema) -> LinearBanditPolicy {
        LinearBanditPolicy(
            bandit: bandit, schema: schema, planFamily: .standard, reward: PolicyFileTests.reward, provenance: PolicyFileTests.provenance)
    }
}
