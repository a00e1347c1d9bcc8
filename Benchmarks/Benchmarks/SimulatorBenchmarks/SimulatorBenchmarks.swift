// Allocation and instruction counts of the simulator's hot paths (package-benchmark).
//
// The point is to show that simulating a user allocates nothing per session or position:
// the horizon benchmarks run the same user over 30 and 120 days (about 5× the sessions)
// and their mallocs per iteration should be the same small constant (0 today). The
// placement-rule benchmarks (a plan for a 400-item feed, and checking one) should not
// allocate at all. Instruction counts run as separate benchmarks, and only where the
// machine has hardware performance counters.
//
// Run from Benchmarks/: swift package --allow-writing-to-package-directory benchmark

import AdLoadCore
import Benchmark
import Simulation

/// env/default.json, found from this file's location (Benchmarks/Benchmarks/SimulatorBenchmarks/).
private func loadDefaultConfig() -> EnvironmentConfig {
    let path = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(4).joined(separator: "/"))
        + "/env/default.json"
    do {
        return try EnvironmentConfig.load(path: path)
    } catch {
        fatalError("SimulatorBenchmarks: cannot load \(path): \(error)")
    }
}

/// A typical user: among the first 101 users of population seed 1, the one with the median
/// number of sessions over 120 days under `policy`.
private func typicalUser(model: EnvironmentModel, policy: CadencePolicy, luckSeed: UInt64) -> UserProfile {
    var candidates: [(sessions: Int, user: UserProfile)] = []
    for index in 0...100 {
        let user = model.user(index, populationSeed: 1)
        do {
            var worker = policy.makeWorker()
            let outcome = try model.simulateUser(user, worker: &worker, policyName: policy.name, luckSeed: luckSeed, days: 120)
            candidates.append((outcome.sessions, user))
        } catch {
            fatalError("SimulatorBenchmarks: \(error)")
        }
    }
    candidates.sort { $0.sessions < $1.sessions }
    return candidates[candidates.count / 2].user
}

private enum Metrics {
    /// Sessions simulated per iteration (constant: same user, same luck).
    static let sessions = BenchmarkMetric.custom("sessions", polarity: .prefersLarger, useScalingFactor: false)
    /// Feed positions (items + ads) simulated per iteration.
    static let positions = BenchmarkMetric.custom("positions", polarity: .prefersLarger, useScalingFactor: false)
}

/// Whether instruction counts can be read: on Linux, perf_events needs a hardware PMU
/// (a VM without one has no `cpu` event source and the metric would stay empty).
private let hardwareCountersAvailable: Bool = {
    #if os(Linux)
    access("/sys/bus/event_source/devices/cpu", F_OK) == 0
    #else
    true
    #endif
}()

let benchmarks: @Sendable () -> Void = {
    let model = EnvironmentModel(config: loadDefaultConfig())
    let policy = CadencePolicy.fixed(every: 12)
    let luckSeed: UInt64 = 1
    let user = typicalUser(model: model, policy: policy, luckSeed: luckSeed)

    // Instructions are measured in separate benchmarks: asking for `.instructions` makes
    // package-benchmark sample operating-system stats (/proc reads) inside the measured
    // region, which adds 16 mallocs per iteration to the malloc counts.
    // No ARC metrics: with Swift 6.3 on Linux they need the RuntimeInterposer trait (left
    // off in Package.swift), and the retain hook crashes without it.
    let horizonMetrics: [BenchmarkMetric] = [
        .wallClock, .mallocCountTotal, .mallocBytesCount, Metrics.sessions, Metrics.positions,
    ]
    for days in [30, 120] {
        Benchmark(
            "simulateUser fixed:every=12 \(days) days",
            configuration: .init(metrics: horizonMetrics, warmupIterations: 3, maxDuration: .seconds(2), maxIterations: 2_000)
        ) { benchmark throws in
            var worker = policy.makeWorker()
            let outcome = try model.simulateUser(user, worker: &worker, policyName: policy.name, luckSeed: luckSeed, days: days)
            benchmark.stopMeasurement()
            benchmark.measurement(Metrics.sessions, outcome.sessions)
            benchmark.measurement(Metrics.positions, outcome.items + outcome.ads)
            blackHole(outcome)
        }
    }

    // Placement rules on a 400-item feed, region "na" of env/default.json (share cap 0.25).
    let rules = model.config.regions.first { $0.name == "na" }?.rules ?? model.config.regions[0].rules
    let feedLength = 400
    let plan = rules.cadencePlan(every: 12, feedLength: feedLength, adsToday: 0)
    precondition(plan.count > 0 && rules.violation(of: plan, feedLength: feedLength, adsToday: 0) == nil)
    let ruleMetrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, .throughput]

    // identity() is opaque to the optimizer, so the loop-invariant calls are not hoisted.
    Benchmark(
        "PlacementRules.cadencePlan every=12 feed=400",
        configuration: .init(metrics: ruleMetrics, scalingFactor: .kilo, maxDuration: .seconds(2))
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(rules.cadencePlan(every: 12, feedLength: identity(feedLength), adsToday: 0))
        }
    }
    Benchmark(
        "PlacementRules.violation(of:) feed=400",
        configuration: .init(metrics: ruleMetrics, scalingFactor: .kilo, maxDuration: .seconds(2))
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(rules.violation(of: plan, feedLength: identity(feedLength), adsToday: 0))
        }
    }

    // For contrast, outside simulateUser: drawing a user builds small arrays (population shares).
    Benchmark(
        "UserProfile draw",
        configuration: .init(metrics: ruleMetrics, scalingFactor: .kilo, maxDuration: .seconds(2))
    ) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(model.user(index, populationSeed: 1))
        }
    }

    guard hardwareCountersAvailable else { return }
    let instructionMetrics: [BenchmarkMetric] = [.instructions]
    Benchmark(
        "instructions: simulateUser fixed:every=12 120 days",
        configuration: .init(metrics: instructionMetrics, warmupIterations: 3, maxDuration: .seconds(2), maxIterations: 1_000)
    ) { _ throws in
        var worker = policy.makeWorker()
        blackHole(try model.simulateUser(user, worker: &worker, policyName: policy.name, luckSeed: luckSeed, days: 120))
    }
    Benchmark(
        "instructions: PlacementRules.cadencePlan every=12 feed=400",
        configuration: .init(metrics: instructionMetrics, scalingFactor: .kilo, maxDuration: .seconds(1))
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(rules.cadencePlan(every: 12, feedLength: identity(feedLength), adsToday: 0))
        }
    }
    Benchmark(
        "instructions: PlacementRules.violation(of:) feed=400",
        configuration: .init(metrics: instructionMetrics, scalingFactor: .kilo, maxDuration: .seconds(1))
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(rules.violation(of: plan, feedLength: identity(feedLength), adsToday: 0))
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
