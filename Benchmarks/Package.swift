// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package (as SwiftNIO does) so that the main build and CI
// never compile package-benchmark and its plugins. Run from this directory:
//   swift package --allow-writing-to-package-directory benchmark
// Whole-process throughput against the C baseline: ../scripts/bench-simulator.
let package = Package(
    name: "AdLoadBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "AdLoad", path: ".."),
        // Only the MallocInterposer trait: malloc counts without the Linux 6.3 ARC
        // runtime interposer (a default trait).
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SimulatorBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AdLoadCore", package: "AdLoad"),
                .product(name: "Simulation", package: "AdLoad"),
            ],
            path: "Benchmarks/SimulatorBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "BanditBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AdLoadCore", package: "AdLoad"),
                .product(name: "LinearAlgebra", package: "AdLoad"),
                .product(name: "Policies", package: "AdLoad"),
            ],
            path: "Benchmarks/BanditBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "PolicyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AdLoadCore", package: "AdLoad"),
                .product(name: "LinearAlgebra", package: "AdLoad"),
                .product(name: "Policies", package: "AdLoad"),
                .product(name: "Simulation", package: "AdLoad"),
            ],
            path: "Benchmarks/PolicyBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AdLoadCore", package: "AdLoad"),
                .product(name: "LinearAlgebra", package: "AdLoad"),
            ],
            path: "Benchmarks/KernelBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
