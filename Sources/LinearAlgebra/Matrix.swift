/// A dense matrix of `Double` values stored in row-major order.
///
/// Element `(i, j)` lives at `elements[i * columns + j]`: each row is contiguous, and
/// the leading dimension passed to BLAS and LAPACK is `columns`. Every BLAS call in
/// this module passes `CblasRowMajor` (or, for LAPACK, an equivalent column-major
/// view of the transpose), so callers never transpose by hand.
///
/// `Matrix` is a value type with copy-on-write storage. In-place operations allocate
/// nothing as long as the matrix's storage is uniquely referenced.
public struct Matrix: Sendable, Hashable {
    /// The number of rows.
    public let rows: Int

    /// The number of columns, which is also the row stride of `elements`.
    public let columns: Int

    /// The elements in row-major order: row 0, then row 1, and so on.
    public private(set) var elements: [Double]

    /// Creates a `rows` × `columns` matrix from elements in row-major order.
    /// - Precondition: `elements.count == rows * columns`.
    public init(rows: Int, columns: Int, elements: [Double]) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(columns)")
        precondition(
            elements.count == rows * columns,
            "Matrix \(rows)×\(columns) needs \(rows * columns) elements, got \(elements.count)"
        )
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// Creates a `rows` × `columns` matrix with every element equal to `value`.
    public init(rows: Int, columns: Int, repeating value: Double) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.elements = Array(repeating: value, count: rows * columns)
    }

    /// Creates a matrix from an array of rows.
    /// - Precondition: every row has the same length.
    public init(_ rowArrays: [[Double]]) {
        let columns = rowArrays.first?.count ?? 0
        var elements: [Double] = []
        elements.reserveCapacity(rowArrays.count * columns)
        for (index, row) in rowArrays.enumerated() {
            precondition(row.count == columns, "Matrix row \(index) has \(row.count) elements, expected \(columns)")
            elements.append(contentsOf: row)
        }
        self.init(rows: rowArrays.count, columns: columns, elements: elements)
    }

    /// A `rows` × `columns` matrix of zeros.
    public static func zeros(rows: Int, columns: Int) -> Matrix {
        Matrix(rows: rows, columns: columns, repeating: 0)
    }

    /// The `n` × `n` identity matrix.
    public static func identity(_ n: Int) -> Matrix {
        var matrix = Matrix.zeros(rows: n, columns: n)
        for i in 0..<n {
            matrix[i, i] = 1
        }
        return matrix
    }

    /// Whether the matrix has as many rows as columns.
    package var isSquare: Bool { rows == columns }

    /// The element in row `row` and column `column`.
    public subscript(row: Int, column: Int) -> Double {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Index (\(row), \(column)) out of range for \(rows)×\(columns) matrix")
            return elements[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Index (\(row), \(column)) out of range for \(rows)×\(columns) matrix")
            elements[row * columns + column] = newValue
        }
    }

    /// A copy of row `row` as a vector.
    /// - Complexity: O(columns); allocates.
    public func row(_ row: Int) -> Vector {
        precondition(row >= 0 && row < rows, "Row \(row) out of range for \(rows)×\(columns) matrix")
        return Vector(Array(elements[(row * columns)..<((row + 1) * columns)]))
    }

    /// The transpose, as a new matrix.
    /// - Complexity: O(rows × columns); allocates.
    package func transposed() -> Matrix {
        var result = Matrix.zeros(rows: columns, columns: rows)
        withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { destination in
                for i in 0..<rows {
                    for j in 0..<columns {
                        destination[j * rows + i] = source[i * columns + j]
                    }
                }
            }
        }
        return result
    }

    /// Overwrites every element with the matching element of `other`, reusing this matrix's storage.
    ///
    /// Unlike `self = other`, which shares `other`'s storage and so makes the next
    /// in-place operation copy it, this keeps a preallocated workspace unique.
    /// - Precondition: `other` has the same dimensions.
    /// - Complexity: O(rows × columns).
    package mutating func assign(_ other: Matrix) {
        precondition(
            other.rows == rows && other.columns == columns,
            "assign: \(other.rows)×\(other.columns) does not match \(rows)×\(columns)"
        )
        other.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { destination in
                for i in 0..<destination.count {
                    destination[i] = source[i]
                }
            }
        }
    }

    /// Sets every element to `value`, reusing this matrix's storage.
    /// - Complexity: O(rows × columns).
    package mutating func fill(with value: Double) {
        withUnsafeMutableBufferPointer { buffer in
            buffer.update(repeating: value)
        }
    }

    /// Makes a square matrix symmetric by copying `triangle` onto the other triangle.
    ///
    /// Use after `Kernels.syr` or `Cholesky.invert`, which write one triangle only.
    /// - Precondition: the matrix is square.
    /// - Complexity: O(n²).
    package mutating func symmetrize(from triangle: Triangle) {
        precondition(isSquare, "symmetrize needs a square matrix, got \(rows)×\(columns)")
        let n = rows
        withUnsafeMutableBufferPointer { a in
            for i in 0..<n {
                for j in (i + 1)..<n {
                    switch triangle {
                    case .lower: a[i * n + j] = a[j * n + i]
                    case .upper: a[j * n + i] = a[i * n + j]
                    }
                }
            }
        }
    }

    /// Calls `body` with a pointer to the contiguous row-major elements.
    package func withUnsafeBufferPointer<Result, Failure: Error>(
        _ body: (UnsafeBufferPointer<Double>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try elements.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the contiguous row-major elements.
    package mutating func withUnsafeMutableBufferPointer<Result, Failure: Error>(
        _ body: (UnsafeMutableBufferPointer<Double>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try elements.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Double>) throws(Failure) -> Result in
            try body(buffer)
        }
    }
}

extension Matrix: CustomStringConvertible {
    /// The dimensions followed by the rows, on one line.
    public var description: String {
        let rowTexts = (0..<rows).map { i in "\(Array(elements[(i * columns)..<((i + 1) * columns)]))" }
        return "Matrix \(rows)×\(columns) [\(rowTexts.joined(separator: ", "))]"
    }
}

/// Which triangle of a square matrix an operation reads or writes.
public enum Triangle: Sendable, Hashable {
    /// Elements on and below the diagonal (`i >= j`).
    case lower
    /// Elements on and above the diagonal (`i <= j`).
    case upper
}
