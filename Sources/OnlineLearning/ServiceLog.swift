import AdLoadCore
import Foundation
import StateStore
import Training

/// The service's own recent decisions, read back from the decision and feedback streams
/// and joined as the online learner joins them (feedback of the decision, the user's
/// return within the reward window), as the logged records an off-policy estimator reads:
/// the evidence `adload policy promote` weighs a candidate on.
package struct ServiceLog: Sendable {
    /// The joined decisions whose reward window has closed, oldest first.
    package var records: [LoggedRecord] = []
    /// Decisions read from the stream.
    package var read = 0
    /// Lines of decision entries that do not parse as decisions.
    package var unreadable = 0
    /// Decisions whose reward window is still open (newer than the newest decision minus the window).
    package var stillOpen = 0
    /// Decisions whose plan is not among the valid plans the rules give now (rules or the
    /// plan family changed since), or of an unknown region.
    package var unmatched = 0
    /// Joined decisions that got no feedback (their reward is the default).
    package var withoutFeedback = 0
    /// Joined decisions per serving policy version.
    package var versions: [String: Int] = [:]

    /// Feedback written up to this long before the oldest decision is read too: the
    /// service writes decisions in batches, so a decision's entry can follow its feedback's.
    static let feedbackLeadMilliseconds = 60_000
    /// Entries per stream read.
    static let page = 2_000

    /// Reads the newest `count` decisions and the feedback after them from `store`.
    /// - Parameters:
    ///   - catalog: The valid plans per region (the serving policy's family under the
    ///     service's rules); a decision's candidates are rebuilt from it.
    ///   - regions: Region names in the catalog's order.
    ///   - weights: The reward weights the decisions' rewards are computed with.
    ///   - windowDays: The reward window (days of event time), as `adload learn --window-days`.
    ///   - defaultReward: The reward of a decision without feedback.
    package static func read(
        store: any LiveStore, count: Int, catalog: PlanCatalog, regions: [String], weights: RewardWeights, windowDays: Double,
        defaultReward: Double = 0
    ) async throws(StoreError) -> ServiceLog {
        var log = ServiceLog()
        // Pages of entries, newest first, until they hold `count` decisions (an entry holds
        // up to DecisionStreamFormat.decisionsPerEntry); the oldest extra ones are dropped.
        var streamEntries: [StreamEntry] = []
        var lines: [Substring] = []
        while lines.count < count {
            let older = try await store.latestEntries(.decisions, before: streamEntries.first?.id, count: min(page, count - lines.count))
            if older.isEmpty { break }
            streamEntries.insert(contentsOf: older, at: 0)
            lines.insert(contentsOf: older.flatMap { $0.fields["d"].map(DecisionStreamFormat.decisions(inField:)) ?? [""] }, at: 0)
        }
        lines = Array(lines.suffix(count))
        log.read = lines.count
        let decoder = JSONDecoder()
        var decisions: [DecisionEntry] = []
        var written = Set<String>()
        for line in lines {
            guard let entry = try? decoder.decode(DecisionEntry.self, from: Data(line.utf8)),
                  entry.prices.map({ $0.count == 4 && $0.allSatisfy { $0.isFinite && $0 >= 0 } }) ?? true else {
                log.unreadable += 1
                continue
            }
            // A decision written again by a retried write is learned once.
            guard written.insert(entry.decisionID).inserted else { continue }
            decisions.append(entry)
        }
        guard let oldest = streamEntries.first else { return log }
        var tallies: [String: SessionTally] = [:]
        var countedFeedback = Set<String>()
        for entry in decisions { tallies[entry.decisionID] = SessionTally() }
        var after = Self.idBefore(oldest.id, milliseconds: feedbackLeadMilliseconds)
        while true {
            let feedback = try await store.entries(.feedback, after: after, count: page)
            for entry in feedback {
                guard let id = entry.fields["decision_id"], tallies[id] != nil else { continue }
                // Feedback streamed again from a Redis Cluster outbox repeats its `seq`: count it once.
                if let sequence = entry.fields["seq"], !countedFeedback.insert(id + " " + sequence).inserted { continue }
                tallies[id]?.add(events: entry.fields["events"] ?? "")
            }
            guard feedback.count == page, let last = feedback.last else { break }
            after = last.id
        }
        let byUser = Dictionary(grouping: decisions.indices, by: { decisions[$0].userID })
        for indices in byUser.values {
            let ordered = indices.sorted { decisions[$0].time < decisions[$1].time }
            for (current, next) in zip(ordered, ordered.dropFirst()) where decisions[next].time - decisions[current].time <= windowDays {
                tallies[decisions[current].decisionID]?.returned = true
            }
        }
        let frontier = decisions.map(\.time).max() ?? 0
        var candidates: [CandidatePlan] = []
        for entry in decisions {
            guard entry.time + windowDays <= frontier else {
                log.stillOpen += 1
                continue
            }
            guard let region = regions.firstIndex(of: entry.region), entry.plan.count == 3 else {
                log.unmatched += 1
                continue
            }
            catalog.candidates(region: region, feedLength: entry.feedLength, adsToday: 0, maxAds: entry.adLimit, into: &candidates)
            let spec = PlanSpec(first: entry.plan[0], spacing: entry.plan[1], maxAds: entry.plan[2])
            let chosen = candidates.indices.contains(entry.chosen) && candidates[entry.chosen].spec == spec
                ? entry.chosen : candidates.firstIndex { $0.spec == spec }
            guard let chosen else {
                log.unmatched += 1
                continue
            }
            let tally = tallies[entry.decisionID] ?? SessionTally()
            if !tally.sawFeedback { log.withoutFeedback += 1 }
            log.versions[entry.policyVersion, default: 0] += 1
            log.records.append(LoggedRecord(
                decisionID: entry.decisionID, policy: "service", policyVersion: entry.policyVersion, region: entry.region, device: "",
                tenure: "", hour: 0, adsToday: 0, feedLength: entry.feedLength, adLimit: entry.adLimit, features: entry.features,
                candidates: candidates.map { LoggedRecord.Candidate($0.spec) }, chosen: chosen, adPositions: entry.adPositions,
                probability: entry.probability, propensity: entry.propensity,
                outcome: LoggedRecord.Outcome(
                    items: tally.items, ads: tally.impressions, clicks: tally.clicks, negatives: tally.negatives, revenue: tally.revenue),
                reward: tally.reward(weights: weights, plan: candidates[chosen].plan, defaultReward: defaultReward),
                rewardWeights: weights.dictionary, sim: nil, contextSchema: entry.contextSchema, prices: entry.prices))
        }
        return log
    }

    /// A stream id `milliseconds` before `id` (ids are `<ms>-<seq>`), for an exclusive range start.
    static func idBefore(_ id: String, milliseconds: Int) -> String {
        guard let dash = id.firstIndex(of: "-"), let time = Int(id[..<dash]), time > milliseconds else { return "0" }
        return "\(time - milliseconds)-0"
    }
}
