// Decision cost of the shipped policy files, of every kind, through the policy contract
// (package-benchmark): `StandaloneDecider` loads a file from ../policies and decides among
// the valid plans of region 0 of env/default.json for the longest feed (every plan of the
// catalog that the region allows), as `/v1/decide` does between reading the user's state
// and logging. The target for the shipped PPO policy: ≤ 20 µs and no allocation per call.
//
// - `decide <file>`: one decision per iteration on an encoded context from a pool of 64
//   (seeded values in (−1, 1): a network's cost does not depend on them, a bandit's
//   Kronecker scoring skips zeros, so these are its expensive case), with the random
//   stream `CounterRandom(key:).child(iteration)`.
//
// Run from Benchmarks/:
//   swift package --allow-writing-to-package-directory benchmark --target PolicyBenchmarks

import AdLoadCore
import Benchmark
import Foundation
import LinearAlgebra
import Policies
import Simulation

/// The shipped files measured, relative to the repository root; a missing one is skipped.
private let files = [
    "policies/default-ppo.json", "policies/default-linucb.json", "policies/default-thompson.json",
    "policies/default-egreedy.json", "policies/default-softmax.json",
]

/// Contexts cycled through by the measured calls.
private let poolSize = 64

/// What a decide benchmark reads (a class, so the per-iteration cast is a pointer check).
private final class DecideState {
    let decider: StandaloneDecider
    let contexts: [[Double]]
    let random = CounterRandom(key: 0xDEC1DE)

    init(decider: StandaloneDecider) {
        self.decider = decider
        let values = CounterRandom(seed: 1, domain: UInt64(decider.contextCount))
        contexts = (0..<poolSize).map { k in
            (0..<decider.contextCount).map { values.child(UInt64(k)).uniform(UInt64($0)) * 2 - 1 }
        }
    }
}

/// The repository root: the parent of the Benchmarks package, found from this file.
private let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let benchmarks: @Sendable () -> Void = {
    // Pin OpenBLAS to one thread, as the server does (BUILD-NOTES.md).
    configureSingleThreadedBLAS()

    let metrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal]
    let configuration = Benchmark.Configuration(
        metrics: metrics, warmupIterations: 20, maxDuration: .milliseconds(700), maxIterations: 20_000)

    Benchmark("empty iteration", configuration: configuration) { benchmark in
        blackHole(benchmark.currentIteration)
    }

    for file in files where FileManager.default.fileExists(atPath: root.appendingPathComponent(file).path) {
        Benchmark("decide \((file as NSString).lastPathComponent)", configuration: configuration) {
            (benchmark: Benchmark, state: DecideState) in
            let k = benchmark.currentIteration % poolSize
            blackHole(state.decider.decide(features: state.contexts[k], random: state.random.child(UInt64(benchmark.currentIteration))))
        } setup: {
            let environment = try EnvironmentConfig.load(path: root.appendingPathComponent("env/default.json").path)
            return DecideState(decider: try StandaloneDecider(path: root.appendingPathComponent(file).path, rules: environment.regions[0].rules))
        }
    }
}
