@testable import LinearAlgebra
import Testing

/// Each hot kernel: naive path vs BLAS path vs a textbook reference, and dispatch picks the right path.
///
/// Tolerance: `kernelTolerance` (1e-10 absolute) on inputs uniform in [-1, 1].
@Suite("BLAS kernels: naive and BLAS paths")
struct KernelsTests {
    @Test("dot: naive and BLAS agree with a reference sum", arguments: kernelSizes)
    func dot(n: Int) {
        var generator = SplitMix64(seed: 0xD07 + UInt64(n))
        let x = Vector.random(n, using: &generator)
        let y = Vector.random(n, using: &generator)
        let reference = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }

        let naive = Kernels.naiveDot(x, y)
        let blas = Kernels.blasDot(x, y)
        #expect(abs(naive - reference) <= kernelTolerance)
        #expect(abs(blas - reference) <= kernelTolerance)
        #expect(abs(naive - blas) <= kernelTolerance)
        #expect(Kernels.dot(x, y) == (n >= Kernels.Crossover.dot ? blas : naive))
    }

    @Test("axpy: naive and BLAS agree with a reference loop", arguments: kernelSizes)
    func axpy(n: Int) {
        var generator = SplitMix64(seed: 0xA8 + UInt64(n))
        let x = Vector.random(n, using: &generator)
        let y = Vector.random(n, using: &generator)
        let alpha = -0.75
        let reference = Vector(zip(x, y).map { alpha * $0 + $1 })

        var naive = y
        Kernels.naiveAxpy(alpha: alpha, x, into: &naive)
        var blas = y
        Kernels.blasAxpy(alpha: alpha, x, into: &blas)
        var dispatched = y
        Kernels.axpy(alpha: alpha, x, into: &dispatched)

        #expect(maxAbsDifference(naive, reference) <= kernelTolerance)
        #expect(maxAbsDifference(blas, reference) <= kernelTolerance)
        #expect(dispatched == (n >= Kernels.Crossover.axpy ? blas : naive))
    }

    @Test(
        "gemv: naive and BLAS agree on square and rectangular shapes, with and without transpose",
        arguments: kernelSizes, [false, true]
    )
    func gemv(n: Int, transposeA: Bool) {
        var generator = SplitMix64(seed: 0x6E3 + UInt64(n) * 2 + (transposeA ? 1 : 0))
        for (rows, columns) in [(n, n), (n, n + 3), (n + 3, n)] {
            let a = Matrix.random(rows: rows, columns: columns, using: &generator)
            let op = transposeA ? a.transposed() : a
            let x = Vector.random(op.columns, using: &generator)
            let y = Vector.random(op.rows, using: &generator)
            for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                let product = naiveProduct(op, x)
                let reference = Vector(zip(product, y).map { alpha * $0 + beta * $1 })

                var naive = y
                Kernels.naiveGemv(alpha: alpha, a, transposeA: transposeA, x, beta: beta, into: &naive)
                var blas = y
                Kernels.blasGemv(alpha: alpha, a, transposeA: transposeA, x, beta: beta, into: &blas)
                var dispatched = y
                Kernels.gemv(alpha: alpha, a, transposeA: transposeA, x, beta: beta, into: &dispatched)

                #expect(maxAbsDifference(naive, reference) <= kernelTolerance)
                #expect(maxAbsDifference(blas, reference) <= kernelTolerance)
                #expect(maxAbsDifference(naive, blas) <= kernelTolerance)
                #expect(dispatched == (max(rows, columns) >= Kernels.Crossover.gemv ? blas : naive))
            }
        }
    }

    @Test("gemv with beta zero ignores NaN in the output", arguments: [4, 64])
    func gemvBetaZeroIgnoresOutput(n: Int) {
        var generator = SplitMix64(seed: 0xBE7A + UInt64(n))
        let a = Matrix.random(rows: n, columns: n, using: &generator)
        let x = Vector.random(n, using: &generator)
        let reference = naiveProduct(a, x)
        for transposeA in [false, true] {
            let expected = transposeA ? naiveProduct(a.transposed(), x) : reference
            var naive = Vector(count: n, repeating: .nan)
            Kernels.naiveGemv(a, transposeA: transposeA, x, into: &naive)
            var blas = Vector(count: n, repeating: .nan)
            Kernels.blasGemv(a, transposeA: transposeA, x, into: &blas)
            #expect(maxAbsDifference(naive, expected) <= kernelTolerance)
            #expect(maxAbsDifference(blas, expected) <= kernelTolerance)
        }
    }

    @Test("ger: naive and BLAS rank-one updates agree with a reference", arguments: kernelSizes)
    func ger(n: Int) {
        var generator = SplitMix64(seed: 0x6E2 + UInt64(n))
        for (rows, columns) in [(n, n), (n, n + 5), (n + 5, n)] {
            let a = Matrix.random(rows: rows, columns: columns, using: &generator)
            let x = Vector.random(rows, using: &generator)
            let y = Vector.random(columns, using: &generator)
            let alpha = 1.5
            var reference = a
            for i in 0..<rows {
                for j in 0..<columns {
                    reference[i, j] += alpha * x[i] * y[j]
                }
            }

            var naive = a
            Kernels.naiveGer(alpha: alpha, x, y, into: &naive)
            var blas = a
            Kernels.blasGer(alpha: alpha, x, y, into: &blas)
            var dispatched = a
            Kernels.ger(alpha: alpha, x, y, into: &dispatched)

            #expect(maxAbsDifference(naive, reference) <= kernelTolerance)
            #expect(maxAbsDifference(blas, reference) <= kernelTolerance)
            #expect(dispatched == (max(rows, columns) >= Kernels.Crossover.ger ? blas : naive))
        }
    }

    @Test(
        "syr: naive and BLAS update only the chosen triangle",
        arguments: kernelSizes, [Triangle.lower, .upper]
    )
    func syr(n: Int, triangle: Triangle) {
        var generator = SplitMix64(seed: 0x5E7 + UInt64(n) * 2 + (triangle == .lower ? 0 : 1))
        let a = Matrix.random(rows: n, columns: n, using: &generator)
        let x = Vector.random(n, using: &generator)
        let alpha = -0.5
        var reference = a
        for i in 0..<n {
            for j in 0..<n where triangle == .lower ? j <= i : j >= i {
                reference[i, j] += alpha * x[i] * x[j]
            }
        }

        var naive = a
        Kernels.naiveSyr(alpha: alpha, x, triangle: triangle, into: &naive)
        var blas = a
        Kernels.blasSyr(alpha: alpha, x, triangle: triangle, into: &blas)
        var dispatched = a
        Kernels.syr(alpha: alpha, x, triangle: triangle, into: &dispatched)

        #expect(maxAbsDifference(naive, reference) <= kernelTolerance)
        #expect(maxAbsDifference(blas, reference) <= kernelTolerance)
        #expect(dispatched == (n >= Kernels.Crossover.syr ? blas : naive))
        for i in 0..<n {
            for j in 0..<n where triangle == .lower ? j > i : j < i {
                #expect(naive[i, j] == a[i, j])
                #expect(blas[i, j] == a[i, j])
            }
        }
    }

    @Test("Accumulated rank-one updates equal a full recomputation XᵀX + λI", arguments: [5, 32, 64])
    func rankOneUpdatesMatchRecomputation(d: Int) {
        var generator = SplitMix64(seed: 0x4A11 + UInt64(d))
        let observations = 3 * d
        let x = Matrix.random(rows: observations, columns: d, using: &generator)
        let lambda = 0.1

        var viaGer = Matrix.identity(d)
        var viaSyr = Matrix.identity(d)
        for i in 0..<d {
            viaGer[i, i] = lambda
            viaSyr[i, i] = lambda
        }
        for t in 0..<observations {
            let row = x.row(t)
            Kernels.ger(row, row, into: &viaGer)
            Kernels.syr(row, triangle: .lower, into: &viaSyr)
        }
        viaSyr.symmetrize(from: .lower)

        var recomputed = Matrix.identity(d)
        Kernels.gemm(x, transposeA: true, x, beta: lambda, into: &recomputed)

        let tolerance = 1e-12 * Double(observations) * maxAbs(recomputed)
        #expect(maxAbsDifference(viaGer, recomputed) <= tolerance)
        #expect(maxAbsDifference(viaSyr, recomputed) <= tolerance)
    }

    @Test(
        "gemm through cblas_dgemm matches a naive triple loop",
        arguments: [(1, 1, 1), (2, 3, 4), (8, 8, 8), (31, 33, 17), (64, 64, 64), (100, 7, 50), (128, 128, 128)]
    )
    func gemmMatchesTripleLoop(m: Int, k: Int, n: Int) {
        var generator = SplitMix64(seed: 0x6E77 + UInt64(m * 10_000 + k * 100 + n))
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let opA = Matrix.random(rows: m, columns: k, using: &generator)
                let opB = Matrix.random(rows: k, columns: n, using: &generator)
                let c = Matrix.random(rows: m, columns: n, using: &generator)
                let a = transposeA ? opA.transposed() : opA
                let b = transposeB ? opB.transposed() : opB
                let alpha = 0.75
                let beta = -1.25

                var reference = naiveProduct(opA, opB)
                for i in 0..<m {
                    for j in 0..<n {
                        reference[i, j] = alpha * reference[i, j] + beta * c[i, j]
                    }
                }

                var result = c
                Kernels.gemm(
                    alpha: alpha, a, transposeA: transposeA, b, transposeB: transposeB, beta: beta, into: &result
                )
                #expect(maxAbsDifference(result, reference) <= kernelTolerance)

                var overwritten = Matrix(rows: m, columns: n, repeating: .nan)
                Kernels.gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &overwritten)
                #expect(maxAbsDifference(overwritten, naiveProduct(opA, opB)) <= kernelTolerance)
            }
        }
    }

    @Test(
        "trsv solves triangular systems like forward and back substitution",
        arguments: [1, 2, 8, 31, 33, 64, 256], [Triangle.lower, .upper]
    )
    func trsv(n: Int, triangle: Triangle) throws {
        var generator = SplitMix64(seed: 0x7257 + UInt64(n) * 2 + (triangle == .lower ? 0 : 1))
        // Off-diagonal entries scaled by 1/n keep the system diagonally dominant: random
        // triangular matrices are otherwise exponentially ill-conditioned in n. The
        // triangle not named is left random, which `trsv` must ignore.
        var a = Matrix.random(rows: n, columns: n, using: &generator)
        for i in 0..<n {
            for j in 0..<n {
                a[i, j] = i == j ? 2 + abs(a[i, j]) : a[i, j] / Double(n)
            }
        }
        var t = Matrix.zeros(rows: n, columns: n)
        for i in 0..<n {
            for j in 0..<n where triangle == .lower ? j <= i : j >= i {
                t[i, j] = a[i, j]
            }
        }
        let b = Vector.random(n, using: &generator)

        for transposeA in [false, true] {
            let op = transposeA ? t.transposed() : t
            let reference = substitute(op, b)
            var x = b
            try Kernels.trsv(a, triangle: triangle, transposeA: transposeA, solving: &x)
            #expect(maxAbsDifference(x, reference) <= kernelTolerance)
            #expect(maxAbsDifference(naiveProduct(op, x), b) <= kernelTolerance)

            var unit = t
            for i in 0..<n {
                unit[i, i] = 1
            }
            let unitOp = transposeA ? unit.transposed() : unit
            var y = b
            try Kernels.trsv(a, triangle: triangle, transposeA: transposeA, unitDiagonal: true, solving: &y)
            #expect(maxAbsDifference(naiveProduct(unitOp, y), b) <= kernelTolerance)
        }
    }

    @Test("trsv on a zero diagonal throws a typed singular error")
    func trsvSingular() {
        let a = Matrix([[1, 0, 0], [2, 3, 0], [4, 5, 0]])
        var x: Vector = [1, 2, 3]
        #expect(throws: LinearAlgebraError.singular(info: 3)) {
            try Kernels.trsv(a, triangle: .lower, solving: &x)
        }
        #expect(x == [1, 2, 3])
    }

    @Test("In-place operations write into the caller's storage without reallocating it", arguments: [8, 64])
    func inPlaceKeepsStorage(n: Int) throws {
        var generator = SplitMix64(seed: 0x570 + UInt64(n))
        let a = Matrix.random(rows: n, columns: n, using: &generator)
        let spd = Matrix.randomSPD(n, using: &generator)
        let x = Vector.random(n, using: &generator)
        var y = Vector.random(n, using: &generator)
        var m = Matrix.random(rows: n, columns: n, using: &generator)
        var c = Matrix.zeros(rows: n, columns: n)
        let yAddress = y.withUnsafeBufferPointer { $0.baseAddress }
        let mAddress = m.withUnsafeBufferPointer { $0.baseAddress }
        let cAddress = c.withUnsafeBufferPointer { $0.baseAddress }

        for _ in 0..<3 {
            Kernels.axpy(alpha: 0.5, x, into: &y)
            Kernels.naiveAxpy(alpha: 0.5, x, into: &y)
            Kernels.blasAxpy(alpha: 0.5, x, into: &y)
            Kernels.gemv(a, x, beta: 0.5, into: &y)
            Kernels.naiveGemv(a, x, beta: 0.5, into: &y)
            Kernels.blasGemv(a, transposeA: true, x, beta: 0.5, into: &y)
            Kernels.ger(alpha: 0.1, x, y, into: &m)
            Kernels.naiveGer(alpha: 0.1, x, y, into: &m)
            Kernels.blasGer(alpha: 0.1, x, y, into: &m)
            Kernels.syr(alpha: 0.1, x, triangle: .lower, into: &m)
            Kernels.naiveSyr(alpha: 0.1, x, triangle: .upper, into: &m)
            Kernels.blasSyr(alpha: 0.1, x, triangle: .lower, into: &m)
            Kernels.gemm(a, m, into: &c)
            m.assign(spd)
            try Cholesky.factorInPlace(&m)
            try Cholesky.solveInPlace(factor: m, &y)
            try Kernels.trsv(m, triangle: .lower, solving: &y)
            try Cholesky.invertInPlace(&m)
        }
        #expect(y.withUnsafeBufferPointer { $0.baseAddress } == yAddress)
        #expect(m.withUnsafeBufferPointer { $0.baseAddress } == mAddress)
        #expect(c.withUnsafeBufferPointer { $0.baseAddress } == cAddress)
    }

    /// Solves a triangular system (lower or upper, detected from its zeros) by substitution.
    private func substitute(_ t: Matrix, _ b: Vector) -> Vector {
        let n = t.rows
        var isLower = true
        for i in 0..<n {
            for j in (i + 1)..<n where t[i, j] != 0 {
                isLower = false
            }
        }
        var x = b
        let order = isLower ? Array(0..<n) : Array((0..<n).reversed())
        for i in order {
            var sum = b[i]
            for j in 0..<n where j != i && (isLower ? j < i : j > i) {
                sum -= t[i, j] * x[j]
            }
            x[i] = sum / t[i, i]
        }
        return x
    }
}
