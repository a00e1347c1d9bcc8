import Foundation

/// Key names unique to one test in one test process, so tests can share a server (for
/// example the one named by `ADLOAD_TEST_REDIS_URL`) without touching each other's data.
struct TestKeys {
    let prefix: String

    init(_ test: String = #function) {
        prefix = "adload-test:\(ProcessInfo.processInfo.processIdentifier):\(test):"
    }

    func callAsFunction(_ name: String) -> String {
        prefix + name
    }
}
