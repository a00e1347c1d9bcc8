import AdLoadCore
import Foundation

/// Our decision logs in other tools' formats (`adload export`, docs/interop.md).
package enum LogExport {
    /// The formats `adload export` writes.
    package enum Format: String, Sendable, CaseIterable {
        /// Vowpal Wabbit's DSJSON for `--cb_explore_adf --dsjson`: one line per decision.
        case vwDSJSON = "vw-dsjson"
        /// One CSV row per decision, for pandas and spreadsheets.
        case csv
        /// `evaluate --format generic`'s rows for a target policy (needs `--policy`).
        case generic
    }

    /// One decision as VW `cb_explore_adf` DSJSON: the context's features in the shared
    /// namespace `Context` (named by `contextNames`), one `_multi` example per valid plan
    /// with its descriptors (namespace `Plan`) and its spec (namespace `Spec`), and the
    /// label on the chosen plan: cost −reward, its logged probability, its 1-based action
    /// id and its index.
    package static func dsjson(_ record: LoggedRecord, contextNames: [String]) -> String {
        var writer = JSONWriter(capacity: 512 + 160 * record.candidates.count)
        writer.beginObject()
        writer.key("_label_cost")
        writer.number(record.reward == 0 ? 0 : -record.reward)
        writer.key("_label_probability")
        writer.number(record.probability)
        writer.key("_label_Action")
        writer.integer(record.chosen + 1)
        writer.key("_labelIndex")
        writer.integer(record.chosen)
        writer.key("Version")
        writer.string("1")
        writer.key("EventId")
        writer.string(record.decisionID)
        writer.key("a")
        writer.integers([record.chosen + 1] + record.candidates.indices.filter { $0 != record.chosen }.map { $0 + 1 })
        writer.key("c")
        writer.beginObject()
        writer.key("Context")
        writer.beginObject()
        for (name, value) in zip(contextNames, record.features) {
            writer.dynamicKey(name)
            writer.number(value)
        }
        writer.endObject()
        writer.key("_multi")
        writer.byte(UInt8(ascii: "["))
        for (index, candidate) in record.candidatePlans().enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.beginObject()
            writer.key("Plan")
            writer.beginObject()
            for (name, k) in zip(PlanDescriptors.names, 0..<PlanDescriptors.count) {
                writer.dynamicKey(name)
                writer.number(candidate.descriptors.values[k])
            }
            writer.endObject()
            writer.key("Spec")
            writer.beginObject()
            writer.key("first")
            writer.integer(candidate.spec.first)
            writer.key("every")
            writer.integer(candidate.spec.spacing)
            writer.key("max")
            writer.integer(candidate.spec.maxAds)
            writer.endObject()
            writer.endObject()
        }
        writer.byte(UInt8(ascii: "]"))
        writer.endObject()
        writer.endObject()
        return writer.text
    }

    /// The CSV header: the decision's fields, its outcome, the pacing prices it used (empty
    /// at the defaults), then one column per context feature.
    package static func csvHeader(contextNames: [String]) -> String {
        (["decision_id", "policy", "policy_version", "region", "device", "tenure", "hour", "ads_today", "feed_length", "ad_limit",
          "candidates", "chosen", "first", "every", "max", "probability", "propensity", "reward", "items", "ads", "clicks",
          "negatives", "dwell", "revenue", "churned", "price:revenue", "price:impressions", "price:negatives", "price:organic"]
            + contextNames.map { "feature:" + $0 }).map(csvField).joined(separator: ",")
    }

    /// One decision as a CSV row (``csvHeader(contextNames:)``'s columns).
    package static func csvRow(_ record: LoggedRecord) -> String {
        let chosen = record.candidates[record.chosen]
        let outcome = record.outcome
        let number = JSONNumber.json
        let fields: [String] = [
            record.decisionID, record.policy, record.policyVersion, record.region, record.device, record.tenure, "\(record.hour)",
            "\(record.adsToday)", "\(record.feedLength)", "\(record.adLimit)", "\(record.candidates.count)", "\(record.chosen)",
            "\(chosen.first)", "\(chosen.every)", "\(chosen.max)", number(record.probability), record.propensity, number(record.reward),
            "\(outcome.items)", "\(outcome.ads)", "\(outcome.clicks)", "\(outcome.negatives)", number(outcome.dwell), number(outcome.revenue),
            outcome.churned ? "true" : "false",
        ] + (record.prices.map { $0.map(number) } ?? ["", "", "", ""]) + record.features.map(number)
        return fields.map(csvField).joined(separator: ",")
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Every decision of `evaluation` as a `GenericLog` row: reward, logging propensity, the
    /// logged action's index, the target's distribution over the valid plans and the reward
    /// model's prediction for each (what ``PolicyEvaluation`` computed for them).
    package static func genericRows(_ evaluation: PolicyEvaluation, records: [LoggedRecord]) -> [String] {
        records.indices.map { index in
            let record = records[index]
            var writer = JSONWriter(capacity: 64 + 48 * record.candidates.count)
            writer.beginObject()
            writer.key("reward")
            writer.number(record.reward)
            writer.key("propensity")
            writer.number(record.probability)
            writer.key("action")
            writer.integer(record.chosen)
            writer.key("target_probability")
            writer.number(evaluation.decisions[index].targetProbability)
            writer.key("target_distribution")
            writer.numbers(evaluation.targetProbabilities[index])
            writer.key("predictions")
            writer.numbers(record.candidatePlans().map {
                evaluation.rewardModel.predict(FeatureSchema.kronecker(context: record.features, descriptors: $0.descriptors))
            })
            writer.endObject()
            return writer.text
        }
    }
}
