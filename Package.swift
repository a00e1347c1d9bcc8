// swift-tools-version: 6.1
import PackageDescription

// Layers (see DESIGN.md): lower layers never import higher ones.
//   CHiredis, COpenBLAS -> LinearAlgebra -> AdLoadCore -> Simulation -> adload
//   CHiredis -> StateStore
let package = Package(
    name: "AdLoad",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "adload", targets: ["adload"]),
        .library(name: "AdLoadCore", targets: ["AdLoadCore"]),
        .library(name: "Simulation", targets: ["Simulation"]),
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "StateStore", targets: ["StateStore"]),
        .library(name: "Policies", targets: ["Policies"]),
        .library(name: "Training", targets: ["Training"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS"]),
        .target(name: "AdLoadCore"),
        .target(name: "Simulation", dependencies: ["AdLoadCore"]),
        .target(name: "Policies", dependencies: ["AdLoadCore", "LinearAlgebra"]),
        .target(name: "Training", dependencies: ["AdLoadCore", "Simulation", "Policies", "LinearAlgebra"]),
        .target(name: "StateStore", dependencies: ["CHiredis"]),
        .target(name: "AdLoadTestSupport", dependencies: ["StateStore"], path: "Sources/AdLoadTestSupport"),
        .executableTarget(
            name: "adload",
            dependencies: [
                "AdLoadCore", "Simulation", "Policies", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "COpenBLAS"]),
        .testTarget(name: "AdLoadCoreTests", dependencies: ["AdLoadCore"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "AdLoadCore"]),
        .testTarget(name: "PoliciesTests", dependencies: ["Policies", "AdLoadCore", "LinearAlgebra"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Policies", "Simulation", "AdLoadCore"]),
        .testTarget(name: "StateStoreTests", dependencies: ["StateStore", "AdLoadTestSupport", "CHiredis"]),
    ],
    swiftLanguageModes: [.v6]
)
