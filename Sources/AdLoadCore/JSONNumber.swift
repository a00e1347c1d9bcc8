/// How AdLoad writes a number as text, everywhere: files, messages and reports.
package enum JSONNumber {
    /// An integral value of magnitude below 2⁵³ as an integer ("12", "-0" as "0"), anything
    /// else in Swift's shortest round-trip form ("0.1", "1e-05", "inf", "nan"): a JSON reader
    /// gets back the identical Double for every finite value. Policy files' canonical
    /// rendering (their checksums) and error messages use it.
    package static func compact(_ number: Double) -> String {
        if number == number.rounded(.towardZero) && abs(number) < 0x1p53 {
            return String(Int64(number))
        }
        return "\(number)"
    }

    /// Swift's shortest round-trip form ("3.0", "0.1"), or `null` when not finite: a report
    /// field's JSON value. ``JSONWriter/number(_:)`` writes the same bytes.
    package static func json(_ number: Double) -> String {
        number.isFinite ? "\(number)" : "null"
    }
}
