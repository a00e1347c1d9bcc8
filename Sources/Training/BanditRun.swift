import AdLoadCore
import Dispatch
import Foundation
import Policies
import Simulation
import Synchronization

/// Progress of a bandit run, reported after each simulated day.
package struct BanditProgress: Sendable {
    package let day: Int
    package let days: Int
    package let sessions: Int
    /// Mean reward over the last simulated day.
    package let dayReward: Double
    /// Mean reward since the start.
    package let runningReward: Double
    package let elapsedSeconds: Double

    /// Estimated seconds left, from the pace so far.
    package var etaSeconds: Double { day > 0 ? elapsedSeconds / Double(day) * Double(days - day) : 0 }
}

/// One point of a learning curve: a simulated day.
package struct CurvePoint: Sendable, Equatable {
    package let day: Int
    package let sessions: Int
    package let meanReward: Double
    let revenuePerSession: Double
    package let adsPerSession: Double
    package let itemsPerSession: Double

    package static let csvHeader = "day,sessions,mean_reward,revenue_per_session,ads_per_session,items_per_session"
    package var csvLine: String { "\(day),\(sessions),\(meanReward),\(revenuePerSession),\(adsPerSession),\(itemsPerSession)" }
}

/// What a bandit run produced.
package struct BanditRunResult: Sendable {
    /// The bandit after the run (unchanged when not learning; `nil` for a policy of another kind).
    package let bandit: LinearBandit?
    package let curve: [CurvePoint]
    /// Per-user outcomes, in user order.
    package let outcomes: [UserOutcome]
    package let sessions: Int
    package let meanReward: Double
    package let elapsedSeconds: Double
}

/// Runs a ``SimulatedPolicy`` over simulated users day by day: within a day, users are
/// simulated in parallel with the policy frozen; at the day's end a learning bandit
/// updates from the day's sessions in user order. Results therefore do not depend on the thread count,
/// and the same seed gives the same policy.
package struct BanditRunner: Sendable {
    package let model: EnvironmentModel
    package let threads: Int

    package init(model: EnvironmentModel, threads: Int) {
        self.model = model
        self.threads = max(1, threads)
    }

    struct Observation {
        let context: [Double]
        let descriptors: PlanDescriptors
        let reward: Double
        let revenue: Double
        let ads: Int
        let items: Int
        let negatives: Int
        let record: LoggedRecord?

        /// What a priced bandit's pricing models learn.
        var priced: PricedOutcome {
            PricedOutcome(revenue: revenue, impressions: Double(ads), negatives: Double(negatives), organicItems: Double(items))
        }
    }

    /// Runs `policy` on `setup`'s users for `setup.days` days.
    /// - Parameters:
    ///   - learn: update the bandit after every simulated day (linear bandits only).
    ///   - log: write every decision (with the simulator snapshot) to this log.
    package func run(
        _ policy: SimulatedPolicy, setup: SimulationSetup, reward weights: RewardWeights, learn: Bool,
        log: DecisionLogWriter? = nil, progress: ((BanditProgress) -> Void)? = nil
    ) throws -> BanditRunResult {
        let clock = ContinuousClock()
        let start = clock.now
        let model = self.model
        var trajectories = (0..<setup.users).map {
            model.startTrajectory(model.user($0, populationSeed: setup.populationSeed), luckSeed: setup.luckSeed, days: setup.days)
        }
        var bandit = policy.bandit
        if learn && bandit == nil {
            throw TrainingError("\(policy.name) is a \(policy.policy.algorithm) policy; day-by-day learning updates linear bandits only")
        }
        var curve: [CurvePoint] = []
        var sessions = 0
        var rewardSum = 0.0
        let chunkSize = 32
        let chunkCount = (setup.users + chunkSize - 1) / chunkSize
        let logging = log != nil
        for day in 0..<setup.days {
            let frozen = if learn, let bandit {
                SimulatedPolicy(
                    name: policy.name, version: policy.version, bandit: bandit, schema: policy.schema, catalog: policy.catalog,
                    decisionSeed: policy.decisionSeed)
            } else {
                policy
            }
            let dayEnd = Double(day + 1)
            let results = Mutex<[[Observation]]>(Array(repeating: [], count: chunkCount))
            let updated = Mutex<[(Int, UserTrajectory)]>([])
            let failure = Mutex<(any Error)?>(nil)
            let nextChunk = Atomic<Int>(0)
            let snapshotTrajectories = trajectories
            DispatchQueue.concurrentPerform(iterations: min(threads, max(1, chunkCount))) { _ in
                var worker = frozen.makeWorker()
                while true {
                    let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                    if chunk >= chunkCount || failure.withLock({ $0 != nil }) { return }
                    var observations: [Observation] = []
                    var moved: [(Int, UserTrajectory)] = []
                    do {
                        for index in (chunk * chunkSize)..<min(setup.users, (chunk + 1) * chunkSize) {
                            var trajectory = snapshotTrajectories[index]
                            guard trajectory.isActive && trajectory.time < dayEnd else { continue }
                            while trajectory.isActive && trajectory.time < dayEnd {
                                let context = model.context(of: trajectory)
                                var snapshot = logging
                                    ? model.snapshot(trajectory, populationSeed: setup.populationSeed, luckSeed: setup.luckSeed) : nil
                                var decider = worker.beginSession(context)
                                let outcome = try model.step(&trajectory, decider: &decider, policyName: frozen.name)
                                snapshot?.expectedRevenue = outcome.expectedRevenue
                                let reward = weights.reward(outcome, plan: worker.candidates[worker.choice.index].descriptors)
                                let record = logging
                                    ? worker.record(session: context, outcome: outcome, reward: reward, weights: weights,
                                                    snapshot: snapshot, schema: frozen.schema) : nil
                                observations.append(Observation(
                                    context: worker.context, descriptors: worker.candidates[worker.choice.index].descriptors,
                                    reward: reward, revenue: outcome.revenue, ads: outcome.ads, items: outcome.items, negatives: outcome.negatives,
                                    record: record))
                            }
                            moved.append((index, trajectory))
                        }
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                        return
                    }
                    results.withLock { $0[chunk] = observations }
                    updated.withLock { $0.append(contentsOf: moved) }
                }
            }
            if let error = failure.withLock({ $0 }) { throw error }
            for (index, trajectory) in updated.withLock({ $0 }) { trajectories[index] = trajectory }

            var daySessions = 0, dayAds = 0, dayItems = 0
            var dayReward = 0.0, dayRevenue = 0.0
            for chunkObservations in results.withLock({ $0 }) {
                for observation in chunkObservations {
                    if learn {
                        bandit?.update(
                            context: observation.context, descriptors: observation.descriptors, reward: observation.reward,
                            outcome: observation.priced)
                    }
                    if let record = observation.record { try log?.write(record) }
                    daySessions += 1
                    dayReward += observation.reward
                    dayRevenue += observation.revenue
                    dayAds += observation.ads
                    dayItems += observation.items
                }
            }
            sessions += daySessions
            rewardSum += dayReward
            let perSession = { (value: Double) in daySessions > 0 ? value / Double(daySessions) : 0 }
            curve.append(CurvePoint(
                day: day, sessions: daySessions, meanReward: perSession(dayReward), revenuePerSession: perSession(dayRevenue),
                adsPerSession: perSession(Double(dayAds)), itemsPerSession: perSession(Double(dayItems))))
            let elapsed = clock.now - start
            progress?(BanditProgress(
                day: day + 1, days: setup.days, sessions: sessions, dayReward: perSession(dayReward),
                runningReward: sessions > 0 ? rewardSum / Double(sessions) : 0, elapsedSeconds: elapsed.seconds))
        }
        return BanditRunResult(
            bandit: bandit, curve: curve, outcomes: trajectories.map(\.outcome), sessions: sessions,
            meanReward: sessions > 0 ? rewardSum / Double(sessions) : 0, elapsedSeconds: (clock.now - start).seconds)
    }
}

extension BanditRunner {
    /// Trains `bandit` online on `setup`'s users, day by day, as `adload train bandit` does
    /// without `--logs`: it decides every session with the seed's decision randomness and
    /// learns from `weights` at each day's end. Returns the policy file's contents, with
    /// `provenance` and the sessions it learned from, and the run's result (curve, outcomes).
    package func train(
        _ bandit: LinearBandit, name: String, schema: FeatureSchema, setup: SimulationSetup, reward weights: RewardWeights,
        provenance: PolicyProvenance, progress: ((BanditProgress) -> Void)? = nil
    ) throws -> (policy: LinearBanditPolicy, result: BanditRunResult) {
        let catalog = model.config.planCatalog()
        let policy = SimulatedPolicy(name: name, version: "training", bandit: bandit, schema: schema, catalog: catalog, decisionSeed: setup.luckSeed)
        let result = try run(policy, setup: setup, reward: weights, learn: true, progress: progress)
        var provenance = provenance
        provenance.sessions = result.sessions
        let file = LinearBanditPolicy(
            bandit: result.bandit ?? bandit, schema: schema, planFamily: catalog.family, reward: weights.dictionary, provenance: provenance)
        return (file, result)
    }
}

extension Duration {
    /// The duration in seconds.
    package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
