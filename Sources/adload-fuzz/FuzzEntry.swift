import FuzzTargets
import Foundation

/// The libFuzzer entry of `scripts/fuzz`: built only with `ADLOAD_FUZZ=1` (Package.swift),
/// with `-sanitize=fuzzer,address`. `ADLOAD_FUZZ_TARGET` names the ``FuzzTarget``; the
/// repository is the working directory.
enum FuzzEntry {
    /// The harness and target, made on the first input (libFuzzer calls from one thread).
    nonisolated(unsafe) static var state: (FuzzHarness, FuzzTarget)?

    static func setUp() -> (FuzzHarness, FuzzTarget) {
        let name = ProcessInfo.processInfo.environment["ADLOAD_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("ADLOAD_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")), got \(name)")
        }
        do {
            return (try FuzzHarness(root: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)), target)
        } catch {
            fatalError("run from the repository root: \(error)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let (harness, target) = FuzzEntry.state ?? FuzzEntry.setUp()
    FuzzEntry.state = (harness, target)
    harness.run(target, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
