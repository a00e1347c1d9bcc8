import AdLoadCore
import Foundation
import LinearAlgebra
import Networks
import Policies
import PolicyGradient
@testable import Simulation
import Testing
@testable import Training

@Suite("Averaging a policy-gradient run's last iterations")
struct WeightAveragingTests {
    static func makeRun(config: EnvironmentConfig, iterations: Int, threads: Int, averageFrom: Int?) -> PolicyGradientRun {
        var run = PolicyGradientCheckpointTests.makeRun(config: config, iterations: iterations, threads: threads)
        run.averaging = averageFrom.map { WeightAveraging(from: $0) }
        return run
    }

    static func parameters(_ network: MLP) -> [Double] {
        network.layers.flatMap { $0.weights.elements + $0.bias.elements }
    }

    @Test("the running average of networks is their mean, parameter by parameter")
    func runningMean() {
        func network(_ value: Double) -> MLP {
            MLP(layers: [MLP.Layer(
                weights: Matrix(rows: 2, columns: 3, elements: (0..<6).map { Double($0) * value }), bias: Vector([value, -value]))])
        }
        var average = NetworkAverage(first: network(1))
        average.add(network(2))
        average.add(network(6))
        #expect(average.count == 3)
        #expect(Self.parameters(average.network) == Self.parameters(network(3)))
    }

    @Test("the policy written averages the policy networks after each iteration from the first averaged one")
    func averagesTheIterations() throws {
        let config = try defaultEnvironment()
        let header = PolicyGradientCheckpointTests.header(config)
        let averaged = try Self.makeRun(config: config, iterations: 4, threads: 2, averageFrom: 2).run(header: header)
        // The networks a plain run reaches after 2, 3 and 4 iterations (training does not
        // depend on the averaging).
        let snapshots = try (2...4).map { iterations in
            try Self.makeRun(config: config, iterations: iterations, threads: 1, averageFrom: nil).run(header: header).policy
        }
        let expected = (0..<Self.parameters(snapshots[0].network).count).map { index in
            snapshots.map { Self.parameters($0.network)[index] }.reduce(0, +) / 3
        }
        let written = Self.parameters(averaged.policy.network)
        #expect(written.count == expected.count)
        #expect(zip(written, expected).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) })
        #expect(averaged.policy.network != snapshots[2].network, "not the last iteration's network")
        #expect(averaged.policy.mean == snapshots[2].mean && averaged.policy.standardDeviation == snapshots[2].standardDeviation)
        #expect(averaged.policy.settings.contains { $0.name == "average_from" && $0.value == 2 })
        #expect(averaged.policy.settings.contains { $0.name == "averaged_iterations" && $0.value == 3 })
        #expect(averaged.curve.map(\.meanReturn) == (try Self.makeRun(config: config, iterations: 4, threads: 1, averageFrom: nil)
            .run(header: header).curve.map(\.meanReturn)))
    }

    @Test("a run resumed mid-average ends with the uninterrupted run's average, and a different first averaged iteration is refused")
    func resumeKeepsTheAverage() throws {
        let config = try defaultEnvironment()
        let header = PolicyGradientCheckpointTests.header(config)
        let uninterrupted = try Self.makeRun(config: config, iterations: 4, threads: 2, averageFrom: 2).run(header: header)
        var saved: [UInt8] = []
        _ = try Self.makeRun(config: config, iterations: 3, threads: 2, averageFrom: 2).run(header: header, checkpointEvery: 3) {
            saved = $0.encoded()
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).checkpoint").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(saved).write(to: URL(fileURLWithPath: path))
        let second = Self.makeRun(config: config, iterations: 4, threads: 1, averageFrom: 2)
        let shape = second.shape
        let checkpoint = try PolicyGradientCheckpoint.load(
            path: path, configuration: second.configuration, observationCount: shape.observations, actionCount: shape.actions)
        #expect(checkpoint.average?.count == 2)
        #expect(checkpoint.mismatch(with: second.identity) == nil)
        let other = Self.makeRun(config: config, iterations: 4, threads: 1, averageFrom: 3)
        #expect(checkpoint.mismatch(with: other.identity) == "it was trained with average_from=2; this run has average_from=3")
        let resumed = try second.run(header: header, resume: checkpoint)
        #expect(resumed.policy.network == uninterrupted.policy.network)
        // Without the checkpoint's average the result differs: the file's average is needed.
        var forgetful = checkpoint
        forgetful.average = nil
        #expect(try second.run(header: header, resume: forgetful).policy.network != uninterrupted.policy.network)
    }

    @Test("an earlier stop keeps the policy the shorter run writes, averaged or not, and a run resumed mid-stop keeps it too")
    func earlierStops() throws {
        let config = try defaultEnvironment()
        let header = PolicyGradientCheckpointTests.header(config)
        func run(stops: [EarlierStop]) -> PolicyGradientRun {
            var run = Self.makeRun(config: config, iterations: 4, threads: 2, averageFrom: 3)
            run.earlierStops = stops
            return run
        }
        let stops = [EarlierStop(iteration: 2, averaging: nil), EarlierStop(iteration: 3, averaging: WeightAveraging(from: 2))]
        let long = try run(stops: stops).run(header: header)
        #expect(long.earlier.count == 2)
        let plain = try Self.makeRun(config: config, iterations: 2, threads: 1, averageFrom: nil).run(header: header)
        #expect(long.earlier[0].network == plain.policy.network, "the network after iteration 2")
        #expect(!long.earlier[0].settings.contains { $0.name == "average_from" })
        let short = try Self.makeRun(config: config, iterations: 3, threads: 1, averageFrom: 2).run(header: header)
        #expect(long.earlier[1].network == short.policy.network, "the 3-iteration run's average of iterations 2 and 3")
        #expect(long.earlier[1].settings.contains { $0.name == "average_from" && $0.value == 2 })
        #expect(long.earlier[1].settings.contains { $0.name == "averaged_iterations" && $0.value == 2 })
        #expect(long.policy.network == (try run(stops: []).run(header: header)).policy.network,
                "the stops do not change the run's own policy")
        #expect(long.earlier[0].network != long.policy.network && long.earlier[1].network != long.policy.network)

        // Interrupted after iteration 2: the first stop is reached, the second's average half made.
        struct Interrupted: Error {}
        var saved: [UInt8] = []
        #expect(throws: Interrupted.self) {
            try run(stops: stops).run(header: header, checkpointEvery: 1) { state in
                guard state.iteration < 2 else {
                    saved = state.encoded()
                    throw Interrupted()
                }
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).checkpoint").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(saved).write(to: URL(fileURLWithPath: path))
        let second = run(stops: stops)
        let shape = second.shape
        let checkpoint = try PolicyGradientCheckpoint.load(
            path: path, configuration: second.configuration, observationCount: shape.observations, actionCount: shape.actions)
        #expect(checkpoint.iteration == 2 && checkpoint.earlierAverages.map { $0?.count } == [1, 1])
        #expect(checkpoint.mismatch(with: second.identity) == nil)
        #expect(checkpoint.mismatch(with: run(stops: Array(stops.prefix(1))).identity)
            == "it was trained with earlier_stops=2/0,3/2; this run has earlier_stops=2/0")
        let resumed = try second.run(header: header, resume: checkpoint)
        #expect(resumed.earlier.map(\.network) == long.earlier.map(\.network))
        #expect(resumed.policy.network == long.policy.network)
        // A run without stops goes on from it: its own policy does not need what the stops kept.
        #expect(try run(stops: []).run(header: header, resume: checkpoint).policy.network == long.policy.network)
        var forgetful = checkpoint
        forgetful.earlierAverages = [nil, nil]
        #expect(throws: TrainingError.self) { try second.run(header: header, resume: forgetful) }
        forgetful.earlierAverages = []
        #expect(throws: TrainingError.self) { try second.run(header: header, resume: forgetful) }
        // Stops out of order, at or past the last iteration, or averaging from after themselves are refused before any training.
        #expect(throws: TrainingError.self) { try run(stops: stops.reversed()).run(header: header) }
        #expect(throws: TrainingError.self) { try run(stops: [EarlierStop(iteration: 4, averaging: nil)]).run(header: header) }
        #expect(throws: TrainingError.self) { try run(stops: [EarlierStop(iteration: 2, averaging: WeightAveraging(from: 3))]).run(header: header) }
    }
}
