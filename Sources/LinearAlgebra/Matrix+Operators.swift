extension Matrix {
    /// Returns the product A·B (BLAS `dgemm`).
    ///
    /// Allocating convenience; use `Kernels.gemm` to write into a preallocated matrix.
    /// - Precondition: `lhs.columns == rhs.rows`.
    /// - Complexity: O(m × n × k).
    package static func * (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.columns == rhs.rows, "Matrix product: \(lhs.rows)×\(lhs.columns) times \(rhs.rows)×\(rhs.columns)")
        var product = Matrix.zeros(rows: lhs.rows, columns: rhs.columns)
        Kernels.gemm(lhs, rhs, into: &product)
        return product
    }

    /// Returns the product A·x (`Kernels.gemv`).
    ///
    /// Allocating convenience; use `Kernels.gemv` to write into a preallocated vector.
    /// - Precondition: `lhs.columns == rhs.count`.
    /// - Complexity: O(m × n).
    package static func * (lhs: Matrix, rhs: Vector) -> Vector {
        precondition(lhs.columns == rhs.count, "Matrix-vector product: \(lhs.rows)×\(lhs.columns) times \(rhs.count)")
        var product = Vector.zeros(lhs.rows)
        Kernels.gemv(lhs, rhs, into: &product)
        return product
    }
}
