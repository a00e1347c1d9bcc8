import AdLoadCore

/// A learning curve as a self-contained SVG line plot (no scripts, no external styles), so
/// that a training run leaves a picture next to its policy file.
enum CurvePlot {
    /// The plot of `values` against their 1-based index.
    /// - Parameters:
    ///   - title: The heading above the plot.
    ///   - xLabel: What the index counts ("iteration").
    ///   - yLabel: What the values are ("mean return per user").
    static func svg(_ values: [Double], title: String, xLabel: String, yLabel: String) -> String {
        svg(series: [("", values)], title: title, xLabel: xLabel, yLabel: yLabel)
    }

    /// Colours of the series, in order (repeated beyond six).
    static let colours = ["steelblue", "darkorange", "seagreen", "firebrick", "purple", "gray"]

    /// Several series on shared axes, each against its 1-based index, with a legend when
    /// they have names.
    static func svg(series: [(name: String, values: [Double])], title: String, xLabel: String, yLabel: String) -> String {
        let (width, height, left, right, top, bottom) = (640.0, 320.0, 70.0, 20.0, 40.0, 45.0)
        let finite = series.flatMap(\.values).filter(\.isFinite)
        var low = finite.min() ?? 0
        var high = finite.max() ?? 1
        if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) }
        let margin = (high - low) * 0.05
        (low, high) = (low - margin, high + margin)
        let length = series.map(\.values.count).max() ?? 0
        let count = max(1, length - 1)
        func x(_ index: Int) -> Double { left + Double(index) / Double(count) * (width - left - right) }
        func y(_ value: Double) -> Double { top + (high - value) / (high - low) * (height - top - bottom) }
        var lines = [
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" font-family="sans-serif" font-size="11">"#,
            #"<text x="\#(Int(left))" y="22" font-size="13">\#(escaped(title))</text>"#,
            #"<line x1="\#(left)" y1="\#(height - bottom)" x2="\#(width - right)" y2="\#(height - bottom)" stroke="gray"/>"#,
            #"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(height - bottom)" stroke="gray"/>"#,
        ]
        for step in 0...4 {
            let value = low + (high - low) * Double(step) / 4
            lines.append(#"<text x="\#(Int(left) - 6)" y="\#(rounded(y(value)) + 4)" text-anchor="end">\#(JSONNumber.compact((value * 1e4).rounded() / 1e4))</text>"#)
        }
        lines.append(#"<text x="\#(Int(left))" y="\#(Int(height) - 25)" text-anchor="middle">1</text>"#)
        lines.append(#"<text x="\#(Int(width - right))" y="\#(Int(height) - 25)" text-anchor="middle">\#(length)</text>"#)
        lines.append(#"<text x="\#(Int((left + width - right) / 2))" y="\#(Int(height) - 8)" text-anchor="middle">\#(escaped(xLabel))</text>"#)
        lines.append(#"<text x="14" y="\#(Int((top + height - bottom) / 2))" transform="rotate(-90 14 \#(Int((top + height - bottom) / 2)))" text-anchor="middle">\#(escaped(yLabel))</text>"#)
        for (number, line) in series.enumerated() {
            var path = ""
            for (index, value) in line.values.enumerated() where value.isFinite {
                path += (path.isEmpty ? "M" : " L") + "\(rounded(x(index))),\(rounded(y(value)))"
            }
            let colour = colours[number % colours.count]
            lines.append(#"<path d="\#(path)" fill="none" stroke="\#(colour)" stroke-width="1.5"/>"#)
            if !line.name.isEmpty {
                let legendY = Int(top) + 4 + 14 * number
                lines.append(#"<text x="\#(Int(width - right) - 4)" y="\#(legendY)" text-anchor="end" fill="\#(colour)">\#(escaped(line.name))</text>"#)
            }
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    /// `text` with the characters XML reserves escaped.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
