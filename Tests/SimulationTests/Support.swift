import Foundation
import Simulation

/// The package root, found from this file's path, so tests read the shipped env files.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func shippedEnvironment(_ name: String) throws -> EnvironmentConfig {
    try EnvironmentConfig.load(path: packageRoot.appendingPathComponent("env/\(name).json").path)
}

let testThreads = max(2, ProcessInfo.processInfo.activeProcessorCount)
