import COpenBLAS

/// Pins OpenBLAS to one thread and returns the CPU core name it selected, for logging.
///
/// OpenBLAS threading makes the small calls of online learners slower; call this
/// once at startup. It affects the whole process.
/// - Returns: The core name, as `openBLASCoreName()`.
@discardableResult
public func configureSingleThreadedBLAS() -> String {
    openblas_set_num_threads(1)
    return openBLASCoreName()
}

/// OpenBLAS pinned to one thread, once per process, before this module's first LAPACK or
/// BLAS call (every wrapper reads it).
///
/// Threaded, OpenBLAS's `dpotrf` and `dpotri` block by thread count and its `ddot` and
/// `dgemv` split their sums, so the same inputs on two threads and on one differ in the
/// last bits (232 of the 1,024 elements of a 32 × 32 inverse on a 2-core machine). The
/// executable pins one thread at startup (`configureSingleThreadedBLAS()`), but a test
/// process or another user of the library would compute with one thread per core until
/// something pinned it, and two results that must be bit-equal (a ridge model's refresh
/// and the same model restored) could fall on either side of the switch.
let pinnedToOneThread: Void = openblas_set_num_threads(1)

/// The name of the CPU core OpenBLAS tuned its kernels for (`openblas_get_corename`), such as "Haswell".
package func openBLASCoreName() -> String {
    guard let name = openblas_get_corename() else {
        return "unknown"
    }
    return String(cString: name)
}

/// The number of threads OpenBLAS currently uses (`openblas_get_num_threads`).
func openBLASThreadCount() -> Int {
    Int(openblas_get_num_threads())
}
