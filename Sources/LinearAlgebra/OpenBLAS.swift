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
