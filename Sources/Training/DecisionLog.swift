import AdLoadCore
import Foundation
import Simulation

/// One logged decision: what the policy saw, the plans it could choose, what it chose and
/// with which probability, and what followed. One JSON object per line (JSON Lines).
///
/// The `sim` block is the simulator's ground truth at the decision (latent state
/// included); it is present only in logs written by the simulator and lets
/// `adload evaluate --env` compute a target policy's true value on the logged contexts.
package struct LoggedRecord: Sendable, Codable, Equatable {
    /// A candidate plan as its family parameters.
    package struct Candidate: Sendable, Codable, Equatable {
        package var first: Int
        package var every: Int
        package var max: Int

        package init(_ spec: PlanSpec) {
            first = spec.first
            every = spec.spacing
            max = spec.maxAds
        }

        package var spec: PlanSpec { PlanSpec(first: first, spacing: every, maxAds: max) }
    }

    /// What followed the decision.
    package struct Outcome: Sendable, Codable, Equatable {
        package var items: Int
        package var ads: Int
        package var clicks: Int
        package var negatives: Int
        package var dwell: Double
        package var revenue: Double
        package var churned: Bool
        /// Days to the next session; `nil` after churn.
        var gapDays: Double?

        enum CodingKeys: String, CodingKey {
            case items, ads, clicks, negatives, dwell, revenue, churned
            case gapDays = "gap_days"
        }

        /// An outcome from counts (feedback joined to a decision; no next-session gap known).
        package init(items: Int, ads: Int, clicks: Int, negatives: Int, revenue: Double) {
            self.items = items
            self.ads = ads
            self.clicks = clicks
            self.negatives = negatives
            dwell = 0
            self.revenue = revenue
            churned = false
            gapDays = nil
        }

        package init(_ outcome: SessionOutcome) {
            items = outcome.items
            ads = outcome.ads
            clicks = outcome.clicks
            negatives = outcome.negatives
            dwell = outcome.dwell
            revenue = outcome.revenue
            churned = outcome.churned
            gapDays = outcome.gapToNext.isFinite ? outcome.gapToNext : nil
        }
    }

    package var decisionID: String
    package var policy: String
    package var policyVersion: String
    package var region: String
    package var device: String
    package var tenure: String
    package var hour: Int
    package var adsToday: Int
    package var feedLength: Int
    /// The most ads any plan could hold in this session (session cap and daily cap).
    package var adLimit: Int
    /// Context features c, in the order of the policy's feature schema.
    package var features: [Double]
    /// ``FeatureSchema/contextFingerprint`` of the layout of `features`; `nil` in logs
    /// written before it was recorded, which all used the standard history features.
    package var contextSchema: String?
    /// The valid plans offered to the policy, in order.
    package var candidates: [Candidate]
    /// Index of the chosen plan in `candidates`.
    package var chosen: Int
    package var adPositions: [Int]
    /// Probability with which the chosen plan was drawn (the propensity).
    package var probability: Double
    /// "exact", or "estimated:N" for N posterior samples.
    package var propensity: String
    package var outcome: Outcome
    package var reward: Double
    /// The weights that made `reward` from the outcome (see ``RewardWeights``).
    package var rewardWeights: [String: Double]
    package var sim: TrajectorySnapshot?
    /// The pacing prices the decision used (revenue, impressions, negatives, organic), when
    /// pacing was on; `nil` (and no key) for the default prices. A priced target policy is
    /// evaluated at the prices each logged decision saw.
    package var prices: [Double]?

    enum CodingKeys: String, CodingKey {
        case policy, region, device, tenure, hour, features, candidates, chosen, probability, propensity, outcome, reward, sim
        case decisionID = "decision_id", policyVersion = "policy_version", adsToday = "ads_today"
        case feedLength = "feed_length", adLimit = "ad_limit", adPositions = "ad_positions", rewardWeights = "reward_weights"
        case contextSchema = "context_schema", prices
    }

    /// A record from its parts (the decision service and tests build records this way).
    package init(
        decisionID: String, policy: String, policyVersion: String, region: String, device: String, tenure: String,
        hour: Int, adsToday: Int, feedLength: Int, adLimit: Int, features: [Double], candidates: [Candidate], chosen: Int,
        adPositions: [Int], probability: Double, propensity: String, outcome: Outcome, reward: Double,
        rewardWeights: [String: Double], sim: TrajectorySnapshot?, contextSchema: String? = nil, prices: [Double]? = nil
    ) {
        self.decisionID = decisionID
        self.policy = policy
        self.policyVersion = policyVersion
        self.region = region
        self.device = device
        self.tenure = tenure
        self.hour = hour
        self.adsToday = adsToday
        self.feedLength = feedLength
        self.adLimit = adLimit
        self.features = features
        self.contextSchema = contextSchema
        self.candidates = candidates
        self.chosen = chosen
        self.adPositions = adPositions
        self.probability = probability
        self.propensity = propensity
        self.outcome = outcome
        self.reward = reward
        self.rewardWeights = rewardWeights
        self.sim = sim
        self.prices = prices
    }

    /// The prices the decision used (the defaults when the record has none).
    /// - Precondition: `prices`, when present, has four values (``DecisionLogReader`` checks it).
    package var pacingPrices: PacingPrices {
        guard let prices else { return .defaults }
        precondition(prices.count == 4, "LoggedRecord: prices has \(prices.count) values, four expected")
        return PacingPrices(revenue: prices[0], impressions: prices[1], negatives: prices[2], organic: prices[3])
    }

    /// Throws unless `features` can be read with `layout`'s schema: the same count and the
    /// same context names (a record without `context_schema` has the standard history features).
    func checkLayout(_ layout: ContextLayout, index: Int) throws(LoggedTrainingError) {
        guard features.count == layout.schema.contextCount else {
            throw LoggedTrainingError(index: index, problem: "has \(features.count) context features, the schema has \(layout.schema.contextCount)")
        }
        if (contextSchema ?? layout.standardFingerprint) != layout.fingerprint {
            throw LoggedTrainingError(
                index: index,
                problem: "context_schema \(contextSchema ?? "(absent: the standard history features)") is not the layout \(layout.fingerprint) of \(layout.schema.history.map(\.rawValue).joined(separator: ",")): the log was written with other history features")
        }
    }

    /// The candidate plans as the learner sees them (materialized in this session's feed).
    func candidatePlans() -> [CandidatePlan] {
        candidates.map { CandidatePlan(spec: $0.spec, plan: $0.spec.plan(feedLength: feedLength, limit: adLimit)) }
    }
}

/// Writes decision records as JSON Lines, in the order given.
package final class DecisionLogWriter {
    let handle: FileHandle
    let encoder: JSONEncoder
    package let path: String
    package private(set) var count = 0

    /// Creates (or truncates) the file at `path`.
    package init(path: String) throws(DecisionLogError) {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw .cannotWrite(path: path)
        }
        self.handle = handle
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    package func write(_ record: LoggedRecord) throws(DecisionLogError) {
        do {
            var data = try encoder.encode(record)
            data.append(0x0A)
            try handle.write(contentsOf: data)
            count += 1
        } catch {
            throw .cannotWrite(path: path)
        }
    }

    package func close() throws(DecisionLogError) {
        do { try handle.close() } catch { throw .cannotWrite(path: path) }
    }
}

/// Reads a JSON Lines decision log.
package enum DecisionLogReader {
    /// All records of the file at `path`.
    /// - Parameter progress: Called with the number of records read, every 10,000 records.
    /// - Throws: ``DecisionLogError`` naming the file and line of the first bad record.
    package static func read(path: String, progress: ((Int) -> Void)? = nil) throws(DecisionLogError) -> [LoggedRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .cannotRead(path: path) }
        let decoder = JSONDecoder()
        var records: [LoggedRecord] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            if records.count % 10_000 == 0 && !records.isEmpty { progress?(records.count) }
            do {
                let record = try decoder.decode(LoggedRecord.self, from: Data(line))
                try validate(record)
                records.append(record)
            } catch let error as DecisionLogError {
                throw error.at(path: path, line: lineNumber)
            } catch {
                throw .badRecord(path: path, line: lineNumber, problem: Self.describe(error))
            }
        }
        guard !records.isEmpty else { throw .empty(path: path) }
        return records
    }

    /// Checks, from the log's first record only, that `schema` can read its features (the
    /// same count and context names): a log of another layout is refused before the whole
    /// file is read.
    /// - Throws: ``DecisionLogError`` naming the file, line 1 and the layout problem, or why
    ///   the first record cannot be read.
    package static func checkLayout(path: String, schema: FeatureSchema) throws(DecisionLogError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .cannotRead(path: path) }
        defer { try? handle.close() }
        var buffer = Data()
        while buffer.firstIndex(of: 0x0A) == nil, let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            buffer.append(chunk)
        }
        let line = buffer.prefix { $0 != 0x0A }
        guard !line.isEmpty else { throw .empty(path: path) }
        let record: LoggedRecord
        do {
            record = try JSONDecoder().decode(LoggedRecord.self, from: Data(line))
        } catch {
            throw .badRecord(path: path, line: 1, problem: describe(error))
        }
        do {
            try record.checkLayout(ContextLayout(schema), index: 0)
        } catch {
            throw .badRecord(path: path, line: 1, problem: "\(error.problem); pass the policy (or --features) the log was written with")
        }
    }

    static func validate(_ record: LoggedRecord) throws(DecisionLogError) {
        guard !record.candidates.isEmpty else { throw .badRecord(path: "", line: 0, problem: "candidates is empty") }
        guard record.candidates.indices.contains(record.chosen) else {
            throw .badRecord(path: "", line: 0, problem: "chosen = \(record.chosen) is not an index of the \(record.candidates.count) candidates")
        }
        guard record.probability > 0 && record.probability <= 1 else {
            throw .badRecord(path: "", line: 0, problem: "probability = \(record.probability) is outside (0, 1]")
        }
        guard record.reward.isFinite else { throw .badRecord(path: "", line: 0, problem: "reward is not finite") }
        if let prices = record.prices, prices.count != 4 || !prices.allSatisfy({ $0.isFinite && $0 >= 0 }) {
            throw .badRecord(path: "", line: 0, problem: "prices must be four non-negative numbers (revenue, impressions, negatives, organic), got \(prices)")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "missing key '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case let DecodingError.dataCorrupted(context): "not valid JSON (\(context.debugDescription))"
        default: "\(error)"
        }
    }
}

/// A decision log that cannot be written or read.
package enum DecisionLogError: Error, Sendable, CustomStringConvertible {
    case cannotWrite(path: String)
    case cannotRead(path: String)
    case empty(path: String)
    case badRecord(path: String, line: Int, problem: String)
    /// The file opened but its bytes cannot be read as a log (a corrupt gzip stream).
    case unreadable(path: String, problem: String)

    func at(path: String, line: Int) -> DecisionLogError {
        if case let .badRecord(_, _, problem) = self { return .badRecord(path: path, line: line, problem: problem) }
        return self
    }

    package var description: String {
        switch self {
        case let .cannotWrite(path): "\(path): cannot write the decision log"
        case let .cannotRead(path): "\(path): cannot read the decision log"
        case let .empty(path): "\(path): the decision log holds no records"
        case let .badRecord(path, line, problem): "\(path):\(line): \(problem)"
        case let .unreadable(path, problem): "\(path): \(problem)"
        }
    }
}
