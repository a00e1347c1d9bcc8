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
            FileHandle.standardError.write(Data(
                "adload-fuzz: ADLOAD_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'\n".utf8))
            exit(2)
        }
        do {
            state = (try FuzzHarness(root: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)), target)
        } catch {
            FileHandle.standardError.write(Data("adload-fuzz: run from the repository root (policies/, env/): \(error)\n".utf8))
            exit(2)
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
