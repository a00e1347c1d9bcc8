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
    static func makeRun(config: EnvironmentConfig, users: Int = 12, iterations: Int, threads: Int) -> PolicyGradientRun {
        var configuration = PolicyGradientConfiguration()
        configuration.hidden = [16]
        configuration.minibatchSize = 64
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
