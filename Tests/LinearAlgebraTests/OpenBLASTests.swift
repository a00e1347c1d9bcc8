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
}
