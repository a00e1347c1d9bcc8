// Decision and update cost of `Policies.LinearBandit` (package-benchmark).
//
// The point is to show the cost per call in µs and that neither call allocates in steady
// state. φ = c ⊗ q with |q| = 4 plan descriptors (FeatureSchema), so d = 4·|c|; measured at
// d ∈ {16, 32, 64, 128} and K ∈ {16, 64, 128} candidates. The targets at d = 64, K = 64:
// decide ≤ 30 µs, update ≤ 10 µs, no allocation per call.
//
// Every benchmark starts from a warm model: 2,048 updates (four LAPACK refreshes at the
// default `refreshInterval` of 512) on random contexts, so A is well conditioned and the
// model's storage is uniquely owned. Contexts and descriptor rows are random (seeded) with
// a leading 1 and the other values dense in (−1, 1): real contexts are mostly one-hot
// zeros, which the Kronecker scoring skips, so these are the expensive case.
//
// - `decide <algorithm> d=… K=…`: one `decide(context:descriptors:random:scratch:)` per
//   iteration, on a context and candidate set from a small pool, with the random stream
//   `CounterRandom(key:).child(iteration)` so every decision draws fresh numbers.
// - `update d=…`: one `update(context:descriptors:reward:)` per iteration. One in 512 of
//   them also refreshes A⁻¹, L and θ with LAPACK (O(d³)); that shows in the maximum
//   (p100) wall clock, not in the median.
// - `update refreshing call d=…`: only the one update in 512 that refreshes (the 511 before it
//   run unmeasured in the same iteration).
// - `refresh d=…`: `RidgeModel.refresh()` alone, to size that periodic cost.
// - `empty iteration`: the harness's own cost per iteration, for reading the sub-µs figures.
//
// Thompson sampling needs `propensity_samples` ≥ 1 (`BanditAlgorithm.validate()` rejects
// 0), so it is measured at the minimum, M = 1, and at the default, M = 100.
//
// Run from Benchmarks/:
//   swift package --allow-writing-to-package-directory benchmark --target BanditBenchmarks

import AdLoadCore
import Benchmark
import LinearAlgebra
import Policies

/// |q|: the plan descriptors of FeatureSchema.
private let descriptorCount = PlanDescriptors.count

/// |c| for d = 16, 32, 64, 128.
private let contextCounts = [4, 8, 16, 32]

private let candidateCounts = [16, 64, 128]

/// Name in the benchmark table, and the algorithm (defaults of `BanditAlgorithm.defaults(named:)`).
private let algorithms: [(name: String, algorithm: BanditAlgorithm)] = [
    ("linucb", .linUCB(alpha: 1, explorationFloor: 0.01)),
    ("thompson M=1", .thompson(scale: 1, propensitySamples: 1)),
    ("thompson M=100", .thompson(scale: 1, propensitySamples: 100)),
    ("egreedy", .epsilonGreedy(epsilon: 0.05)),
    ("softmax", .softmax(temperature: 0.1)),
]

/// Updates applied before measuring: four refresh intervals.
private let warmUpdates = 2_048

/// Contexts (and candidate sets) cycled through by the measured calls.
private let poolSize = 64

/// Seeded random inputs of one size.
private struct Workload {
    /// `poolSize` contexts of |c| values, c[0] = 1.
    let contexts: [[Double]]
    /// `poolSize` candidate sets, each K rows of |q| values with q[0] = 1, row after row.
    let candidateSets: [[Double]]
    /// `poolSize` single descriptor rows (a chosen plan's q) and their rewards, for updates.
    let chosen: [[Double]]
    let rewards: [Double]

    init(contextCount: Int, candidates: Int, seed: UInt64) {
        let random = CounterRandom(seed: seed, domain: UInt64(contextCount * 1_000 + candidates))
        func row(_ count: Int, _ stream: CounterRandom) -> [Double] {
            (0..<count).map { $0 == 0 ? 1 : stream.uniform(UInt64($0)) * 2 - 1 }
        }
        let contextStream = random.child(0)
        let candidateStream = random.child(1)
        let chosenStream = random.child(2)
        let contexts = (0..<poolSize).map { row(contextCount, contextStream.child(UInt64($0))) }
        let chosen = (0..<poolSize).map { row(descriptorCount, chosenStream.child(UInt64($0))) }
        self.contexts = contexts
        self.chosen = chosen
        candidateSets = (0..<poolSize).map { set in
            (0..<candidates).flatMap { row(descriptorCount, candidateStream.child(UInt64(set)).child(UInt64($0))) }
        }
        // A fixed true Θ, plus noise: rewards of the order of one, as the model would see.
        let truth = row(contextCount * descriptorCount, random.child(3))
        let noise = random.child(4)
        rewards = (0..<poolSize).map { k in
            var mean = 0.0
            for i in 0..<contextCount {
                for j in 0..<descriptorCount {
                    mean += truth[i * descriptorCount + j] * contexts[k][i] * chosen[k][j]
                }
            }
            return mean + 0.1 * noise.normal(UInt64(k))
        }
    }
}

extension LinearBandit {
    /// Applies the workload's next observation: the n-th update (n = `model.updateCount`) pairs
    /// context n mod 64 with a chosen plan that shifts every 64 updates.
    @inline(__always)
    fileprivate mutating func learnNext(from workload: Workload) {
        let step = model.updateCount
        let k = step % poolSize
        update(
            context: workload.contexts[k], descriptors: workload.chosen[(step / poolSize + k) % poolSize],
            reward: workload.rewards[k])
    }
}

/// A bandit with `warmUpdates` updates behind it.
private func warmBandit(contextCount: Int, algorithm: BanditAlgorithm, workload: Workload) throws -> LinearBandit {
    var bandit = try LinearBandit(contextCount: contextCount, descriptorCount: descriptorCount, algorithm: algorithm)
    for _ in 0..<warmUpdates {
        bandit.learnNext(from: workload)
    }
    return bandit
}

/// What a decide benchmark reads and writes (a class, so the per-iteration cast is a pointer check).
private final class DecideState {
    let bandit: LinearBandit
    var scratch: BanditScratch
    let workload: Workload
    let random = CounterRandom(key: 0xDEC1DE)

    init(bandit: LinearBandit, workload: Workload, candidates: Int) {
        self.bandit = bandit
        scratch = bandit.makeScratch(maxCandidates: candidates)
        self.workload = workload
    }
}

/// What an update benchmark mutates.
private final class UpdateState {
    var bandit: LinearBandit
    let workload: Workload

    init(bandit: LinearBandit, workload: Workload) {
        self.bandit = bandit
        self.workload = workload
    }
}

private final class RefreshState {
    var model: RidgeModel

    init(model: RidgeModel) {
        self.model = model
    }
}

let benchmarks: @Sendable () -> Void = {
    // Pin OpenBLAS to one thread, as the server does (BUILD-NOTES.md).
    configureSingleThreadedBLAS()

    let metrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal]
    let configuration = Benchmark.Configuration(
        metrics: metrics, warmupIterations: 20, maxDuration: .milliseconds(700), maxIterations: 20_000)

    Benchmark("empty iteration", configuration: configuration) { benchmark in
        blackHole(benchmark.currentIteration)
    }

    for contextCount in contextCounts {
        let d = contextCount * descriptorCount
        for candidates in candidateCounts {
            for (name, algorithm) in algorithms {
                let benchmarkName = "decide \(name) d=\(d) K=\(candidates)"
                Benchmark(benchmarkName, configuration: configuration) { (benchmark: Benchmark, state: DecideState) in
                    let k = benchmark.currentIteration % poolSize
                    let choice = state.bandit.decide(
                        context: state.workload.contexts[k], descriptors: state.workload.candidateSets[k],
                        random: state.random.child(UInt64(benchmark.currentIteration)), scratch: &state.scratch)
                    blackHole(choice)
                } setup: {
                    let workload = Workload(contextCount: contextCount, candidates: candidates, seed: 1)
                    let bandit = try warmBandit(contextCount: contextCount, algorithm: algorithm, workload: workload)
                    return DecideState(bandit: bandit, workload: workload, candidates: candidates)
                }
            }
        }

        Benchmark("update d=\(d)", configuration: configuration) { (_: Benchmark, state: UpdateState) in
            state.bandit.learnNext(from: state.workload)
        } setup: {
            let workload = Workload(contextCount: contextCount, candidates: 1, seed: 1)
            let bandit = try warmBandit(contextCount: contextCount, algorithm: algorithms[0].algorithm, workload: workload)
            return UpdateState(bandit: bandit, workload: workload)
        }

        // Only the update that triggers the refresh is measured: the 511 before it run outside
        // the measured region (`startMeasurement()`), so every sample is a refreshing call.
        // (A new model counts updates and updates since its last refresh together from 0, so it
        // refreshes exactly when `updateCount` reaches a multiple of the interval.)
        Benchmark("update refreshing call d=\(d)", configuration: configuration) { (benchmark: Benchmark, state: UpdateState) in
            let interval = state.bandit.model.refreshInterval
            while (state.bandit.model.updateCount + 1) % interval != 0 {
                state.bandit.learnNext(from: state.workload)
            }
            benchmark.startMeasurement()
            state.bandit.learnNext(from: state.workload)
            benchmark.stopMeasurement()
        } setup: {
            let workload = Workload(contextCount: contextCount, candidates: 1, seed: 1)
            let bandit = try warmBandit(contextCount: contextCount, algorithm: algorithms[0].algorithm, workload: workload)
            return UpdateState(bandit: bandit, workload: workload)
        }

        Benchmark("refresh d=\(d)", configuration: configuration) { (_: Benchmark, state: RefreshState) throws in
            try state.model.refresh()
        } setup: {
            let workload = Workload(contextCount: contextCount, candidates: 1, seed: 1)
            let bandit = try warmBandit(contextCount: contextCount, algorithm: algorithms[0].algorithm, workload: workload)
            return RefreshState(model: bandit.model)
        }
    }
}
