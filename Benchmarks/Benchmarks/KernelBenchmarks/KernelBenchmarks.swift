// The BLAS crossover of the dispatching kernels (package-benchmark).
//
// `Kernels.dot`, `axpy`, `gemv`, `ger` and `syr` call a plain Swift loop below
// `Kernels.Crossover.<op>` and OpenBLAS (CBLAS) at and above it. This target times both
// paths, `naiveX` and `blasX`, at n ∈ {4, 8, …, 256} (vectors of length n, n × n
// matrices) with OpenBLAS pinned to one thread, as the server runs it. The crossover of
// an op is the smallest n from which the BLAS path is faster; `Kernels.Crossover` holds
// the figures measured here.
//
// Each iteration makes 1,000 calls (`scalingFactor: .kilo`): run with `--scale` to read
// the time per call. Inputs alternate between two sets per call, so the optimizer cannot
// hoist a loop-invariant naive call out of the loop; the matrix-updating ops (axpy, ger,
// syr) use a tiny α so the outputs stay O(1) over millions of calls.
//
// Run from Benchmarks/:
//   swift package --allow-writing-to-package-directory benchmark --target KernelBenchmarks --scale

import AdLoadCore
import Benchmark
import LinearAlgebra

/// Runs `body` on `value` with one dynamic exclusivity check for the whole loop, instead of one per
/// call as an `inout` access to a captured variable would make.
@inline(__always)
private func inPlace<Value>(_ value: inout Value, _ body: (inout Value) -> Void) {
    body(&value)
}

/// The dimensions measured.
private let sizes = [4, 8, 16, 24, 32, 48, 64, 96, 128, 256]

/// Two random vectors of length n and an n × n matrix, in two sets (alternated per call).
private struct KernelInputs {
    let x: [Vector]
    let y: [Vector]
    let a: [Matrix]

    init(n: Int, seed: UInt64) {
        let random = CounterRandom(seed: seed, domain: UInt64(n))
        func values(_ count: Int, _ stream: UInt64) -> [Double] {
            let child = random.child(stream)
            return (0..<count).map { child.uniform(UInt64($0)) * 2 - 1 }
        }
        x = [Vector(values(n, 0)), Vector(values(n, 1))]
        y = [Vector(values(n, 2)), Vector(values(n, 3))]
        a = [Matrix(rows: n, columns: n, elements: values(n * n, 4)), Matrix(rows: n, columns: n, elements: values(n * n, 5))]
    }
}

/// A tiny α for the accumulating ops: outputs drift by at most 1e-6 per call.
private let alpha = 1e-9

let benchmarks: @Sendable () -> Void = {
    // Pin OpenBLAS to one thread, as the server does (BUILD-NOTES.md).
    configureSingleThreadedBLAS()

    // 1,000 calls per iteration; short runs so the 100 benchmarks take about two minutes.
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .milliseconds(300),
        maxIterations: 2_000
    )

    for n in sizes {
        let inputs = KernelInputs(n: n, seed: 1)
        let x = inputs.x
        let y = inputs.y
        let a = inputs.a

        Benchmark("dot naive n=\(n)", configuration: configuration) { benchmark in
            var sum = 0.0
            for i in benchmark.scaledIterations {
                sum += Kernels.naiveDot(x[i & 1], y[i & 1])
            }
            blackHole(sum)
        }
        Benchmark("dot blas n=\(n)", configuration: configuration) { benchmark in
            var sum = 0.0
            for i in benchmark.scaledIterations {
                sum += Kernels.blasDot(x[i & 1], y[i & 1])
            }
            blackHole(sum)
        }

        var axpyOutput = y[0]
        Benchmark("axpy naive n=\(n)", configuration: configuration) { benchmark in
            inPlace(&axpyOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.naiveAxpy(alpha: alpha, x[i & 1], into: &output)
                }
            }
            blackHole(axpyOutput)
        }
        Benchmark("axpy blas n=\(n)", configuration: configuration) { benchmark in
            inPlace(&axpyOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.blasAxpy(alpha: alpha, x[i & 1], into: &output)
                }
            }
            blackHole(axpyOutput)
        }

        // y ← A·x with β = 0: the form RidgeModel.update calls (g = A⁻¹φ).
        var gemvOutput = Vector.zeros(n)
        Benchmark("gemv naive n=\(n)", configuration: configuration) { benchmark in
            inPlace(&gemvOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.naiveGemv(a[i & 1], x[i & 1], into: &output)
                }
            }
            blackHole(gemvOutput)
        }
        Benchmark("gemv blas n=\(n)", configuration: configuration) { benchmark in
            inPlace(&gemvOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.blasGemv(a[i & 1], x[i & 1], into: &output)
                }
            }
            blackHole(gemvOutput)
        }

        // A ← A + α·x·xᵀ as a full ger, the form RidgeModel.update calls.
        var gerOutput = a[0]
        Benchmark("ger naive n=\(n)", configuration: configuration) { benchmark in
            inPlace(&gerOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.naiveGer(alpha: alpha, x[i & 1], x[i & 1], into: &output)
                }
            }
            blackHole(gerOutput)
        }
        Benchmark("ger blas n=\(n)", configuration: configuration) { benchmark in
            inPlace(&gerOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.blasGer(alpha: alpha, x[i & 1], x[i & 1], into: &output)
                }
            }
            blackHole(gerOutput)
        }

        var syrOutput = a[0]
        Benchmark("syr naive n=\(n)", configuration: configuration) { benchmark in
            inPlace(&syrOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.naiveSyr(alpha: alpha, x[i & 1], triangle: .lower, into: &output)
                }
            }
            blackHole(syrOutput)
        }
        Benchmark("syr blas n=\(n)", configuration: configuration) { benchmark in
            inPlace(&syrOutput) { output in
                for i in benchmark.scaledIterations {
                    Kernels.blasSyr(alpha: alpha, x[i & 1], triangle: .lower, into: &output)
                }
            }
            blackHole(syrOutput)
        }
    }
}
