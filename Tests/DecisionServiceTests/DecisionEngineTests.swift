import AdLoadCore
@testable import DecisionService
import Foundation
@testable import Policies
@testable import StateStore
import Testing

@Suite("DecisionEngine")
struct DecisionEngineTests {
    @Test("a stored record becomes a history as of the last visit")
    func recordToHistory() {
        let record = UserRecord(
            lastVisit: 100, lastUpdate: 103.5, week: [1, 2, 3, 4, 5], month: [10, 20, 30, 40, 50], recentDwell: 7,
            totalSessions: 42, adReactions: [200, 9], adsToday: 3)
        let history = record.behaviourHistory
        let weekFactor = exp(3.5 / 7)
        let monthFactor = exp(3.5 / 30)
        let reactionFactor = exp(3.5 / 90)
        #expect(abs(history.adReactions.ads - 200 * reactionFactor) < 1e-12)
        #expect(abs(history.adReactions.reactions - 9 * reactionFactor) < 1e-12)
        #expect(history.lastVisit == 100)
        #expect(abs(history.week.sessions - 1 * weekFactor) < 1e-12)
        #expect(abs(history.week.negatives - 5 * weekFactor) < 1e-12)
        #expect(abs(history.month.ads - 30 * monthFactor) < 1e-12)
        #expect(history.recentDwell == 7)
        #expect(history.totalSessions == 42)
        #expect(UserRecord.new.behaviourHistory == BehaviourHistory())
        #expect(UserRecord(lastVisit: nil, lastUpdate: 5, week: [1, 1, 1, 1, 1]).behaviourHistory.lastVisit == nil)
    }

    @Test("tenure is derived from finished sessions: < 20 new, ≥ 500 veteran, else established")
    func tenureDerivation() {
        #expect(DecisionEngine.derivedTenure(totalSessions: 0) == "new")
        #expect(DecisionEngine.derivedTenure(totalSessions: 19) == "new")
        #expect(DecisionEngine.derivedTenure(totalSessions: 20) == "established")
        #expect(DecisionEngine.derivedTenure(totalSessions: 499) == "established")
        #expect(DecisionEngine.derivedTenure(totalSessions: 500) == "veteran")
    }

    @Test("every plan obeys the region's rules and has a probability in (0, 1]", arguments: ["default-linucb", "default-thompson", "default-softmax", "default-egreedy"])
    func plansObeyRules(policy: String) throws {
        let engine = try Fixtures.engine(policy)
        let rules = try Fixtures.rules()
        let records: [UserRecord?] = [
            nil,
            UserRecord(lastVisit: 20_000, lastUpdate: 20_000.2, week: [3, 60, 12, 1, 0], month: [9, 200, 40, 3, 1], recentDwell: 9, totalSessions: 25,
                       adReactions: [60, 1], adsToday: 4),
            UserRecord(lastVisit: 19_990, lastUpdate: 19_995, week: [1, 10, 5, 0, 3], month: [40, 900, 200, 5, 30], recentDwell: 3, totalSessions: 800,
                       adReactions: [500, 40], adsToday: 30),
        ]
        var count = 0
        for region in ["na", "eu", "apac"] {
            for feedLength in [1, 2, 3, 7, 20, 50, 137, 512] {
                for (index, record) in records.enumerated() {
                    for hour in [0, 13] {
                        let request = DecisionRequest(
                            userID: "u\(count)", sessionID: "s", region: region, device: hour == 0 ? "ios" : "android", hour: hour,
                            feedLength: feedLength)
                        let resolved = try engine.resolve(request)
                        let id = "\(count)-\(index)-0000000000000000"
                        for decision in [
                            engine.decide(resolved, record: record, decisionID: id, time: 20_000.5),
                            engine.decideFallback(resolved, decisionID: id, time: 20_000.5),
                        ] {
                            let plan = try AdPlan(positions: decision.adPositions)
                            let regionRules = try #require(rules[region])
                            #expect(regionRules.violation(of: plan, feedLength: feedLength, adsToday: record?.adsToday ?? 0) == nil)
                            #expect(decision.probability > 0 && decision.probability <= 1)
                            #expect(decision.entry.features.count == engine.schema.contextCount)
                            let spec = decision.plan
                            #expect(decision.entry.plan == [spec.first, spec.spacing, spec.maxAds])
                            // `chosen` indexes the list the catalog rebuilds from the logged key.
                            var offered: [CandidatePlan] = []
                            let adsToday = decision.fallback ? (regionRules.dailyCap ?? 0) : max(0, record?.adsToday ?? 0)
                            engine.catalog.candidates(
                                region: resolved.region, feedLength: feedLength, adsToday: adsToday, into: &offered)
                            #expect(offered.indices.contains(decision.entry.chosen))
                            #expect(offered.indices.contains(decision.entry.chosen) && offered[decision.entry.chosen].spec == spec)
                            #expect(decision.adPositions == decision.adPositions.sorted())
                        }
                        count += 1
                    }
                }
            }
        }
    }

    @Test("a decision is a pure function of request, record, id and time")
    func deterministic() throws {
        let engine = try Fixtures.engine("default-thompson")
        let resolved = try engine.resolve(DecisionRequest(userID: "u", sessionID: "s", region: "eu", device: "ios", hour: 9, feedLength: 80))
        let first = engine.decide(resolved, record: nil, decisionID: "abc-def-0123456789abcdef", time: 20_100)
        let again = try Fixtures.engine("default-thompson").decide(resolved, record: nil, decisionID: "abc-def-0123456789abcdef", time: 20_100)
        #expect(first.entry == again.entry)
        #expect(first.propensity == "estimated:100")
        let ids = (0..<50).map { "id-\($0)-0000000000000000" }
        let plans = Set(ids.map { engine.decide(resolved, record: nil, decisionID: $0, time: 20_100).adPositions })
        #expect(plans.count > 1, "Thompson sampling explores across decision ids")
    }

    @Test("the fallback is greedy, exact, flagged, and sees a new user")
    func fallback() throws {
        let engine = try Fixtures.engine()
        let resolved = try engine.resolve(DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 21, feedLength: 100))
        let decisions = (0..<20).map { engine.decideFallback(resolved, decisionID: "f-\($0)-0000000000000000", time: 20_000) }
        for decision in decisions {
            #expect(decision.fallback)
            #expect(decision.propensity == "exact")
            #expect(decision.probability == 1, "greedy with a unique argmax")
            #expect(decision.adPositions == decisions[0].adPositions)
            let newUser = try #require(engine.schema.contextNames.firstIndex(of: "new_user"))
            let tenureNew = try #require(engine.schema.contextNames.firstIndex(of: "tenure=new"))
            #expect(decision.entry.features[newUser] == 1)
            #expect(decision.entry.features[tenureNew] == 1)
        }
    }

    @Test("a policy with its own history features is served with them, and its entries name that layout")
    func ownHistoryFeatures() throws {
        let shipped = try LinearBanditPolicy.parse(try Fixtures.policyData("default-linucb"), file: "default-linucb", expectedSchema: Fixtures.schema)
        let schema = shipped.schema.with(history: HistoryFeature.allCases)
        let bandit = try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0.1))
        let file = LinearBanditPolicy(bandit: bandit, schema: schema, planFamily: shipped.planFamily, reward: shipped.reward, provenance: shipped.provenance)
        let engine = try DecisionEngine(
            blob: Data(try file.rendered().utf8), source: "all", version: "v-all", rules: try Fixtures.rules(), expectedSchema: Fixtures.schema)
        #expect(engine.schema.history == HistoryFeature.allCases)
        var record = UserRecord()
        record.lastVisit = 20_000
        record.lastUpdate = 20_000
        record.totalSessions = 30
        record.month = [10, 600, 40, 2, 1]
        record.recentDwell = 9
        let request = DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 8, feedLength: 80)
        let decision = engine.decide(try engine.resolve(request), record: record, decisionID: "d", time: 20_001)
        #expect(decision.entry.features.count == schema.contextCount)
        #expect(decision.entry.features[try #require(schema.contextNames.firstIndex(of: "recent_ctr"))] > 0)
        #expect(decision.entry.contextSchema == schema.contextFingerprint)
        let standard = try Fixtures.engine().decide(try engine.resolve(request), record: record, decisionID: "d", time: 20_001)
        #expect(standard.entry.contextSchema == shipped.schema.contextFingerprint && standard.entry.contextSchema != decision.entry.contextSchema)
    }

    @Test("a region with a daily cap gets no ads in the fallback")
    func fallbackRespectsDailyCap() throws {
        var rules = try Fixtures.rules()
        rules["na"] = try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.25, maxAdsPerSession: 40, dailyCap: 30)
        let engine = try DecisionEngine(policy: Fixtures.engine().policy, version: "capped", rules: rules)
        let resolved = try engine.resolve(DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 21, feedLength: 100))
        let decision = engine.decideFallback(resolved, decisionID: "x-y-0000000000000000", time: 20_000)
        #expect(decision.adPositions.isEmpty)
        #expect(decision.entry.adLimit == 0)
        let normal = engine.decide(resolved, record: UserRecord(adsToday: 28), decisionID: "x-y-0000000000000000", time: 20_000)
        #expect(normal.adPositions.count <= 2)
    }

    @Test("unknown names are rejected naming the field")
    func resolveRejects() throws {
        let engine = try Fixtures.engine()
        let good = DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 1, feedLength: 10)
        for (request, field) in [
            (DecisionRequest(userID: "u", sessionID: "s", region: "mars", device: "ios", hour: 1, feedLength: 10), "region"),
            (DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "tv", hour: 1, feedLength: 10), "device"),
            (DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 1, feedLength: 10, tenure: "ancient"), "tenure"),
            (DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 24, feedLength: 10), "hour"),
            (DecisionRequest(userID: "u", sessionID: "s", region: "na", device: "ios", hour: 1, feedLength: 513), "feed_length"),
        ] {
            #expect(throws: RequestError.self) { try engine.resolve(request) }
            do {
                _ = try engine.resolve(request)
            } catch {
                #expect(error.field == field)
                #expect(error.kind == .invalid)
            }
        }
        #expect(throws: Never.self) { try engine.resolve(good) }
    }

    @Test("an engine needs rules for every region")
    func missingRules() throws {
        var rules = try Fixtures.rules()
        rules["apac"] = nil
        let policy = try Fixtures.engine().policy
        #expect(throws: DecisionEngineError.self) { try DecisionEngine(policy: policy, version: "v", rules: rules) }
    }
}

@Suite("DecisionIDCodec")
struct DecisionIDCodecTests {
    @Test("ids verify for their user only")
    func verify() {
        let codec = DecisionIDCodec(secret: "s3cret")
        let id = codec.make(userID: "alice", timeMilliseconds: 1_748_779_200_123)
        #expect(codec.verify(id, userID: "alice"))
        #expect(!codec.verify(id, userID: "bob"))
        #expect(!DecisionIDCodec(secret: "other").verify(id, userID: "alice"))
        #expect(DecisionIDCodec.timeMilliseconds(of: id) == 1_748_779_200_123)
        let parts = id.split(separator: "-")
        #expect(parts.count == 3)
        #expect(parts[2].count == 16)
    }

    @Test("tampered and malformed ids do not verify")
    func tampered() {
        let codec = DecisionIDCodec(secret: "s3cret")
        let id = codec.make(userID: "alice", timeMilliseconds: 42)
        var flipped = Array(id)
        flipped[0] = flipped[0] == "1" ? "2" : "1"
        for bad in [String(flipped), id + "0", String(id.dropLast()), "", "-", "a-b-c", "abc", id.uppercased(), "x--0123456789abcdef"] {
            #expect(!codec.verify(bad, userID: "alice"), "\(bad)")
        }
    }

    @Test("ids are unique")
    func unique() {
        let codec = DecisionIDCodec(secret: "s")
        let ids = Set((0..<10_000).map { _ in codec.make(userID: "u", timeMilliseconds: 1) })
        #expect(ids.count == 10_000)
    }
}
