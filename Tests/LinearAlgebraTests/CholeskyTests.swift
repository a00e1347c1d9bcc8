@testable import LinearAlgebra
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LAPACK Cholesky (dpotrf, dpotrs, dpotri) against naive reconstructions.
///
/// Inputs are M·Mᵀ + n·I with M uniform in [-1, 1], so the condition number stays
/// small; tolerances are relative to the largest element (1e-12 · n for L·Lᵀ and
/// residuals).
@Suite("Cholesky factorization")
struct CholeskyTests {
    static let sizes = [1, 2, 3, 8, 31, 32, 33, 64, 128]

    @Test("L is lower triangular with a positive diagonal and L·Lᵀ reproduces A", arguments: sizes)
    func factorReproducesMatrix(n: Int) throws {
        var generator = SplitMix64(seed: 0xC401 + UInt64(n))
        let a = Matrix.randomSPD(n, using: &generator)
        let cholesky = try Cholesky(a)
        let l = cholesky.factor

        #expect(cholesky.dimension == n)
        for i in 0..<n {
            #expect(l[i, i] > 0)
            for j in (i + 1)..<n {
                #expect(l[i, j] == 0)
            }
        }
        let reconstructed = naiveProduct(l, l.transposed())
        #expect(maxAbsDifference(reconstructed, a) <= 1e-12 * Double(n) * maxAbs(a))
    }

    @Test("solve gives A·x = b, in place and by value, for vectors and matrices", arguments: sizes)
    func solve(n: Int) throws {
        var generator = SplitMix64(seed: 0x501E + UInt64(n))
        let a = Matrix.randomSPD(n, using: &generator)
        let b = Vector.random(n, using: &generator)
        let cholesky = try Cholesky(a)
        let tolerance = 1e-12 * Double(n) * maxAbs(a)

        let x = try cholesky.solve(b)
        #expect(maxAbsDifference(naiveProduct(a, x), b) <= tolerance)

        var inPlace = b
        try cholesky.solveInPlace(&inPlace)
        #expect(inPlace == x)

        var halves = b
        cholesky.solveLowerInPlace(&halves)
        cholesky.solveLowerTransposedInPlace(&halves)
        #expect(maxAbsDifference(halves, x) <= tolerance)

        let rightHandSides = Matrix.random(rows: n, columns: 3, using: &generator)
        let solutions = try cholesky.solve(rightHandSides)
        #expect(maxAbsDifference(naiveProduct(a, solutions), rightHandSides) <= tolerance)
    }

    @Test("Preallocated workspace: factorInPlace and solveInPlace match the allocating API", arguments: [4, 40])
    func inPlaceWorkspace(n: Int) throws {
        var generator = SplitMix64(seed: 0x3045 + UInt64(n))
        var workspace = Matrix.zeros(rows: n, columns: n)
        var x = Vector.zeros(n)
        for _ in 0..<3 {
            let a = Matrix.randomSPD(n, using: &generator)
            let b = Vector.random(n, using: &generator)
            workspace.assign(a)
            try Cholesky.factorInPlace(&workspace)
            x.assign(b)
            try Cholesky.solveInPlace(factor: workspace, &x)

            let reference = try Cholesky(a)
            #expect(workspace == reference.factor)
            #expect(x == (try reference.solve(b)))
        }
    }

    @Test("Only the lower triangle of A is read")
    func readsLowerTriangleOnly() throws {
        var generator = SplitMix64(seed: 0x10E4)
        let a = Matrix.randomSPD(6, using: &generator)
        var lowerOnly = a
        for i in 0..<6 {
            for j in (i + 1)..<6 {
                lowerOnly[i, j] = .nan
            }
        }
        #expect(try Cholesky(lowerOnly) == (try Cholesky(a)))
    }

    @Test("inverse via dpotri gives A·A⁻¹ = I and is symmetric", arguments: [1, 2, 8, 33, 64])
    func inverse(n: Int) throws {
        var generator = SplitMix64(seed: 0x1A7 + UInt64(n))
        let a = Matrix.randomSPD(n, using: &generator)
        let inverse = try Cholesky(a).inverse()
        #expect(inverse == inverse.transposed())
        #expect(maxAbsDifference(naiveProduct(a, inverse), Matrix.identity(n)) <= 1e-12 * Double(n))
    }

    @Test("logDeterminant is the log of the product of eigenvalues")
    func logDeterminant() throws {
        let diagonal = try Cholesky(Matrix([[2, 0, 0], [0, 3, 0], [0, 0, 0.5]]))
        #expect(abs(diagonal.logDeterminant - log(3.0)) <= 1e-14)
        let full = try Cholesky(Matrix([[4, 2], [2, 3]]))
        #expect(abs(full.logDeterminant - log(8.0)) <= 1e-14)
    }

    @Test(
        "A matrix that is not positive definite throws notPositiveDefinite with LAPACK's info",
        arguments: [
            (Matrix([[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, -3, 0], [0, 0, 0, 4]]), Int32(3)),
            (Matrix([[1, 2], [2, 1]]), Int32(2)),
            (Matrix.zeros(rows: 3, columns: 3), Int32(1)),
            (Matrix([[1, 1, 1], [1, 1, 1], [1, 1, 1]]), Int32(2)),
            (Matrix([[.nan]]), Int32(1)),
            (Matrix([[4, 0, 0], [1, 4, 0], [0, .nan, 4]]), Int32(3)),
            (Matrix([[4, 0], [.infinity, 4]]), Int32(2)),
        ]
    )
    func notPositiveDefinite(a: Matrix, info: Int32) {
        #expect(throws: LinearAlgebraError.notPositiveDefinite(info: info)) {
            try Cholesky(a)
        }
        var workspace = a
        #expect(throws: LinearAlgebraError.notPositiveDefinite(info: info)) {
            try Cholesky.factorInPlace(&workspace)
        }
    }

    @Test("Inverting a factor with a zero diagonal throws singular with LAPACK's info")
    func singularFactor() {
        var factor = Matrix([[1, 0, 0], [2, 0, 0], [3, 4, 5]])
        #expect(throws: LinearAlgebraError.singular(info: 2)) {
            try Cholesky.invertInPlace(&factor)
        }
    }

    @Test("Error descriptions name the failure and the info value")
    func errorDescriptions() {
        #expect(LinearAlgebraError.notPositiveDefinite(info: 3).description.contains("info = 3"))
        #expect(LinearAlgebraError.singular(info: 2).description.contains("info = 2"))
        #expect(LinearAlgebraError.lapackFailure(routine: "dpotrs", info: -4).description.contains("dpotrs"))
    }
}
