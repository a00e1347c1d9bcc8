import AdLoadCore
import Dispatch
import Foundation
import Networks
import Policies
import PolicyGradient
import Simulation
import Synchronization

/// One iteration of a policy-gradient run, for progress lines and the learning curve.
package struct PolicyGradientIteration: Sendable {
    package let iteration: Int
    package let iterations: Int
    /// Sessions simulated in this iteration.
    package let steps: Int
    /// Mean undiscounted return (realized revenue + engagement) per user episode.
    package let meanReturn: Double
    package let statistics: UpdateStatistics
    /// Sessions per second of wall time in this iteration (rollouts and update).
    package let stepsPerSecond: Double
    package let elapsedSeconds: Double
    /// Share of the iteration's wall time spent updating the networks (the rest is rollouts);
    /// for progress lines only (0 for points read back from a checkpoint).
    package var updateShare = 0.0
    /// With branches, the distinct plans a branch point compared, on average (0 without
    /// branches); for progress lines only.
    package var plansPerPoint = 0.0

    /// `iteration,steps,mean_return,policy_loss,value_loss,entropy,approx_kl,clip_fraction,steps_per_second`.
    package static let csvHeader = "iteration,steps,mean_return,policy_loss,value_loss,entropy,approx_kl,clip_fraction,steps_per_second"

    package var csvLine: String {
        [Double(iteration), Double(steps), meanReturn, statistics.policyLoss, statistics.valueLoss, statistics.entropy,
         statistics.approximateKL, statistics.clipFraction, stepsPerSecond].map(JSONNumber.compact).joined(separator: ",")
    }
}

/// Trains a ``NetworkPolicy`` with PPO or REINFORCE on the environment model: each iteration
/// runs `episodesPerIteration` user episodes over the whole horizon (`pairedRollouts` of each
/// user; users cycle through a population of `setup.users`), in parallel on `threads`
/// threads, then updates the networks.
///
/// Results do not depend on the thread count: episodes are keyed by user index, actions by
/// (iteration, user, session), and batches are merged in user order.
package struct PolicyGradientRun: Sendable {
    package let model: EnvironmentModel
    package let schema: FeatureSchema
    package let setup: SimulationSetup
    package let configuration: PolicyGradientConfiguration
    package let engagementWeight: Double
    package let iterations: Int
    package let episodesPerIteration: Int
    package let threads: Int
    /// Behaviour cloning of a teacher before the first iteration (`nil`: start from scratch).
    package var warmStart: WarmStart?
    /// Prices as inputs and a priced reward, prices drawn per episode (`nil`: unpriced).
    package var pricing: NetworkPricing?
    /// The returned policy averages the iterations from `averaging.from` on (`nil`: the last iteration's).
    package var averaging: WeightAveraging?
    /// Earlier points at which the run also keeps the policy a shorter run would write
    /// (ascending, each before `iterations`); ``run(header:resume:checkpointEvery:checkpoint:warmStarted:progress:)``
    /// returns them as `earlier`.
    package var earlierStops: [EarlierStop] = []

    package init(
        model: EnvironmentModel, schema: FeatureSchema, setup: SimulationSetup, configuration: PolicyGradientConfiguration,
        engagementWeight: Double, iterations: Int, episodesPerIteration: Int, threads: Int, warmStart: WarmStart? = nil,
        pricing: NetworkPricing? = nil
    ) {
        self.model = model
        self.schema = schema
        self.setup = setup
        self.configuration = configuration
        self.engagementWeight = engagementWeight
        self.iterations = iterations
        self.episodesPerIteration = max(1, episodesPerIteration)
        self.threads = max(1, threads)
        self.warmStart = warmStart
        self.pricing = pricing
    }

    /// The settings that fix this run's numbers, in a fixed order: a checkpoint records
    /// them and `--resume` refuses a checkpoint whose settings differ. The thread count is
    /// not among them (results do not depend on it), nor the iteration count (a resumed run
    /// may go on longer).
    package var identity: [(name: String, value: String)] {
        let c = configuration
        let number = JSONNumber.json
        return [
            ("env_fingerprint", model.config.fingerprint), ("features", schema.contextFingerprint),
            ("algorithm", c.algorithm.rawValue), ("hidden", c.hidden.map(String.init).joined(separator: ",")),
            ("users", "\(setup.users)"), ("days", "\(setup.days)"), ("population_seed", "\(setup.populationSeed)"),
            ("luck_seed", "\(setup.luckSeed)"), ("episodes", "\(episodesPerIteration)"), ("engagement_weight", number(engagementWeight)),
        ] + Self.settings(c).map { ($0.name, number($0.value)) } + warmStartIdentity + pricingIdentity
            + (averaging.map { [("average_from", "\($0.from)")] } ?? [])
            + (earlierStops.isEmpty ? [] : [("earlier_stops", earlierStops.map(\.identity).joined(separator: ","))])
    }

    /// The pricing's part of ``identity`` (none for an unpriced run, so the checkpoints of
    /// unpriced runs keep their identity).
    var pricingIdentity: [(name: String, value: String)] {
        guard let pricing else { return [] }
        let number = JSONNumber.json
        return [
            ("pricing_scales", pricing.scales.map(number).joined(separator: ",")),
            ("pricing_ranges", pricing.ranges.map { "\(number($0.lowerBound))-\(number($0.upperBound))" }.joined(separator: ",")),
        ]
    }

    /// The warm start's part of ``identity`` (one `warm_start` entry of "none" without one).
    var warmStartIdentity: [(name: String, value: String)] {
        guard let warmStart else { return [("warm_start", "none")] }
        let number = JSONNumber.json
        return [
            ("warm_start", warmStart.fingerprint), ("warm_start_episodes", "\(warmStart.episodes)"),
            ("warm_start_epochs", "\(warmStart.epochs)"), ("warm_start_smoothing", number(warmStart.smoothing)),
            ("warm_start_learning_rate", number(warmStart.learningRate)),
        ]
    }

    /// Observations and actions of the episodes this run trains on (what a checkpoint's
    /// networks must fit).
    package var shape: (observations: Int, actions: Int) {
        let episodes = SimulatedEpisodes(model: model, schema: schema, setup: setup, engagementWeight: engagementWeight, pricing: pricing)
        return (episodes.observationCount, episodes.actionCount)
    }

    /// Runs the training; `progress` is called after every iteration.
    /// - Parameters:
    ///   - resume: a checkpoint of this run (same ``identity``) to go on from; the result is
    ///     the same as that of an uninterrupted run.
    ///   - checkpointEvery: iterations between two calls of `checkpoint` (0: never); the
    ///     last iteration always gets one when it is positive.
    ///   - checkpoint: stores a checkpoint (the CLI writes it next to the policy).
    ///   - warmStarted: called after the warm start's cloning with its statistics and sample count.
    /// - Returns: the trained policy (its `header` as given; with ``averaging``, the average
    ///   of its iterations' policy networks), the per-iteration curve, and the policy kept at
    ///   each of ``earlierStops`` (what a run of that many iterations would have written).
    package func run(
        header: PolicyHeader, resume: PolicyGradientCheckpoint? = nil, checkpointEvery: Int = 0,
        checkpoint: ((PolicyGradientCheckpoint) throws -> Void)? = nil,
        warmStarted: ((ImitationStatistics, Int) -> Void)? = nil, progress: ((PolicyGradientIteration) -> Void)? = nil
    ) throws -> (policy: NetworkPolicy, curve: [PolicyGradientIteration], earlier: [NetworkPolicy]) {
        let episodes = SimulatedEpisodes(model: model, schema: schema, setup: setup, engagementWeight: engagementWeight, pricing: pricing)
        var trainer = PolicyGradientTrainer(
            observationCount: episodes.observationCount, actionCount: episodes.actionCount, configuration: configuration,
            seed: setup.luckSeed)
        let random = CounterRandom(seed: setup.luckSeed, domain: 0x7067) // "pg"
        var curve: [PolicyGradientIteration] = []
        var average: NetworkAverage?
        var kept: [NetworkAverage?] = Array(repeating: nil, count: earlierStops.count)
        for (index, stop) in earlierStops.enumerated() {
            if stop.iteration >= iterations || (index > 0 && stop.iteration <= earlierStops[index - 1].iteration) {
                throw TrainingError("earlier stops must ascend and come before the last iteration (\(iterations)); got \(earlierStops.map(\.iteration))")
            }
            if let averaging = stop.averaging, averaging.from > stop.iteration {
                throw TrainingError("the earlier stop after iteration \(stop.iteration) would average from iteration \(averaging.from), after it")
            }
        }
        var first = 1
        if let resume {
            // A run without earlier stops does not need what the checkpoint's kept (its own
            // policy does not depend on them), so it may go on from one that had some.
            if !earlierStops.isEmpty {
                guard resume.earlierAverages.count == earlierStops.count else {
                    throw TrainingError(
                        "the checkpoint keeps \(resume.earlierAverages.count) earlier stop(s); this run has \(earlierStops.count) (give the --stops it was trained with)")
                }
                kept = resume.earlierAverages
            }
            trainer.restore(
                model: resume.model, mean: resume.mean, standardDeviation: resume.standardDeviation,
                policyOptimizer: resume.policyOptimizer, valueOptimizer: resume.valueOptimizer)
            curve = resume.curve
            average = resume.average
            first = resume.iteration + 1
        } else if let warmStart {
            guard let teacher = warmStart.teacher else {
                throw TrainingError("the warm start has no teacher: only a resumed run may go without one")
            }
            // Normalization from the teacher's rollout, which the cloned policy starts from.
            var batch = teacherRollout(teacher, episodes: warmStart.episodes, random: random.child(0), on: episodes)
            trainer.fitAndNormalize(&batch)
            let statistics = trainer.imitate(
                batch, epochs: warmStart.epochs, smoothing: warmStart.smoothing, learningRate: warmStart.learningRate,
                random: random.child(UInt64(1 << 33)))
            if configuration.branching?.valuedAtCut == true {
                // The critic that values the branches' cut, fitted on the teacher's returns too.
                let samples = trainer.criticSamples(batch)
                for epoch in 0..<warmStart.epochs {
                    _ = trainer.fitValue(
                        observations: samples.observations, targets: samples.targets, random: random.child(UInt64(1 << 34) + UInt64(epoch)))
                }
            }
            warmStarted?(statistics, batch.count)
        } else {
            // Normalization from a first rollout of the untrained (near-uniform) policy.
            trainer.fitNormalization(collect(trainer, episodes: episodes, iteration: 0, random: random.child(0)))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let elapsedBefore = curve.last?.elapsedSeconds ?? 0
        let last = max(1, iterations)
        for iteration in first...max(first, last) where iteration <= last {
            let began = clock.now
            let batch = collect(trainer, episodes: episodes, iteration: iteration, random: random.child(UInt64(iteration)))
            let collected = clock.now
            let statistics = trainer.update(batch, random: random.child(UInt64(1 << 32) + UInt64(iteration)), threads: threads)
            let seconds = Self.seconds(clock.now - began)
            var point = PolicyGradientIteration(
                iteration: iteration, iterations: iterations, steps: batch.simulatedSteps,
                meanReturn: batch.episodeReturns.reduce(0, +) / Double(max(1, batch.episodeReturns.count)),
                statistics: statistics, stepsPerSecond: seconds > 0 ? Double(batch.simulatedSteps) / seconds : 0,
                elapsedSeconds: elapsedBefore + Self.seconds(clock.now - start))
            point.updateShare = seconds > 0 ? Self.seconds(clock.now - collected) / seconds : 0
            point.plansPerPoint = batch.branchPoints > 0 ? Double(batch.branchPlans) / Double(batch.branchPoints) : 0
            curve.append(point)
            progress?(point)
            if let averaging, iteration >= averaging.from {
                if average == nil { average = NetworkAverage(first: trainer.model.policy) } else { average?.add(trainer.model.policy) }
            }
            for index in earlierStops.indices { earlierStops[index].keep(trainer.model.policy, after: iteration, in: &kept[index]) }
            if let checkpoint, checkpointEvery > 0, iteration % checkpointEvery == 0 || iteration == last {
                var state = PolicyGradientCheckpoint(identity: identity, iteration: iteration, trainer: trainer, curve: curve)
                state.average = average
                state.earlierAverages = kept
                try checkpoint(state)
            }
        }
        func policy(network: MLP, averaging: WeightAveraging?, averaged: Int) -> NetworkPolicy {
            var settings = Self.settings(configuration)
            if let averaging { settings += [("average_from", Double(averaging.from)), ("averaged_iterations", Double(averaged))] }
            return NetworkPolicy(
                algorithm: configuration.algorithm.rawValue, settings: settings, header: header,
                actions: episodes.specs, mean: trainer.mean, standardDeviation: trainer.standardDeviation, network: network, pricing: pricing)
        }
        let earlier = try zip(earlierStops, kept).map { stop, kept in
            guard let kept else { throw TrainingError("the earlier stop after iteration \(stop.iteration) kept no network") }
            return policy(network: kept.network, averaging: stop.averaging, averaged: kept.count)
        }
        return (policy(network: average?.network ?? trainer.model.policy, averaging: average == nil ? nil : averaging, averaged: average?.count ?? 0),
                curve, earlier)
    }

    /// The episodes of one iteration, collected in parallel and merged in user order. With
    /// paired rollouts, each of the iteration's `episodesPerIteration / pairedRollouts` users
    /// runs `pairedRollouts` times on the same luck, each time with its own action draws, and
    /// the batch records which episodes belong together.
    func collect(_ trainer: PolicyGradientTrainer, episodes: SimulatedEpisodes, iteration: Int, random: CounterRandom) -> RolloutBatch {
        let branching = configuration.branching
        let pairs = branching == nil ? max(1, configuration.pairedRollouts) : 1
        let distinct = max(1, episodesPerIteration / pairs)
        let first = (iteration * distinct) % max(1, setup.users)
        let jobs = (0..<distinct).flatMap { position in (0..<pairs).map { (position: position, user: (first + position) % setup.users, replica: $0) } }
        // Workers take the next job as they finish one (users' horizons differ a lot in length,
        // so fixed chunks left one core idle); each job's batch is kept at its index and the
        // batches are merged in job order, so the result does not depend on who ran what.
        let next = Atomic<Int>(0)
        let results = Mutex<[RolloutBatch?]>(Array(repeating: nil, count: jobs.count))
        DispatchQueue.concurrentPerform(iterations: min(threads, jobs.count)) { _ in
            var environment = episodes
            // Prices per (iteration, user): paired rollouts of one user see the same ones.
            environment.priceDraws = random.child(Self.priceDomain)
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < jobs.count else { break }
                let job = jobs[index]
                let draws = pairs > 1 ? random.child(UInt64(1 << 40) + UInt64(job.replica)) : random
                if let branching {
                    let batch = trainer.collectBranched(&environment, episode: job.user, random: random, branching: branching)
                    results.withLock { $0[index] = batch }
                    continue
                }
                var batch = trainer.collect(&environment, episodes: job.user..<(job.user + 1), random: draws, critic: pairs == 1)
                if pairs > 1 { batch.episodeGroups = Array(repeating: job.position, count: batch.episodeReturns.count) }
                results.withLock { $0[index] = batch }
            }
        }
        return RolloutBatch.merging(results.withLock { $0 }.compactMap { $0 })
    }

    /// The teacher's rollout over the first `count` users, in parallel, merged in user order.
    func teacherRollout(_ teacher: Teacher, episodes count: Int, random: CounterRandom, on episodes: SimulatedEpisodes) -> RolloutBatch {
        let teacher: Teacher = switch teacher {
        case let .policy(policy): .policy(policy.conservative())
        case .regionPlans: teacher
        }
        let users = Array(0..<min(max(1, count), max(1, setup.users)))
        let chunkCount = min(threads, users.count)
        let chunkSize = (users.count + chunkCount - 1) / chunkCount
        let gamma = configuration.gamma
        let results = Mutex<[RolloutBatch]>(Array(repeating: RolloutBatch(), count: chunkCount))
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            var environment = episodes
            environment.priceDraws = random.child(Self.priceDomain)
            let mine = users[(chunk * chunkSize)..<min(users.count, (chunk + 1) * chunkSize)]
            guard let first = mine.first, let last = mine.last else { return }
            let batch = environment.teacherRollout(teacher, episodes: first..<(last + 1), gamma: gamma, random: random)
            results.withLock { $0[chunk] = batch }
        }
        return results.withLock { batches in
            var all = RolloutBatch()
            for batch in batches { all.append(batch) }
            return all
        }
    }

    /// The training settings as a policy file's hyper-parameters.
    static func settings(_ configuration: PolicyGradientConfiguration) -> [(name: String, value: Double)] {
        [
            ("clip", configuration.clip), ("entropy_coefficient", configuration.entropyCoefficient), ("epochs", Double(configuration.epochs)),
            ("gamma_per_day", configuration.gamma), ("lambda", configuration.lambda), ("learning_rate", configuration.learningRate),
            ("max_gradient_norm", configuration.maxGradientNorm), ("minibatch_size", Double(configuration.minibatchSize)),
            ("value_coefficient", configuration.valueCoefficient),
        ] + (configuration.pairedRollouts > 1 ? [("paired_rollouts", Double(configuration.pairedRollouts))] : [])
            + (configuration.branching.map { [("branch_points", Double($0.points)), ("branch_actions", Double($0.actions))] } ?? [])
            + (configuration.branching?.distinct == true ? [("branch_distinct", 1)] : [])
            + (configuration.branching?.horizon.map { [("branch_days", $0)] } ?? [])
            + (configuration.branching?.valuedAtCut == true ? [("branch_value", 1)] : [])
    }

    /// The child of an iteration's stream that draws its episodes' prices (apart from the
    /// action draws' children).
    static let priceDomain = UInt64(1) << 50

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
