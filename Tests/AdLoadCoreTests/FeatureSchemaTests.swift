@testable import AdLoadCore
import Foundation
import Testing

@Suite("Feature schema: history features")
struct FeatureSchemaTests {
    static let schema = FeatureSchema(regions: ["apac", "eu", "na"], devices: ["android", "ios"], tenures: ["established", "new", "veteran"])

    static func context(_ history: BehaviourHistory, time: Double) throws -> DecisionContext {
        DecisionContext(
            region: 1, device: 1, tenure: 2, hour: 6, time: time, adsToday: 0, feedLength: 100,
            rules: try PlacementRules(firstSlot: 3, minGap: 2, maxShare: 0.2, maxAdsPerSession: 20, dailyCap: nil), history: history)
    }

    @Test("the standard history features are the ones the shipped policies were trained with")
    func standardNames() throws {
        #expect(Self.schema.contextNames.suffix(6) == [
            "new_user", "log_days_since_visit", "log_sessions_week", "items_per_session", "recent_ad_share", "ad_aversion",
        ])
        let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("policies")
        let files = try FileManager.default.contentsOfDirectory(atPath: policies.path).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 8)
        for name in files {
            let shipped = try JSONSerialization.jsonObject(with: Data(contentsOf: policies.appendingPathComponent(name))) as? [String: Any]
            let schema = shipped?["feature_schema"] as? [String: Any]
            #expect((schema?["context"] as? [String])?.suffix(6) == Self.schema.contextNames.suffix(6), "\(name)")
        }
        // Logs and stream entries carry this value: it must not change for the standard layout.
        let hex = String(Self.referenceFNV(Self.schema.contextNames.joined(separator: ",")), radix: 16)
        #expect(Self.schema.contextFingerprint == "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// FNV-1a 64 written out from its definition.
    static func referenceFNV(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    @Test("every history feature is encoded from its definition, in the schema's order")
    func allFeatures() throws {
        var history = BehaviourHistory()
        history.record(time: 10, items: 60, ads: 40, clicks: 2, negatives: 1, dwell: 600, endedOnAd: false)
        let schema = Self.schema.with(history: HistoryFeature.allCases)
        #expect(schema.contextCount == Self.schema.contextCount + 3)
        let c = schema.contextFeatures(try Self.context(history, time: 10))
        let values = Dictionary(uniqueKeysWithValues: zip(schema.contextNames, c))
        let expected: [String: Double] = [
            "new_user": 0, "log_days_since_visit": 0, "log_sessions_week": log(2), "items_per_session": 0.6,
            "recent_ad_share": 4, "recent_ctr": 2.0 / 40 * 50, "recent_negative_rate": 1.0 / 40 * 50, "recent_dwell": 10.0 / 30,
            "ad_aversion": log(5.0 / 140) - log(0.04),
        ]
        for (name, value) in expected {
            #expect(abs((values[name] ?? .nan) - value) < 1e-12, "\(name): \(values[name] ?? .nan) vs \(value)")
        }

        let reordered = Self.schema.with(history: [.adAversion, .recentCTR])
        let short = reordered.contextFeatures(try Self.context(history, time: 10))
        #expect(Array(short.suffix(2)) == [values["ad_aversion"], values["recent_ctr"]])
        #expect(reordered.contextFingerprint != schema.contextFingerprint && reordered.contextFingerprint.hasPrefix("fnv1a64:"))

        // 3.5 days later: the visit-dependent features move, the 30-day rates do not.
        let later = Dictionary(uniqueKeysWithValues: zip(schema.contextNames, schema.contextFeatures(try Self.context(history, time: 13.5))))
        #expect(abs((later["log_days_since_visit"] ?? .nan) - log(4.5)) < 1e-12)
        #expect(abs((later["log_sessions_week"] ?? .nan) - log1p(exp(-3.5 / 7))) < 1e-12)
        #expect(later["recent_ctr"] == values["recent_ctr"] && later["ad_aversion"] == values["ad_aversion"])

        let newcomer = schema.contextFeatures(try Self.context(BehaviourHistory(), time: 10))
        #expect(Array(newcomer.suffix(HistoryFeature.allCases.count)) == [1, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("history feature lists parse by name; unknown and repeated names are named in the error")
    func parsing() throws {
        #expect(try HistoryFeature.parseList("standard") == HistoryFeature.standard)
        #expect(try HistoryFeature.parseList("all") == HistoryFeature.allCases)
        #expect(try HistoryFeature.parseList("ad_aversion, recent_ctr") == [.adAversion, .recentCTR])
        let unknown = try #require(throws: HistoryFeatureError.self) { try HistoryFeature.parseList("ad_aversion,lifetime_ctr") }
        #expect(unknown.description.contains("\"lifetime_ctr\"") && unknown.description.contains("recent_dwell"))
        let twice = try #require(throws: HistoryFeatureError.self) { try HistoryFeature.parseList("recent_ctr,recent_ctr") }
        #expect(twice.description.contains("listed twice"))
    }
}
