@testable import AdLoadCore
import Testing

/// An independent statement of the placement rules, written from their definitions, to
/// check ``PlacementTracker`` against.
func referenceViolation(_ positions: [Int], rules: PlacementRules, feedLength: Int, adsToday: Int) -> Bool {
    var count = 0
    var previous: Int?
    for position in positions.sorted() {
        count += 1
        if position < 1 || position > feedLength { return true }
        if position < rules.firstSlot { return true }
        if let previous, position - previous - 1 < rules.minGap { return true }
        if Double(count) / Double(position) > rules.maxShare + 1e-12 { return true }
        if count > rules.maxAdsPerSession { return true }
        if let cap = rules.dailyCap, adsToday + count > cap { return true }
        previous = position
    }
    return false
}

/// A small seeded generator for test inputs.
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return CounterRandom.mix(state)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

func randomRules(_ random: inout TestRandom) throws -> PlacementRules {
    try PlacementRules(
        firstSlot: random.int(1...6), minGap: random.int(0...5),
        maxShare: [0.05, 0.1, 0.2, 0.25, 0.333, 0.5, 1.0][random.int(0...6)],
        maxAdsPerSession: random.int(0...20), dailyCap: random.int(0...1) == 0 ? nil : random.int(0...30))
}

@Suite("Placement rules")
struct PlacementRulesTests {
    @Test("the tracker accepts exactly the plans the rules allow (5000 random plans)")
    func trackerMatchesReference() throws {
        var random = TestRandom(state: 11)
        var accepted = 0
        for _ in 0..<5000 {
            let rules = try randomRules(&random)
            let feedLength = random.int(1...120)
            let adsToday = random.int(0...10)
            // Mix sparse and dense plans so both outcomes are common.
            let density = random.unit() * 0.4
            let positions = (1...feedLength).filter { _ in random.unit() < density }
            let plan = try AdPlan(positions: positions)
            let violation = rules.violation(of: plan, feedLength: feedLength, adsToday: adsToday)
            let expected = referenceViolation(positions, rules: rules, feedLength: feedLength, adsToday: adsToday)
            #expect((violation != nil) == expected, "rules \(rules), plan \(positions), adsToday \(adsToday): \(String(describing: violation))")
            if violation == nil { accepted += 1 }
        }
        #expect(accepted > 500 && accepted < 4500, "the generator must exercise both outcomes, accepted \(accepted)")
    }

    @Test("cadence plans never break a rule, for any cadence including myopic")
    func cadencePlansAreValid() throws {
        var random = TestRandom(state: 12)
        for _ in 0..<3000 {
            let rules = try randomRules(&random)
            let feedLength = random.int(1...400)
            let adsToday = random.int(0...10)
            let every = random.int(0...30)
            let plan = rules.cadencePlan(every: every, feedLength: feedLength, adsToday: adsToday)
            #expect(!referenceViolation(plan.positions, rules: rules, feedLength: feedLength, adsToday: adsToday))
            #expect(rules.violation(of: plan, feedLength: feedLength, adsToday: adsToday) == nil)
        }
    }

    @Test("the share cap is checked on the running share: APAC's 10% puts the first ad at 10")
    func runningShareCap() throws {
        let apac = try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.10, maxAdsPerSession: 40, dailyCap: nil)
        #expect(apac.cadencePlan(every: 0, feedLength: 45, adsToday: 0).positions == [10, 20, 30, 40])
        let na = try PlacementRules(firstSlot: 2, minGap: 2, maxShare: 0.25, maxAdsPerSession: 40, dailyCap: nil)
        #expect(na.cadencePlan(every: 0, feedLength: 16, adsToday: 0).positions == [4, 8, 12, 16])
        // A cadence puts its first ad after its first K organic items (ENVMODEL.md), not at the first allowed slot.
        #expect(na.cadencePlan(every: 5, feedLength: 20, adsToday: 0).positions == [6, 12, 18])
        // ... unless the rules forbid it there: APAC's share cap moves an ad due at 4 to 10.
        #expect(apac.cadencePlan(every: 3, feedLength: 30, adsToday: 0).positions == [10, 20, 30])
        #expect(na.violation(of: try AdPlan(positions: [3]), feedLength: 20, adsToday: 0)
            == .shareExceeded(position: 3, ads: 1, maxShare: 0.25))
    }

    @Test("gap, first slot, session and daily caps each name the rule broken")
    func violationsNameTheRule() throws {
        let rules = try PlacementRules(firstSlot: 3, minGap: 2, maxShare: 1, maxAdsPerSession: 2, dailyCap: 5)
        #expect(rules.violation(of: try AdPlan(positions: [2]), feedLength: 10, adsToday: 0) == .beforeFirstSlot(position: 2, firstSlot: 3))
        #expect(rules.violation(of: try AdPlan(positions: [3, 5]), feedLength: 10, adsToday: 0) == .gapTooSmall(position: 5, gap: 1, minGap: 2))
        #expect(rules.violation(of: try AdPlan(positions: [3, 6, 9]), feedLength: 10, adsToday: 0) == .sessionCapExceeded(position: 9, maxAds: 2))
        #expect(rules.violation(of: try AdPlan(positions: [3, 6]), feedLength: 10, adsToday: 4) == .dailyCapExceeded(position: 6, dailyCap: 5))
        #expect(rules.violation(of: try AdPlan(positions: [12]), feedLength: 10, adsToday: 0) == .positionOutOfRange(position: 12, feedLength: 10))
        #expect(rules.violation(of: AdPlan(), feedLength: 10, adsToday: 5) == nil, "zero ads is always a valid plan")
    }

    @Test("nonsensical rule values are rejected with the field named")
    func invalidRules() {
        #expect(throws: RulesError.invalid(field: "max_ad_share", value: "1.5", expected: "a fraction in (0, 1]")) {
            try PlacementRules(firstSlot: 1, minGap: 0, maxShare: 1.5, maxAdsPerSession: 1, dailyCap: nil)
        }
        #expect(throws: RulesError.self) { try PlacementRules(firstSlot: 0, minGap: 0, maxShare: 0.5, maxAdsPerSession: 1, dailyCap: nil) }
        #expect(throws: RulesError.self) { try PlacementRules(firstSlot: 1, minGap: -1, maxShare: 0.5, maxAdsPerSession: 1, dailyCap: nil) }
        #expect(throws: RulesError.self) { try PlacementRules(firstSlot: 1, minGap: 0, maxShare: 0.5, maxAdsPerSession: 1, dailyCap: -2) }
    }
}

@Suite("Ad plans")
struct AdPlanTests {
    @Test("a plan holds exactly the positions put in it, in order")
    func roundTrip() throws {
        var random = TestRandom(state: 3)
        for _ in 0..<200 {
            let positions = Set((0..<random.int(0...40)).map { _ in random.int(1...AdPlan.maxPosition) })
            let plan = try AdPlan(positions: positions)
            #expect(plan.positions == positions.sorted())
            #expect(plan.count == positions.count)
            for position in 1...AdPlan.maxPosition { #expect(plan.contains(position) == positions.contains(position)) }
        }
    }

    @Test("positions outside 1...512 are rejected")
    func outOfRange() {
        #expect(throws: PlacementViolation.positionOutOfRange(position: 0, feedLength: 512)) { try AdPlan(positions: [0]) }
        #expect(throws: PlacementViolation.positionOutOfRange(position: 513, feedLength: 512)) { try AdPlan(positions: [5, 513]) }
    }
}
