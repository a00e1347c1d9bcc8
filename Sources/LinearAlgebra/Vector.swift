/// A dense vector of `Double` values in contiguous storage.
///
/// `Vector` is a value type with copy-on-write storage. In-place operations (the
/// `Kernels` functions taking `inout`) allocate nothing as long as the vector's
/// storage is uniquely referenced; a vector that shares storage with a copy is
/// copied once, on its first mutation.
public struct Vector: Sendable, Hashable {
    /// The elements, in order.
    public private(set) var elements: [Double]

    /// Creates a vector holding the given elements.
    public init(_ elements: [Double]) {
        self.elements = elements
    }

    /// Creates a vector of `count` elements, each equal to `value`.
    public init(count: Int, repeating value: Double) {
        precondition(count >= 0, "Vector count must be non-negative, got \(count)")
        self.elements = Array(repeating: value, count: count)
    }

    /// A vector of `count` zeros.
    public static func zeros(_ count: Int) -> Vector {
        Vector(count: count, repeating: 0)
    }

    /// Overwrites every element with the matching element of `other`, reusing this vector's storage.
    ///
    /// Unlike `self = other`, which shares `other`'s storage and so makes the next
    /// in-place operation copy it, this keeps a preallocated workspace unique.
    /// - Precondition: `other.count == count`.
    /// - Complexity: O(n).
    package mutating func assign(_ other: Vector) {
        precondition(other.count == count, "assign: count \(other.count) does not match \(count)")
        other.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { destination in
                for i in 0..<destination.count {
                    destination[i] = source[i]
                }
            }
        }
    }

    /// Sets every element to `value`, reusing this vector's storage.
    /// - Complexity: O(n).
    package mutating func fill(with value: Double) {
        withUnsafeMutableBufferPointer { buffer in
            buffer.update(repeating: value)
        }
    }

    /// Calls `body` with a pointer to the contiguous elements.
    package func withUnsafeBufferPointer<Result, Failure: Error>(
        _ body: (UnsafeBufferPointer<Double>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try elements.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the contiguous elements.
    package mutating func withUnsafeMutableBufferPointer<Result, Failure: Error>(
        _ body: (UnsafeMutableBufferPointer<Double>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try elements.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Double>) throws(Failure) -> Result in
            try body(buffer)
        }
    }
}

extension Vector: RandomAccessCollection, MutableCollection {
    /// The position of the first element: always zero.
    public var startIndex: Int { 0 }

    /// One past the position of the last element: the element count.
    public var endIndex: Int { elements.count }

    /// The element at position `index`.
    public subscript(index: Int) -> Double {
        get { elements[index] }
        set { elements[index] = newValue }
    }

    /// Calls `body` with the contiguous elements, so generic algorithms take the fast path.
    public func withContiguousStorageIfAvailable<Result>(
        _ body: (UnsafeBufferPointer<Double>) throws -> Result
    ) rethrows -> Result? {
        try elements.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the contiguous mutable elements, so generic algorithms take the fast path.
    public mutating func withContiguousMutableStorageIfAvailable<Result>(
        _ body: (inout UnsafeMutableBufferPointer<Double>) throws -> Result
    ) rethrows -> Result? {
        try elements.withUnsafeMutableBufferPointer(body)
    }
}

extension Vector: ExpressibleByArrayLiteral {
    /// Creates a vector from an array literal.
    public init(arrayLiteral elements: Double...) {
        self.init(elements)
    }
}

extension Vector: CustomStringConvertible {
    /// The elements, formatted as an array.
    public var description: String {
        "Vector(\(elements))"
    }
}
