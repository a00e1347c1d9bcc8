// swift-tools-version: 6.1
import PackageDescription

// Layers (README "Where to start reading"): a module imports only modules below it, and
// declares every module it imports (scripts/check-imports checks that in CI).
//
//   CHiredis   COpenBLAS
//      |           |
//      |     LinearAlgebra
//      |           |
//      |      AdLoadCore           domain: context, features, plans, rules, records, JSON
//      |     +-----+------+
//      |  Simulation   Policies    environment model | the policy contract and its kinds
//      |   (Networks: MLPs and Adam on LinearAlgebra + AdLoadCore; PolicyGradient above it:
//      |    PPO and REINFORCE on any EpisodicEnvironment, GAE in simulated time)
//      |     +-----+------+
//      |        Training           simulated and logged training, off-policy evaluation
//  StateStore      |               Redis client, live store, redis-server process
//      +-----+-----+
//      |  OnlineLearning           the stream learner (StateStore + Training)
//      |           |
//  DecisionService |               HTTP service (StateStore + Policies)
//      +-----+-----+
//        AdLoadCLI                 the commands (swift-argument-parser), tested directly
//          adload                  the executable: parses and runs, nothing else
//
// Access: internal by default; `package` for what crosses modules (tests reach the rest
// with `@testable import`); `public` only for the library products below, whose client is
// the Benchmarks package (the environment model, the bandits, the kernels). The service,
// store, training and learner modules are used through the `adload` command, not as
// libraries, so they are not products.
let package = Package(
    name: "AdLoad",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "adload", targets: ["adload"]),
        .library(name: "AdLoadCore", targets: ["AdLoadCore"]),
        .library(name: "Simulation", targets: ["Simulation"]),
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "Policies", targets: ["Policies"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        // hiredis: no `pkgConfig` here on purpose. hiredis.pc adds -D_FILE_OFFSET_BITS=64,
        // which SwiftPM drops with a warning on every build; the header is on the default
        // include path as <hiredis/hiredis.h>. scripts/setup installs libhiredis-dev.
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        // zlib: gzip-compressed decision logs are read directly (docs/logs.md).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS"]),
        .target(name: "Networks", dependencies: ["AdLoadCore", "LinearAlgebra"]),
        .target(name: "PolicyGradient", dependencies: ["AdLoadCore", "LinearAlgebra", "Networks"]),
        .target(name: "AdLoadCore"),
        .target(name: "Simulation", dependencies: ["AdLoadCore"]),
        .target(name: "Policies", dependencies: ["AdLoadCore", "LinearAlgebra", "Networks"]),
        .target(name: "Training", dependencies: ["AdLoadCore", "Simulation", "Policies", "LinearAlgebra", "Networks", "PolicyGradient", "CZlib"]),
        .target(name: "StateStore", dependencies: ["CHiredis", "AdLoadCore", .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .target(name: "OnlineLearning", dependencies: ["AdLoadCore", "Policies", "Training", "StateStore", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "DecisionService",
            dependencies: ["AdLoadCore", "Policies", "StateStore", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .target(name: "AdLoadTestSupport", dependencies: ["AdLoadCore", "StateStore"], path: "Sources/AdLoadTestSupport"),
        // What the fuzz targets run (scripts/fuzz); the corpus test runs it in the suite.
        .target(name: "FuzzTargets", dependencies: ["AdLoadCore", "DecisionService", "Policies", "Simulation"]),
        .target(
            name: "AdLoadCLI",
            dependencies: [
                "AdLoadCore", "LinearAlgebra", "Simulation", "Policies", "PolicyGradient", "Training", "StateStore",
                "OnlineLearning", "DecisionService", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "adload",
            dependencies: [
                "AdLoadCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AdLoadCLITests",
            dependencies: [
                "AdLoadCLI", "AdLoadTestSupport", "Simulation", "Training", "Policies", "AdLoadCore", "StateStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "COpenBLAS"]),
        .testTarget(name: "NetworksTests", dependencies: ["Networks", "AdLoadCore", "LinearAlgebra"]),
        .testTarget(name: "PolicyGradientTests", dependencies: ["PolicyGradient", "Networks", "LinearAlgebra", "AdLoadCore"]),
        .testTarget(name: "AdLoadCoreTests", dependencies: ["AdLoadCore"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "AdLoadCore", "AdLoadTestSupport"]),
        .testTarget(name: "PoliciesTests", dependencies: ["Policies", "AdLoadCore", "LinearAlgebra", "Networks"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Policies", "Simulation", "AdLoadCore", "AdLoadTestSupport", "PolicyGradient", "Networks", "LinearAlgebra"]),
        .testTarget(
            name: "OnlineLearningTests",
            dependencies: ["OnlineLearning", "Training", "Policies", "AdLoadCore", "StateStore", "AdLoadTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "DecisionServiceTests",
            dependencies: [
                "DecisionService", "AdLoadCLI", "StateStore", "Policies", "AdLoadCore", "AdLoadTestSupport", "Networks", "FuzzTargets", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"), .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "DecisionService", "StateStore", "AdLoadTestSupport", "Training", "OnlineLearning", "Policies", "AdLoadCore", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StateStoreTests",
            dependencies: ["StateStore", "AdLoadTestSupport", "AdLoadCore", .product(name: "NIOPosix", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// `ADLOAD_FUZZ=1 swift build --scratch-path .build-fuzz --product adload-fuzz` (scripts/fuzz):
// the libFuzzer executable, with the package's own modules instrumented for coverage and
// AddressSanitizer (the dependencies are not). Normal builds never see it.
if Context.environment["ADLOAD_FUZZ"] == "1" {
    let sanitizers: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    for target in package.targets where target.type == .regular {
        target.swiftSettings = (target.swiftSettings ?? []) + sanitizers
    }
    package.targets += [
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "adload-fuzz", dependencies: ["FuzzTargets", "CLibFuzzer"], swiftSettings: sanitizers,
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])]),
    ]
}
