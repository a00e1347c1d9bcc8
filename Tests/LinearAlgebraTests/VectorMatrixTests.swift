import LinearAlgebra
import Testing

@Suite("Vector and Matrix storage")
struct VectorMatrixTests {
    @Test("Matrix storage is row-major")
    func rowMajorLayout() {
        let a = Matrix([[1, 2, 3], [4, 5, 6]])
        #expect(a.rows == 2)
        #expect(a.columns == 3)
        #expect(a.elements == [1, 2, 3, 4, 5, 6])
        #expect(a[1, 0] == 4)
        #expect(a[0, 2] == 3)
        #expect(a.row(1) == [4, 5, 6])
        let b = Matrix(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
        #expect(a == b)
    }

    @Test("Identity, zeros and repeating initializers")
    func constructors() {
        let identity = Matrix.identity(3)
        for i in 0..<3 {
            for j in 0..<3 {
                #expect(identity[i, j] == (i == j ? 1 : 0))
            }
        }
        #expect(Matrix.zeros(rows: 2, columns: 4).elements == Array(repeating: 0, count: 8))
        #expect(Matrix(rows: 2, columns: 2, repeating: 7).elements == [7, 7, 7, 7])
        #expect(Vector.zeros(3) == [0, 0, 0])
        #expect(Vector(count: 2, repeating: 1.5).elements == [1.5, 1.5])
        #expect(Matrix.identity(0).elements.isEmpty)
    }

    @Test("Subscripts and buffer pointers read and write the same storage")
    func subscriptsAndBuffers() {
        var a = Matrix.zeros(rows: 2, columns: 3)
        a[1, 2] = 5
        a.withUnsafeMutableBufferPointer { buffer in
            buffer[1] = 9
        }
        #expect(a.elements == [0, 9, 0, 0, 0, 5])
        let sum = a.withUnsafeBufferPointer { $0.reduce(0, +) }
        #expect(sum == 14)

        var x: Vector = [1, 2, 3]
        x[0] = 4
        x.withUnsafeMutableBufferPointer { $0[2] = 6 }
        #expect(Array(x) == [4, 2, 6])
        #expect(x.withUnsafeBufferPointer { $0.count } == 3)
    }

    @Test("Transposed swaps rows and columns")
    func transposed() {
        let a = Matrix([[1, 2, 3], [4, 5, 6]])
        let t = a.transposed()
        #expect(t == Matrix([[1, 4], [2, 5], [3, 6]]))
        #expect(t.transposed() == a)
    }

    @Test("Symmetrize copies the chosen triangle onto the other", arguments: [Triangle.lower, .upper])
    func symmetrize(from triangle: Triangle) {
        var a = Matrix([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        a.symmetrize(from: triangle)
        let expected =
            triangle == .lower
            ? Matrix([[1, 4, 7], [4, 5, 8], [7, 8, 9]])
            : Matrix([[1, 2, 3], [2, 5, 6], [3, 6, 9]])
        #expect(a == expected)
    }

    @Test("Assign and fill overwrite every element")
    func assignAndFill() {
        var workspace = Matrix.zeros(rows: 2, columns: 2)
        workspace.assign(Matrix([[1, 2], [3, 4]]))
        #expect(workspace.elements == [1, 2, 3, 4])
        workspace.fill(with: -1)
        #expect(workspace.elements == [-1, -1, -1, -1])

        var v = Vector.zeros(3)
        v.assign([1, 2, 3])
        #expect(v == [1, 2, 3])
        v.fill(with: 2)
        #expect(v == [2, 2, 2])
    }

    @Test("Product operators match naive loops", arguments: [1, 5, 33])
    func operators(n: Int) {
        var generator = SplitMix64(seed: 0xA11CE + UInt64(n))
        let a = Matrix.random(rows: n, columns: n + 2, using: &generator)
        let b = Matrix.random(rows: n + 2, columns: n + 1, using: &generator)
        let x = Vector.random(n + 2, using: &generator)
        #expect(maxAbsDifference(a * b, naiveProduct(a, b)) <= kernelTolerance)
        #expect(maxAbsDifference(a * x, naiveProduct(a, x)) <= kernelTolerance)
    }
}
