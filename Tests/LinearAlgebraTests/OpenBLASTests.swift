import COpenBLAS
@testable import LinearAlgebra
import Testing

@Suite("OpenBLAS configuration")
struct OpenBLASTests {
    @Test("configureSingleThreadedBLAS pins one thread and reports the core name")
    func singleThreaded() {
        let coreName = configureSingleThreadedBLAS()
        #expect(!coreName.isEmpty)
        #expect(coreName == openBLASCoreName())
        #expect(openBLASThreadCount() == 1)
        #expect(openblas_get_num_threads() == 1)
    }

    /// Without the pin, a process that never called `configureSingleThreadedBLAS()` ran
    /// LAPACK on one thread per core until another test pinned it, and a ridge model's
    /// refresh and the same model restored differed in the last bits (RidgeModelTests).
    @Test("the first Cholesky factorization pins OpenBLAS to one thread, so a factorization repeats bit for bit")
    func choleskyPinsOneThread() throws {
        var generator = SplitMix64(seed: 0xB1A5)
        let a = Matrix.randomSPD(32, using: &generator) // naive loops: no BLAS call before the factorization
        let first = try Cholesky(a)
        #expect(openBLASThreadCount() == 1)
        #expect(try Cholesky(a) == first)
        #expect(try first.inverse() == Cholesky(a).inverse())
    }
}
