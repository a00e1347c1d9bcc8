import ArgumentParser
import Foundation
import Logging
import Policies
import ServiceLifecycle
import StateStore
import OnlineLearning
import Training

struct Learn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn online from the decision and feedback streams and publish new policy versions.",
        discussion: """
        Reads both streams through a consumer group, joins feedback and the user's return to \
        each decision within the reward window (event time), updates the bandit, and publishes \
        a new policy version to the registry every --publish-every. Restartable: it resumes from \
        the active policy and re-reads what it had not acknowledged, never counting an event twice. \
        It publishes only over the version it built on: when someone else publishes or rolls back \
        (or decisions of another policy's feature layout arrive), it stops with a message, and \
        its updates since its last publication are dropped; restart it to continue from the \
        active version. Run one learner per registry.
        """)

    @OptionGroup(title: "Redis")
    var redisOptions: RedisOptions

    @Option(help: "Seconds between policy publications.")
    var publishEvery = 5.0

    @Option(help: "Reward window in days of event time.")
    var windowDays = 1.0

    @Option(help: "Reward of a decision with no feedback within the window.")
    var defaultReward = 0.0

    @Option(help: "Consumer group.")
    var group = "learner"

    @Option(help: "Consumer name within the group.")
    var consumer = "learner-1"

    @Option(help: "Stop after this many seconds (default: run until SIGTERM or SIGINT).")
    var duration: Double?

    @OptionGroup(title: "Logging")
    var logging: LoggingOptions

    func validate() throws {
        guard publishEvery > 0 else { throw ValidationError("--publish-every must be positive, got \(publishEvery)") }
        guard windowDays > 0 else { throw ValidationError("--window-days must be positive, got \(windowDays)") }
        guard defaultReward.isFinite else { throw ValidationError("--default-reward must be a number") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive, got \(duration)") }
    }

    func run() async throws {
        prepareLinearAlgebra()
        bootstrapLogging(level: logging.logLevel)
        let logger = Logger(label: "adload.learn")
        let address = try redisOptions.address()
        let store = RedisLiveStore(configuration: try redisOptions.clientConfiguration(), logger: Logger(label: "adload.redis"))
        do {
            try await learn(store: store, address: address, logger: logger)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    func learn(store: RedisLiveStore, address: RedisAddress, logger: Logger) async throws {
        guard let version = try await store.activePolicyVersion(), let blob = try await store.policyBlob(version: version) else {
            throw CLIError("no active policy in the registry at \(address): start `adload serve` first (it publishes one)")
        }
        let policy: LinearBanditPolicy
        do { policy = try LinearBanditPolicy.parse(blob, file: "registry:\(version)", expectedSchema: nil) } catch {
            throw CLIError("the registry's active policy \(version) does not load: \(error)")
        }
        let weights: RewardWeights
        do { weights = try RewardWeights(dictionary: policy.reward) } catch { throw CLIError("policy \(version): reward weights: \(error)") }
        var configuration = StreamLearner.Configuration(weights: weights)
        configuration.group = group
        configuration.consumer = consumer
        configuration.rewardWindowDays = windowDays
        configuration.defaultReward = defaultReward
        let learner = StreamLearner(store: store, policy: policy, baseVersion: version, configuration: configuration, logger: logger)
        say("adload learn: from policy \(version) at \(address), reward window \(windowDays) d, publishing every \(publishEvery) s")
        let service = LearnerService(learner: learner, publishEvery: publishEvery, duration: duration)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Runs the learner until shutdown: polls the streams, publishes on schedule, prints progress.
struct LearnerService: Service {
    let learner: StreamLearner
    let publishEvery: Double
    let duration: Double?

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await loop() }
        try await publish()
    }

    func loop() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        var lastPublish = clock.now
        var first = true
        while !Task.isCancelled {
            if let duration, (clock.now - start).seconds >= duration { break }
            do {
                try await learner.poll(block: .milliseconds(200), includePending: first)
                first = false
            } catch let error as StreamLearnerError {
                throw CLIError("adload learn: \(error)")
            } catch {
                say("adload learn: stream read failed (\(error)); retrying")
                try? await Task.sleep(for: .seconds(1))
            }
            if (clock.now - lastPublish).seconds >= publishEvery {
                lastPublish = clock.now
                try await publish()
            }
        }
    }

    /// Publishes what was learned and prints progress; a failed write is retried at the next
    /// publication, but a registry whose active version changed under the learner stops it.
    func publish() async throws {
        do {
            let version = try await learner.publish()
            let statistics = await learner.statistics
            let mean = statistics.updates > 0 ? statistics.rewardSum / Double(statistics.updates) : 0
            say(String(
                format: "adload learn: %d decisions, %d feedback entries, %d updates (%d without feedback), mean reward %.5f%@%@",
                statistics.decisionsRead, statistics.feedbackRead, statistics.updates, statistics.withoutFeedback, mean,
                statistics.otherLayout > 0 ? ", \(statistics.otherLayout) of another feature layout skipped" : "",
                version.map { ", published \($0)" } ?? ""))
        } catch let error as StreamLearnerError {
            throw CLIError("adload learn: \(error)")
        } catch {
            say("adload learn: publishing failed: \(error)")
        }
    }
}
