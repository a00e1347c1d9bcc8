import Foundation
import FuzzTargets
import Testing

@Suite("Fuzz corpus: every seed and every crash the fuzzers found runs through its target without a crash")
struct FuzzCorpusTests {
    /// `Tests/FuzzCorpus/<target>/`: `ok-*` must be accepted, `bad-*` refused with an error,
    /// `any-*` and `crash-*` (a fuzzer's finding, fixed) only must not crash. The shipped
    /// policies, environments and targets files are seeds too, and must be accepted.
    static func inputs(_ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let fileManager = FileManager.default
        var folders = [packageRoot.appendingPathComponent("Tests/FuzzCorpus/\(target.rawValue)")]
        switch target {
        case .policy: folders.append(packageRoot.appendingPathComponent("policies"))
        case .environment: folders.append(packageRoot.appendingPathComponent("env"))
        case .targets: folders.append(packageRoot.appendingPathComponent("env/targets"))
        case .decide, .feedback: break
        }
        var inputs: [(String, [UInt8])] = []
        for folder in folders {
            for name in try fileManager.contentsOfDirectory(atPath: folder.path).sorted() where name.hasSuffix(".json") {
                let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
                let shipped = !folder.path.contains("FuzzCorpus")
                inputs.append((shipped ? "ok-shipped-\(name)" : name, bytes))
            }
        }
        return inputs
    }

    @Test("each target's corpus", arguments: FuzzTarget.allCases)
    func corpus(_ target: FuzzTarget) throws {
        let harness = try FuzzHarness(root: packageRoot)
        let inputs = try Self.inputs(target)
        #expect(inputs.contains { $0.name.hasPrefix("ok-") } && inputs.contains { $0.name.hasPrefix("bad-") || target == .targets })
        for (name, bytes) in inputs {
            let accepted = harness.run(target, bytes)
            if name.hasPrefix("ok-") { #expect(accepted, "\(target)/\(name) must be accepted") }
            if name.hasPrefix("bad-") { #expect(!accepted, "\(target)/\(name) must be refused") }
        }
    }

    @Test("the decide fast path and the strict decoder agree on every decide seed cut at every byte")
    func truncations() throws {
        let harness = try FuzzHarness(root: packageRoot)
        for (_, bytes) in try Self.inputs(.decide) {
            for end in 0...bytes.count { harness.run(.decide, Array(bytes[..<end])) }
        }
        #expect(try harness.run(.decide, Self.inputs(.decide).first { $0.name == "ok-plain.json" }?.bytes ?? []))
    }
}
