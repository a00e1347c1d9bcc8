import CLibFuzzer
import Foundation
import FuzzTargets

/// The libFuzzer executable of `scripts/fuzz`: built only with `ADLOAD_FUZZ=1` (Package.swift),
/// instrumented with `-sanitize=fuzzer,address`. `ADLOAD_FUZZ_TARGET` names the
/// ``FuzzTarget``; the repository is the working directory. SwiftPM gives an executable its
/// own `main`, so this one runs libFuzzer's driver itself.
@main
enum FuzzEntry {
    /// The harness and target, made before the loop starts; libFuzzer calls from this one thread.
    nonisolated(unsafe) static var state: (FuzzHarness, FuzzTarget)?

    static func main() {
        let name = ProcessInfo.processInfo.environment["ADLOAD_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("ADLOAD_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")), got \(name)")
        }
        do {
            state = (try FuzzHarness(root: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)), target)
        } catch {
            fatalError("run from the repository root: \(error)")
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            guard let (harness, target) = FuzzEntry.state else { return 0 }
            harness.run(target, data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
    }
}
