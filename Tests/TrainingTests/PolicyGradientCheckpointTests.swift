import AdLoadCore
import Foundation
import Networks
import Policies
import PolicyGradient
@testable import Simulation
import Testing
@testable import Training

@Suite("Policy-gradient checkpoints")
struct PolicyGradientCheckpointTests {
    static func makeRun(
        config: EnvironmentConfig, users: Int = 12, iterations: Int, threads: Int, pairs: Int = 1, branching: Branching? = nil
    ) -> PolicyGradientRun {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [16]
        configuration.minibatchSize = 64
        configuration.pairedRollouts = pairs
        configuration.branching = branching
        return PolicyGradientRun(
            model: EnvironmentModel(config: config), schema: config.featureSchema,
            setup: SimulationSetup(users: users, days: 6, seed: 21), configuration: configuration, engagementWeight: 0,
            iterations: iterations, episodesPerIteration: 6, threads: threads)
    }

    static func header(_ config: EnvironmentConfig) -> PolicyHeader {
        PolicyHeader(
            schema: config.featureSchema, planFamily: config.planCatalog().family, reward: ["revenue": 1],
            provenance: PolicyProvenance(
                environment: config.name, environmentFile: "env/default.json", environmentFingerprint: config.fingerprint, seed: 21,
                sessions: 0, users: 12, days: 6, trainedAt: "2026-12-03T00:00:00Z", source: .simulation))
    }

    @Test("a run resumed from a checkpoint (through its bytes, on another thread count) ends with the uninterrupted run's policy")
    func resumeIsExact() throws {
        let config = try defaultEnvironment()
        let header = Self.header(config)
        let uninterrupted = try Self.makeRun(config: config, iterations: 4, threads: 2).run(header: header)

        var saved: [UInt8] = []
        let first = Self.makeRun(config: config, iterations: 2, threads: 2)
        _ = try first.run(header: header, checkpointEvery: 2) { saved = $0.encoded() }
        #expect(!saved.isEmpty)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).checkpoint").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(saved).write(to: URL(fileURLWithPath: path))

        let second = Self.makeRun(config: config, iterations: 4, threads: 1)
        let shape = second.shape
        let checkpoint = try PolicyGradientCheckpoint.load(
            path: path, configuration: second.configuration, observationCount: shape.observations, actionCount: shape.actions)
        #expect(checkpoint.iteration == 2 && checkpoint.curve.count == 2)
        #expect(checkpoint.mismatch(with: second.identity) == nil)
        let resumed = try second.run(header: header, resume: checkpoint)

        #expect(resumed.policy.network == uninterrupted.policy.network)
        #expect(resumed.policy.mean == uninterrupted.policy.mean && resumed.policy.standardDeviation == uninterrupted.policy.standardDeviation)
        #expect(resumed.curve.map(\.meanReturn) == uninterrupted.curve.map(\.meanReturn))
        #expect(resumed.curve.map(\.statistics) == uninterrupted.curve.map(\.statistics))
        // Without the checkpoint's optimizer moments the continuation differs: what the file
        // keeps is needed, and this test can tell.
        var forgetful = checkpoint
        forgetful.policyOptimizer = Adam(
            for: checkpoint.model.policy, learningRate: second.configuration.learningRate,
            maxGradientNorm: second.configuration.maxGradientNorm)
        let restarted = try second.run(header: header, resume: forgetful)
        #expect(restarted.policy.network != uninterrupted.policy.network)
    }

    @Test("paired rollouts run each user several times on its luck with its own draws, whatever the thread count")
    func pairedRollouts() throws {
        let config = try defaultEnvironment()
        let run = Self.makeRun(config: config, iterations: 2, threads: 2, pairs: 3)
        let episodes = SimulatedEpisodes(model: run.model, schema: run.schema, setup: run.setup, engagementWeight: 0)
        let trainer = PolicyGradientTrainer(
            observationCount: episodes.observationCount, actionCount: episodes.actionCount, configuration: run.configuration, seed: 21)
        let batch = run.collect(trainer, episodes: episodes, iteration: 1, random: CounterRandom(seed: 21, domain: 1))
        // 6 episodes = 2 users × 3 rollouts, grouped by user, in order.
        #expect(batch.episodeGroups == [0, 0, 0, 1, 1, 1])
        var starts = [0]
        for t in 0..<batch.count where batch.episodeEnds[t] && t + 1 < batch.count { starts.append(t + 1) }
        let n = episodes.observationCount
        let firstObservation = starts.map { Array(batch.observations[($0 * n)..<(($0 + 1) * n)]) }
        #expect(firstObservation[0] == firstObservation[1] && firstObservation[1] == firstObservation[2], "one user, one luck: the same first session")
        let actions = starts.map { start in Array(batch.actions[start..<min(batch.count, start + 20)]) }
        #expect(actions[0] != actions[1] || actions[1] != actions[2], "each rollout draws its own actions")
        #expect(batch.times.count == batch.count)

        let header = Self.header(config)
        let one = try Self.makeRun(config: config, iterations: 2, threads: 1, pairs: 3).run(header: header)
        let three = try Self.makeRun(config: config, iterations: 2, threads: 3, pairs: 3).run(header: header)
        let unpaired = try Self.makeRun(config: config, iterations: 2, threads: 1).run(header: header)
        #expect(one.policy.network == three.policy.network)
        #expect(one.policy.network != unpaired.policy.network)
        #expect(one.policy.settings.contains { $0.name == "paired_rollouts" && $0.value == 3 })
    }

    @Test("branched runs train on the branch points only, count every session simulated, and do not depend on the thread count")
    func branchedRuns() throws {
        let config = try defaultEnvironment()
        let header = Self.header(config)
        let branching = Branching(points: 3, actions: 2)
        let one = try Self.makeRun(config: config, iterations: 2, threads: 1, branching: branching).run(header: header)
        let three = try Self.makeRun(config: config, iterations: 2, threads: 3, branching: branching).run(header: header)
        #expect(one.policy.network == three.policy.network)
        #expect(one.curve.map(\.steps) == three.curve.map(\.steps))
        #expect(one.policy.settings.contains { $0.name == "branch_points" && $0.value == 3 })
        let run = Self.makeRun(config: config, iterations: 2, threads: 2, branching: branching)
        let episodes = SimulatedEpisodes(model: run.model, schema: run.schema, setup: run.setup, engagementWeight: 0)
        let trainer = PolicyGradientTrainer(
            observationCount: episodes.observationCount, actionCount: episodes.actionCount, configuration: run.configuration, seed: 21)
        let batch = run.collect(trainer, episodes: episodes, iteration: 1, random: CounterRandom(seed: 21, domain: 1))
        let plain = Self.makeRun(config: config, iterations: 2, threads: 2)
            .collect(trainer, episodes: episodes, iteration: 1, random: CounterRandom(seed: 21, domain: 1))
        #expect(batch.count == batch.advantages.count && batch.count <= 6 * 3 * 2, "at most 3 points × 2 actions for each of 6 users")
        #expect(batch.simulatedSteps > plain.simulatedSteps, "the branches' continuations are simulated too")
        #expect(plain.simulatedSteps == plain.count)
    }

    @Test("a checkpoint names the setting that differs, and a damaged one is refused by its checksum")
    func mismatchAndDamage() throws {
        let config = try defaultEnvironment()
        var bytes: [UInt8] = []
        let run = Self.makeRun(config: config, iterations: 1, threads: 1)
        _ = try run.run(header: Self.header(config), checkpointEvery: 1) { bytes = $0.encoded() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).checkpoint").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let shape = run.shape
        let checkpoint = try PolicyGradientCheckpoint.load(
            path: path, configuration: run.configuration, observationCount: shape.observations, actionCount: shape.actions)
        let other = Self.makeRun(config: config, users: 13, iterations: 3, threads: 1)
        #expect(checkpoint.mismatch(with: other.identity) == "it was trained with users=12; this run has users=13")

        // A setting on one side only is refused either way: branches cut short, or drawn distinct.
        let whole = Self.makeRun(config: config, iterations: 3, threads: 1, branching: Branching(points: 3, actions: 2))
        for (setting, branching) in [
            ("branch_days=5.0", Branching(points: 3, actions: 2, horizon: 5)), ("branch_distinct=1.0", Branching(points: 3, actions: 2, distinct: true)),
        ] {
            var trained = checkpoint
            trained.identity = Self.makeRun(config: config, iterations: 1, threads: 1, branching: branching).identity
            let name = String(setting.prefix { $0 != "=" })
            #expect(trained.mismatch(with: whole.identity) == "it was trained with \(setting); this run has no \(name)")
            var plain = checkpoint
            plain.identity = whole.identity
            let cut = Self.makeRun(config: config, iterations: 3, threads: 1, branching: branching)
            #expect(plain.mismatch(with: cut.identity) == "it was trained with \(name)=(absent); this run has \(setting)")
            #expect(trained.mismatch(with: cut.identity) == nil)
        }
        let cut = Self.makeRun(config: config, iterations: 3, threads: 1, branching: Branching(points: 3, actions: 2, horizon: 5))
        var valued = checkpoint
        valued.identity = Self.makeRun(config: config, iterations: 1, threads: 1, branching: Branching(points: 3, actions: 2, horizon: 5, valuedAtCut: true)).identity
        #expect(valued.mismatch(with: cut.identity) == "it was trained with branch_value=1.0; this run has no branch_value")

        bytes[bytes.count / 2] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try PolicyGradientCheckpoint.load(
                path: path, configuration: run.configuration, observationCount: shape.observations, actionCount: shape.actions)
        } throws: { error in
            (error as? PolicyGradientCheckpointError)?.problem == "checksum mismatch: the file is damaged or was edited"
        }
    }
}
