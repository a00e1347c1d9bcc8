import AdLoadCore
import Foundation
@testable import Simulation
import Testing

@Suite("Environment files")
struct EnvironmentConfigTests {
    @Test("both shipped presets load, with regions na, eu, apac and their share caps")
    func shippedPresetsLoad() throws {
        for name in ["default", "field-calibrated"] {
            let config = try shippedEnvironment(name)
            #expect(config.name == name)
            let caps = Dictionary(uniqueKeysWithValues: config.regions.map { ($0.name, $0.rules.maxShare) })
            #expect(caps == ["na": 0.25, "eu": 0.20, "apac": 0.10])
            #expect(config.regions.allSatisfy { $0.rules.firstSlot == 2 && $0.rules.minGap == 2 })
        }
        let field = try shippedEnvironment("field-calibrated")
        #expect(field.returns.returnSatisfaction == 0.5 && field.returns.churnSatisfaction == 1.5)
    }

    /// Loads the default preset with one edit made to its JSON text, returning the error line.
    func error(editing edit: (inout [String: Any]) -> Void) throws -> String? {
        let url = packageRoot.appendingPathComponent("env/default.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&object)
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            _ = try EnvironmentConfig.parse(data, file: "env/edited.json")
            return nil
        } catch {
            return error.description
        }
    }

    func nested(_ object: inout [String: Any], _ section: String, _ key: String, _ value: Any?) {
        var inner = object[section] as? [String: Any] ?? [:]
        inner[key] = value
        object[section] = inner
    }

    @Test("the optional training key: the field-calibrated preset's settings, the standard ones without it, a bad teacher named, and no change to the fingerprint")
    func trainingSettings() throws {
        let calibrated = try shippedEnvironment("field-calibrated")
        #expect(calibrated.training == TrainingSettings(
            teacher: "best-plan", lambda: 1, reward: ["items": 0.0002, "negatives": 0.005, "returned": 0.01, "load_squared": 0],
            policyGradientAdvantages: .paired))
        #expect(try shippedEnvironment("default").training == .standard)
        let message = try #require(try error { $0["training"] = ["teacher": "ppo", "lambda": NSNull(), "reward": [String: Double](), "pg_advantages": "paired"] })
        #expect(message.hasPrefix("env/edited.json: key 'training.teacher' has value \"ppo\": expected one of linucb, thompson, egreedy, softmax, best-plan"), "\(message)")
        let advantages = try #require(try error {
            $0["training"] = ["teacher": "thompson", "lambda": NSNull(), "reward": [String: Double](), "pg_advantages": "vine"]
        })
        #expect(advantages.hasPrefix("env/edited.json: key 'training.pg_advantages' has value \"vine\": expected one of branches, paired"), "\(advantages)")
        let url = packageRoot.appendingPathComponent("env/field-calibrated.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        object.removeValue(forKey: "training")
        let without = try EnvironmentConfig.parse(try JSONSerialization.data(withJSONObject: object), file: "env/without.json")
        #expect(without.fingerprint == calibrated.fingerprint, "training settings do not change what the environment does")
        #expect(without.training == .standard)
    }

    @Test("malformed JSON names the file and says where")
    func badJSON() throws {
        do {
            _ = try EnvironmentConfig.parse(Data("{\"name\": \"x\",, }".utf8), file: "env/broken.json")
            Issue.record("bad JSON was accepted")
        } catch {
            #expect(error.description.hasPrefix("env/broken.json is not valid JSON"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("an unknown key is rejected with its path and value")
    func unknownKey() throws {
        let message = try #require(try error { nested(&$0, "dynamics", "fatigue_decy", 0.85) })
        #expect(message.hasPrefix("env/edited.json: key 'dynamics.fatigue_decy' has value 0.85: unknown key"), "\(message)")
    }

    @Test("a negative rate is out of range, with key and value named")
    func negativeRate() throws {
        let message = try #require(try error { nested(&$0, "dynamics", "blindness_per_ad", -0.001) })
        #expect(message == "env/edited.json: key 'dynamics.blindness_per_ad' has value -0.001: out of range, expected a number in [0, 1]")
        let visit = try #require(try error { nested(&$0, "latent", "visit_rate", -2) })
        #expect(visit.hasPrefix("env/edited.json: key 'latent.visit_rate' has value -2: out of range"))
    }

    @Test("a value of the wrong type is rejected")
    func wrongType() throws {
        let message = try #require(try error { nested(&$0, "latent", "base_ctr", "1.2%") })
        #expect(message == "env/edited.json: key 'latent.base_ctr' has value \"1.2%\": expected a number, found a string")
        let integer = try #require(try error { nested(&$0, "session", "max_items", 40.5) })
        #expect(integer.contains("'session.max_items' has value 40.5: expected an integer"))
        let flag = try #require(try error { nested(&$0, "objective", "expected_revenue", 1) })
        #expect(flag.contains("'objective.expected_revenue' has value 1: expected a boolean"))
    }

    @Test("a missing key, a bad region rule and shares that do not sum to 1 are each named")
    func missingAndInconsistent() throws {
        let missing = try #require(try error { nested(&$0, "returns", "churn_base", nil) })
        #expect(missing == "env/edited.json: key 'returns.churn_base' is missing")
        let rule = try #require(try error { object in
            var regions = object["regions"] as? [String: Any] ?? [:]
            var eu = regions["eu"] as? [String: Any] ?? [:]
            var rules = eu["rules"] as? [String: Any] ?? [:]
            rules["max_ad_share"] = 0
            eu["rules"] = rules
            regions["eu"] = eu
            object["regions"] = regions
        })
        #expect(rule.contains("'regions.eu.rules.max_ad_share' has value 0"), "\(rule)")
        let shares = try #require(try error { object in
            var devices = object["devices"] as? [String: Any] ?? [:]
            var ios = devices["ios"] as? [String: Any] ?? [:]
            ios["population_share"] = 0.9
            devices["ios"] = ios
            object["devices"] = devices
        })
        #expect(shares.contains("devices.*.population_share") && shares.contains("must sum to 1"), "\(shares)")
        let hours = try #require(try error { nested(&$0, "hours", "ad_value", [1.0, 2.0]) })
        #expect(hours.contains("'hours.ad_value'") && hours.contains("exactly 24"))
    }

    @Test("a missing file is a one-line error naming it")
    func missingFile() {
        #expect(throws: ConfigError.self) { try EnvironmentConfig.load(path: "/nonexistent/env.json") }
        do {
            _ = try EnvironmentConfig.load(path: "/nonexistent/env.json")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/env.json cannot be read"))
        }
    }
}
