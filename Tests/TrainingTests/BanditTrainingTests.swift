@testable import AdLoadCore
import AdLoadTestSupport
import Foundation
@testable import Policies
@testable import Simulation
import Testing
@testable import Training

let trainingPackageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func defaultEnvironment() throws -> EnvironmentConfig {
    try EnvironmentConfig.load(path: trainingPackageRoot.appendingPathComponent("env/default.json").path)
}

func untrainedPolicy(_ config: EnvironmentConfig, algorithm: BanditAlgorithm, seed: UInt64) throws -> SimulatedPolicy {
    let schema = config.featureSchema
    let bandit = try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: algorithm)
    return SimulatedPolicy(name: algorithm.name, version: "test", bandit: bandit, schema: schema, catalog: config.planCatalog(), decisionSeed: seed)
}

/// A bandit under the policy contract, with the schema it encodes contexts with.
func contract(_ bandit: LinearBandit, schema: FeatureSchema) -> any DecisionPolicy {
    let provenance = PolicyProvenance(
        environment: "test", environmentFile: "", environmentFingerprint: "", seed: 0, sessions: 0, users: 0, days: 0, trainedAt: "2026-01-01T00:00:00Z",
        source: .simulation)
    return LinearBanditPolicy(bandit: bandit, schema: schema, planFamily: .standard, reward: [:], provenance: provenance)
}

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("adload-test-\(ProcessInfo.processInfo.processIdentifier)-\(name)").path
}

@Suite("Bandit training against the environment model")
struct BanditTrainingTests {
    @Test("training is deterministic and independent of the thread count")
    func deterministicTraining() throws {
        let config = try defaultEnvironment()
        let policy = try untrainedPolicy(config, algorithm: .linUCB(alpha: 1, explorationFloor: 0.05), seed: 3)
        let setup = SimulationSetup(users: 120, days: 8, seed: 3)
        let model = EnvironmentModel(config: config)
        let one = try BanditRunner(model: model, threads: 1).run(policy, setup: setup, reward: .standard, learn: true)
        let two = try BanditRunner(model: model, threads: 3).run(policy, setup: setup, reward: .standard, learn: true)
        #expect(one.sessions > 500)
        #expect(try #require(one.bandit).model.theta == two.bandit?.model.theta)
        #expect(one.outcomes == two.outcomes)
        #expect(one.curve == two.curve)
        #expect(one.bandit?.model.theta != policy.bandit?.model.theta, "the bandit must have learned something")
    }

    @Test("a restored snapshot replays the logged session exactly (the basis of the true value)")
    func snapshotReplay() throws {
        let config = try defaultEnvironment()
        let model = EnvironmentModel(config: config)
        var trajectory = model.startTrajectory(model.user(5, populationSeed: 9), luckSeed: 10, days: 30)
        for _ in 0..<6 {
            var decider = CadenceDecider(every: 7)
            try model.step(&trajectory, decider: &decider, policyName: "cadence")
        }
        #expect(trajectory.isActive)
        let snapshot = model.snapshot(trajectory, populationSeed: 9, luckSeed: 10)
        let encoded = try JSONEncoder().encode(snapshot)
        var restored = try model.restore(try JSONDecoder().decode(TrajectorySnapshot.self, from: encoded))
        var original = trajectory
        var first = CadenceDecider(every: 5)
        var second = CadenceDecider(every: 5)
        let expected = try model.step(&original, decider: &first, policyName: "a")
        let replayed = try model.step(&restored, decider: &second, policyName: "b")
        #expect(expected == replayed)
        #expect(original.satisfaction == restored.satisfaction && original.time == restored.time)
    }

    @Test("reward weights parse by name, and unknown names or bad values are named in the error")
    func rewardWeights() throws {
        let weights = try RewardWeights(parsing: "items=1e-3,returned=0.5")
        #expect(weights.items == 1e-3 && weights.returned == 0.5 && weights.negatives == RewardWeights.standard.negatives)
        #expect(try RewardWeights(dictionary: weights.dictionary) == weights)
        #expect(throws: RewardWeightsError.self) { try RewardWeights(parsing: "clicks=1") }
        #expect(throws: RewardWeightsError.self) { try RewardWeights(parsing: "items=abc") }
        #expect(throws: RewardWeightsError.self) { try RewardWeights(parsing: "return_window_days=0") }
        let outcome = SessionOutcome(time: 0, items: 10, ads: 3, clicks: 0, negatives: 1, dwell: 0, revenue: 0.5,
                                     expectedRevenue: 0.5, value: 0.5, churned: false, gapToNext: 0.5)
        let reward = RewardWeights(revenue: 1, items: 0.01, negatives: 0.2, returned: 0.3, adsSquared: 0.01).reward(outcome)
        #expect(abs(reward - (0.5 + 0.1 - 0.2 - 0.09 + 0.3)) < 1e-12)
    }
}

@Suite("Learners see realized outcomes only")
struct RealizedOutcomeTests {
    @Test("a session's reward does not move with its expected revenue, which depends on latent state")
    func rewardIgnoresExpectation() {
        func outcome(expected: Double) -> SessionOutcome {
            SessionOutcome(time: 0, items: 30, ads: 3, clicks: 1, negatives: 0, dwell: 90, revenue: 0.4,
                           expectedRevenue: expected, value: expected, churned: false, gapToNext: 0.3)
        }
        let weights = RewardWeights.standard
        #expect(weights.reward(outcome(expected: 0.01)) == weights.reward(outcome(expected: 0.9)))
        #expect(weights.reward(outcome(expected: 0.01)) != weights.reward(
            SessionOutcome(time: 0, items: 30, ads: 3, clicks: 0, negatives: 0, dwell: 90, revenue: 0.01,
                           expectedRevenue: 0.01, value: 0.01, churned: false, gapToNext: 0.3)))
    }

    @Test("training is the same whether the objective credits expected or realized revenue; logs record realized revenue")
    func trainingAndLogsUseRealizedRevenue() async throws {
        try await onOwnThread {
            var expected = try defaultEnvironment()
            expected.objective.expectedRevenue = true
            var realized = expected
            realized.objective.expectedRevenue = false
            let setup = SimulationSetup(users: 120, days: 10, seed: 17)
            var bandits: [LinearBandit] = []
            var logs: [[LoggedRecord]] = []
            for config in [expected, realized] {
                let path = temporaryPath("realized-\(config.objective.expectedRevenue).jsonl")
                defer { try? FileManager.default.removeItem(atPath: path) }
                let writer = try DecisionLogWriter(path: path)
                let result = try BanditRunner(model: EnvironmentModel(config: config), threads: 1).run(
                    try untrainedPolicy(config, algorithm: .epsilonGreedy(epsilon: 0.2), seed: 5), setup: setup,
                    reward: .standard, learn: true, log: writer)
                try writer.close()
                bandits.append(try #require(result.bandit))
                logs.append(try DecisionLogReader.read(path: path))
            }
            // Only the judge's objective differs between the two configurations; a learner that read
            // the expectation anywhere would learn something else.
            #expect(bandits[0].model.a.elements == bandits[1].model.a.elements && bandits[0].model.b.elements == bandits[1].model.b.elements)
            #expect(logs[0].map(\.reward) == logs[1].map(\.reward))

            // Revenue follows the clicks that happened: per ad, sessions with a click earn far more
            // than sessions without (click value 0.5 against an impression's 0.002).
            let withAds = logs[0].filter { $0.outcome.ads > 0 }
            func revenuePerAd(_ records: [LoggedRecord]) -> Double {
                records.map(\.outcome.revenue).reduce(0, +) / Double(records.map(\.outcome.ads).reduce(0, +))
            }
            let clicked = withAds.filter { $0.outcome.clicks > 0 }
            let unclicked = withAds.filter { $0.outcome.clicks == 0 }
            try #require(clicked.count > 20 && unclicked.count > 20)
            #expect(revenuePerAd(clicked) > 10 * revenuePerAd(unclicked))
            // The expectation is kept for evaluation, in the simulator block, and is barely higher
            // with a click than without.
            let expectedPerAd = { (records: [LoggedRecord]) in
                records.compactMap { $0.sim?.expectedRevenue }.reduce(0, +) / Double(records.map(\.outcome.ads).reduce(0, +))
            }
            #expect(withAds.allSatisfy { $0.sim?.expectedRevenue != nil })
            #expect(expectedPerAd(clicked) < 3 * expectedPerAd(unclicked))
        }
    }
}

@Suite("Decision logs and off-policy evaluation against the simulator", .serialized)
struct LoggedEvaluationTests {
    /// Trains a policy for a few simulated days on its own seed, on `threads` threads (the result does not depend on them).
    func trained(_ algorithm: BanditAlgorithm, seed: UInt64, config: EnvironmentConfig, threads: Int = 2) throws -> SimulatedPolicy {
        let policy = try untrainedPolicy(config, algorithm: algorithm, seed: seed)
        let result = try BanditRunner(model: EnvironmentModel(config: config), threads: threads).run(
            policy, setup: SimulationSetup(users: 200, days: 20, seed: seed), reward: .standard, learn: true)
        return SimulatedPolicy(name: algorithm.name, version: "test", bandit: try #require(result.bandit), schema: policy.schema,
                            catalog: policy.catalog, decisionSeed: 99)
    }

    @Test("DR estimates two targets within ±5% of their true value from ε-greedy logs of a third, and covers the truth when overlap is weak")
    func doublyRobustMatchesSimulation() async throws {
        // Tens of seconds of simulation, kept off the threads the other tests of the parallel
        // run need: on a thread of its own, and single-threaded (results do not depend on the
        // thread count) because concurrentPerform's other workers would take Dispatch
        // global-queue threads, the ones Swift tasks run on (see onOwnThread).
        try await onOwnThread {
            let config = try defaultEnvironment()
            let model = EnvironmentModel(config: config)
            let logger = try trained(.epsilonGreedy(epsilon: 0.3), seed: 31, config: config, threads: 1)
            let path = temporaryPath("ope.jsonl")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let writer = try DecisionLogWriter(path: path)
            // 800 users × 40 days: rewards carry the realized clicks (a session's revenue has a
            // standard deviation about 3× its mean), so resolving ±5% takes about 5× the logs
            // expected revenue took (250 × 25).
            _ = try BanditRunner(model: model, threads: 1).run(
                logger, setup: SimulationSetup(users: 800, days: 40, seed: 41), reward: .standard, learn: false, log: writer)
            try writer.close()
            let records = try DecisionLogReader.read(path: path)
            #expect(records.count > 10_000)
            #expect(records.allSatisfy { $0.propensity == "exact" && $0.probability > 0 })
            let loggedValue = records.map(\.reward).reduce(0, +) / Double(records.count)

            // The ±5% check is only meaningful when the logs can resolve it, so each target must
            // share support with the logger well enough that DR's bootstrap standard error stays
            // under 2% of the value (the bar is then 2.5 standard errors or more). Softmax targets
            // do: with about 33 valid plans a session the logger puts 0.3/33 on each, and a softmax target's
            // mass is spread where the logger's is. The near-greedy one is a learned policy about
            // as good as the logger; the hot one explores more and is worth about 10% less, so a
            // broken estimator that returned the logged mean would fail on it.
            let targets: [(algorithm: BanditAlgorithm, seed: UInt64)] = [
                (.softmax(temperature: 0.005), 52), (.softmax(temperature: 0.1), 51),
            ]
            var truths: [Double] = []
            for (algorithm, seed) in targets {
                let target = try trained(algorithm, seed: seed, config: config, threads: 1)
                let evaluation = try PolicyEvaluation(target: target.policy, records: records, decisionSeed: 7)
                let report = try OffPolicyReport(decisions: evaluation.decisions, bootstrap: BootstrapConfiguration(replicates: 100, seed: 1))
                let truth = try evaluation.trueValue(model: model, records: records, threads: 1)
                truths.append(truth)
                let label = "\(algorithm)"
                #expect(report.dr.standardError / abs(truth) < 0.02,
                        "\(label): DR standard error \(report.dr.standardError) is too wide to check ±5% (ESS \(report.dr.effectiveSampleSize))")
                #expect(abs(report.dr.value / truth - 1) < 0.05, "\(label): DR \(report.dr.value) vs true \(truth)")
                for row in evaluation.targetProbabilities { #expect(abs(row.reduce(0, +) - 1) < 1e-9) }
            }
            #expect(truths.contains { abs(loggedValue / $0 - 1) > 0.05 },
                    "a target must differ from the logger by more than the tolerance (logged \(loggedValue), targets \(truths))")

            // With weak overlap (a near-deterministic target whose greedy plan the logger rarely
            // tries) the ±5% bar is out of the logs' reach, but DR's interval must still be honest.
            let weak = try trained(.epsilonGreedy(epsilon: 0.3), seed: 51, config: config, threads: 1)
            let evaluation = try PolicyEvaluation(target: weak.policy, records: records, decisionSeed: 7)
            let report = try OffPolicyReport(decisions: evaluation.decisions, bootstrap: BootstrapConfiguration(replicates: 100, seed: 1))
            let truth = try evaluation.trueValue(model: model, records: records, threads: 1)
            #expect(report.dr.effectiveSampleSize < Double(records.count) / 20, "the case must have weak overlap: ESS \(report.dr.effectiveSampleSize)")
            #expect(report.dr.standardError / abs(truth) < 0.12, "the interval must stay informative: standard error \(report.dr.standardError)")
            // A known failure since learners see realized revenue (docs/bandits.md, "Off-policy
            // evaluation"): with weak overlap DR leans on its reward model, whose bias the bootstrap
            // does not see, and the interval misses the truth (on this case [0.0286, 0.0359] against
            // 0.0270). Swift Testing reports it if the interval starts covering again.
            withKnownIssue("DR's bootstrap interval undercovers under weak overlap with realized rewards") {
                #expect(report.dr.lower95 <= truth && truth <= report.dr.upper95,
                        "weak overlap: DR interval [\(report.dr.lower95), \(report.dr.upper95)] vs true \(truth)")
            }
        }
    }

    @Test("evaluating the logging policy itself gives importance weights of exactly 1")
    func selfEvaluation() throws {
        let config = try defaultEnvironment()
        let logger = try trained(.softmax(temperature: 0.02), seed: 61, config: config)
        let path = temporaryPath("self.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try DecisionLogWriter(path: path)
        let run = try BanditRunner(model: EnvironmentModel(config: config), threads: 2).run(
            logger, setup: SimulationSetup(users: 60, days: 5, seed: 62), reward: .standard, learn: false, log: writer)
        try writer.close()
        let records = try DecisionLogReader.read(path: path)
        #expect(records.count == run.sessions)
        let evaluation = try PolicyEvaluation(target: logger.policy, records: records, decisionSeed: logger.decisionSeed)
        for decision in evaluation.decisions { #expect(abs(decision.importanceWeight - 1) < 1e-12) }
    }

    @Test("a policy can be trained on any history features; its logs name their layout and are refused with another")
    func historyFeatureLayouts() throws {
        let config = try defaultEnvironment()
        let all = config.featureSchema.with(history: HistoryFeature.allCases)
        let bandit = try LinearBandit(contextCount: all.contextCount, descriptorCount: all.descriptorCount, algorithm: .softmax(temperature: 0.05))
        let policy = SimulatedPolicy(name: "softmax", version: "test", bandit: bandit, schema: all, catalog: config.planCatalog(), decisionSeed: 5)
        let path = temporaryPath("layout.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try DecisionLogWriter(path: path)
        let run = try BanditRunner(model: EnvironmentModel(config: config), threads: 2).run(
            policy, setup: SimulationSetup(users: 40, days: 6, seed: 8), reward: .standard, learn: true, log: writer)
        try writer.close()
        #expect(run.bandit?.model.theta != bandit.model.theta)
        let records = try DecisionLogReader.read(path: path)
        #expect(records.allSatisfy { $0.contextSchema == all.contextFingerprint && $0.features.count == all.contextCount })
        // The CTR and dwell features vary once users have history.
        let ctr = try #require(all.contextNames.firstIndex(of: "recent_ctr"))
        let dwell = try #require(all.contextNames.firstIndex(of: "recent_dwell"))
        #expect(Set(records.map { $0.features[ctr] }).count > 10 && Set(records.map { $0.features[dwell] }).count > 10)

        // Same feature count, another feature in one slot: refused by name, not misread.
        var swapped = HistoryFeature.allCases
        swapped[swapped.firstIndex(of: .recentCTR)!] = swapped[swapped.count - 1]
        swapped[swapped.count - 1] = .recentCTR
        let other = config.featureSchema.with(history: swapped)
        let target = try LinearBandit(contextCount: other.contextCount, descriptorCount: other.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0))
        let evaluationError = #expect(throws: LoggedTrainingError.self) {
            try PolicyEvaluation(target: contract(target, schema: other), records: records, decisionSeed: 1)
        }
        #expect(evaluationError?.description.contains("context_schema") == true, "\(String(describing: evaluationError))")
        #expect(throws: LoggedTrainingError.self) { try LoggedTraining.train(target, records: records, schema: other, maxWeight: 10) }

        // A record without context_schema (older logs) has the standard layout: refused for
        // another layout of the same size, accepted for the standard one.
        var unlabeled = records[0]
        unlabeled.contextSchema = nil
        let standard = config.featureSchema
        var sameSize = HistoryFeature.standard
        sameSize[sameSize.firstIndex(of: .adAversion)!] = .recentCTR
        unlabeled.features = Array(unlabeled.features.prefix(standard.contextCount))
        let sameSizeSchema = config.featureSchema.with(history: sameSize)
        let sameSizeTarget = try LinearBandit(
            contextCount: sameSizeSchema.contextCount, descriptorCount: sameSizeSchema.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0))
        #expect(throws: LoggedTrainingError.self) { try LoggedTraining.train(sameSizeTarget, records: [unlabeled], schema: sameSizeSchema, maxWeight: 10) }
        let standardTarget = try LinearBandit(
            contextCount: standard.contextCount, descriptorCount: standard.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0))
        _ = try LoggedTraining.train(standardTarget, records: [unlabeled], schema: standard, maxWeight: 10)
        _ = try LoggedTraining.train(try #require(run.bandit), records: records, schema: all, maxWeight: 10)
    }

    @Test("a log line that is not a decision is reported with its file and line")
    func badLogLine() throws {
        let path = temporaryPath("bad.jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("{\"decision_id\": \"x\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try DecisionLogReader.read(path: path)
            Issue.record("a malformed log was accepted")
        } catch {
            #expect(error.description.hasPrefix("\(path):1: missing key"), "\(error)")
        }
    }
}

@Suite("Learning from logs")
struct LoggedTrainingTests {
    @Test("importance-weighted learning from a skewed logger recovers a known linear reward")
    func recoversKnownReward() throws {
        let config = try defaultEnvironment()
        let schema = config.featureSchema
        let catalog = config.planCatalog()
        let d = schema.dimension
        var state: UInt64 = 17
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            return Double(CounterRandom.mix(state) >> 11) * 0x1.0p-53
        }
        let truth = (0..<d).map { _ in uniform() - 0.5 }
        var records: [LoggedRecord] = []
        var candidates: [CandidatePlan] = []
        for index in 0..<3000 {
            let region = index % schema.regions.count
            catalog.candidates(region: region, feedLength: 400, adsToday: 0, into: &candidates)
            let context = [1.0] + (1..<schema.contextCount).map { _ in uniform() }
            // A skewed logger: the first candidate half the time, else uniform.
            let chosen = uniform() < 0.5 ? 0 : Int(uniform() * Double(candidates.count))
            let probability = (chosen == 0 ? 0.5 : 0) + 0.5 / Double(candidates.count)
            let phi = FeatureSchema.kronecker(context: context, descriptors: candidates[chosen].descriptors)
            let reward = zip(truth, phi).reduce(0) { $0 + $1.0 * $1.1 }
            let outcome = SessionOutcome(time: 0, items: 0, ads: 0, clicks: 0, negatives: 0, dwell: 0, revenue: reward,
                                         expectedRevenue: reward, value: reward, churned: false, gapToNext: 1)
            let record = LoggedRecord(
                decisionID: "d\(index)", policy: "skewed", policyVersion: "test", region: schema.regions[region],
                device: schema.devices[0], tenure: schema.tenures[0], hour: 0, adsToday: 0, feedLength: 400, adLimit: 40,
                features: context, candidates: candidates.map { LoggedRecord.Candidate($0.spec) }, chosen: chosen,
                adPositions: candidates[chosen].plan.positions, probability: probability, propensity: "exact",
                outcome: LoggedRecord.Outcome(outcome), reward: reward, rewardWeights: RewardWeights.revenueOnly.dictionary, sim: nil)
            records.append(try #require(try roundTrip(record)))
        }
        let start = try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount,
                                     algorithm: .epsilonGreedy(epsilon: 0), lambda: 1e-6)
        let learned = try LoggedTraining.train(start, records: records, schema: schema, maxWeight: 10).bandit
        // Noiseless rewards and a well-specified model: the prediction of every candidate
        // (not only the logged ones) matches the truth.
        for record in records.prefix(50) {
            for candidate in record.candidatePlans() {
                let phi = FeatureSchema.kronecker(context: record.features, descriptors: candidate.descriptors)
                let predicted = zip(learned.model.theta.elements, phi).reduce(0) { $0 + $1.0 * $1.1 }
                let expected = zip(truth, phi).reduce(0) { $0 + $1.0 * $1.1 }
                #expect(abs(predicted - expected) < 1e-3 * max(1, abs(expected)))
            }
        }
    }

    func roundTrip(_ record: LoggedRecord) throws -> LoggedRecord? {
        try JSONDecoder().decode(LoggedRecord.self, from: JSONEncoder().encode(record))
    }
}
