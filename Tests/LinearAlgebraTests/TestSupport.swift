@testable import LinearAlgebra

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so every test input is reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Sizes below, at and above every `Kernels.Crossover` guess (32), up to the learners' largest d.
let kernelSizes = [1, 2, 3, 7, 8, 16, 31, 32, 33, 64, 100, 256]

/// Absolute tolerance for BLAS-level results on inputs uniform in [-1, 1].
///
/// A sum of n ≤ 256 products of magnitude ≤ 1 has rounding error below n²·ε ≈ 1.5e-11
/// (a loose bound); naive and BLAS paths differ only by summation order.
let kernelTolerance = 1e-10

extension Vector {
    /// A vector with elements uniform in [-1, 1].
    static func random(_ count: Int, using generator: inout SplitMix64) -> Vector {
        Vector((0..<count).map { _ in Double.random(in: -1...1, using: &generator) })
    }
}

extension Matrix {
    /// A matrix with elements uniform in [-1, 1].
    static func random(rows: Int, columns: Int, using generator: inout SplitMix64) -> Matrix {
        Matrix(
            rows: rows, columns: columns,
            elements: (0..<(rows * columns)).map { _ in Double.random(in: -1...1, using: &generator) }
        )
    }

    /// A well-conditioned symmetric positive definite matrix M·Mᵀ + n·I, built with naive loops.
    static func randomSPD(_ n: Int, using generator: inout SplitMix64) -> Matrix {
        let m = Matrix.random(rows: n, columns: n, using: &generator)
        var a = naiveProduct(m, m.transposed())
        for i in 0..<n {
            a[i, i] += Double(n)
        }
        return a
    }
}

/// The product of two matrices by the textbook triple loop.
func naiveProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
    precondition(a.columns == b.rows)
    var c = Matrix.zeros(rows: a.rows, columns: b.columns)
    for i in 0..<a.rows {
        for j in 0..<b.columns {
            var sum = 0.0
            for k in 0..<a.columns {
                sum += a[i, k] * b[k, j]
            }
            c[i, j] = sum
        }
    }
    return c
}

/// The product of a matrix and a vector by the textbook double loop.
func naiveProduct(_ a: Matrix, _ x: Vector) -> Vector {
    precondition(a.columns == x.count)
    var y = Vector.zeros(a.rows)
    for i in 0..<a.rows {
        for j in 0..<a.columns {
            y[i] += a[i, j] * x[j]
        }
    }
    return y
}

/// The largest absolute elementwise difference; infinity if the lengths differ.
func maxAbsDifference<A: Collection<Double>, B: Collection<Double>>(_ a: A, _ b: B) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// The largest absolute elementwise difference of two matrices; infinity if their shapes differ.
func maxAbsDifference(_ a: Matrix, _ b: Matrix) -> Double {
    guard a.rows == b.rows && a.columns == b.columns else { return .infinity }
    return maxAbsDifference(a.elements, b.elements)
}

/// The largest absolute element of a matrix.
func maxAbs(_ a: Matrix) -> Double {
    a.elements.map(abs).max() ?? 0
}
