import AdLoadCore
import Foundation

/// Logged decisions in a tool-neutral form for off-policy evaluation
/// (`adload evaluate --format generic`, docs/interop.md): one JSON object per line with the
/// logged action's `reward`, its logging `propensity` μ(a|x) and the target's
/// `target_probability` π(a|x), as Open Bandit Pipeline's estimators take them
/// (`reward`, `pscore`, the target's `action_dist`). Optionally `action` (the logged
/// action's index), `target_distribution` (π(k|x) for every action) and `predictions` (a
/// reward model's q̂(x, k) for every action, OBP's `estimated_rewards_by_reg_model`), which
/// DM, DR and switch-DR need: either every line has them or none does.
package struct GenericLog: Sendable {
    /// The decisions, with zero predictions when the log has none.
    package var decisions: [LoggedDecision] = []
    /// Whether the lines carry predictions (DM, DR and switch-DR can be computed).
    package var hasPredictions = false
    /// The logging policy's mean reward.
    package var loggedValue: Double {
        decisions.isEmpty ? 0 : decisions.reduce(0) { $0 + $1.reward } / Double(decisions.count)
    }

    /// The estimators a log of this kind supports, by report name.
    package var estimatorNames: Set<String> {
        hasPredictions ? Set(OffPolicyEstimator.all().map(\.name)) : ["IPS", "SNIPS"]
    }

    package init() {}

    /// Reads every file of `paths` in order.
    /// - Throws: ``DecisionLogError`` naming the file and line of the first bad row.
    package static func read(paths: [String]) throws(DecisionLogError) -> GenericLog {
        var log = GenericLog()
        var sawPredictions: Bool?
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { throw .cannotRead(path: path) }
            var number = 0
            for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
                number += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                do throws(LineProblem) {
                    let (decision, predicted) = try row(Data(line))
                    if let sawPredictions, sawPredictions != predicted {
                        throw LineProblem("predictions on some lines and not on others: give them on every line or none")
                    }
                    sawPredictions = predicted
                    log.decisions.append(decision)
                } catch {
                    throw .badRecord(path: path, line: number, problem: error.message)
                }
            }
        }
        guard !log.decisions.isEmpty else { throw .empty(path: paths.joined(separator: ", ")) }
        log.hasPredictions = sawPredictions ?? false
        return log
    }

    /// One line as a decision, and whether it had predictions.
    static func row(_ line: Data) throws(LineProblem) -> (LoggedDecision, Bool) {
        let fields: [String: JSONValue]
        do {
            guard case let .object(object) = try JSONValue.parse(line, file: "line") else { throw LineProblem("a row is a JSON object") }
            fields = object
        } catch let problem as LineProblem {
            throw problem
        } catch {
            throw LineProblem("not valid JSON")
        }
        let allowed: Set<String> = ["reward", "propensity", "target_probability", "action", "target_distribution", "predictions"]
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw LineProblem("unknown key '\(unknown)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        func number(_ key: String) throws(LineProblem) -> Double? {
            guard let value = fields[key] else { return nil }
            guard case let .number(number) = value, number.isFinite else { throw LineProblem("\(key) must be a finite number, got \(value.summary)") }
            return number
        }
        func numbers(_ key: String) throws(LineProblem) -> [Double]? {
            guard let value = fields[key] else { return nil }
            guard case let .array(items) = value else { throw LineProblem("\(key) must be an array of numbers, got \(value.summary)") }
            var result: [Double] = []
            for item in items {
                guard case let .number(number) = item, number.isFinite else { throw LineProblem("\(key) must hold finite numbers, got \(item.summary)") }
                result.append(number)
            }
            return result
        }
        guard let reward = try number("reward") else { throw LineProblem("missing key 'reward'") }
        guard let propensity = try number("propensity") else { throw LineProblem("missing key 'propensity'") }
        guard propensity > 0 && propensity <= 1 else { throw LineProblem("propensity = \(propensity) is outside (0, 1]") }
        let distribution = try numbers("target_distribution")
        let predictions = try numbers("predictions")
        var action: Int?
        if let value = try number("action") {
            guard value == value.rounded(), value >= 0, value < 1e9 else { throw LineProblem("action must be a non-negative integer below 10^9, got \(value)") }
            action = Int(value)
        }
        var targetProbability = try number("target_probability")
        if let distribution {
            guard let action, distribution.indices.contains(action) else {
                throw LineProblem("target_distribution needs action, an index of its \(distribution.count) entries")
            }
            guard distribution.allSatisfy({ $0 >= 0 }), abs(distribution.reduce(0, +) - 1) <= 1e-6 else {
                throw LineProblem("target_distribution must be non-negative and sum to 1, sums to \(distribution.reduce(0, +))")
            }
            if let given = targetProbability, abs(given - distribution[action]) > 1e-9 {
                throw LineProblem("target_probability = \(given) but target_distribution[action] = \(distribution[action])")
            }
            targetProbability = distribution[action]
        }
        guard let probability = targetProbability else {
            throw LineProblem("missing key 'target_probability' (or target_distribution with action)")
        }
        guard probability >= 0 && probability <= 1 else { throw LineProblem("target_probability = \(probability) is outside [0, 1]") }
        guard let predictions else { return (LoggedDecision(reward: reward, loggingPropensity: propensity, targetProbability: probability), false) }
        guard let distribution, let action, predictions.count == distribution.count else {
            throw LineProblem("predictions need target_distribution and action, with one prediction per entry of target_distribution")
        }
        let expected = zip(distribution, predictions).reduce(0) { $0 + $1.0 * $1.1 }
        return (LoggedDecision(
            reward: reward, loggingPropensity: propensity, targetProbability: probability, predictedLogged: predictions[action],
            predictedTarget: expected), true)
    }
}
