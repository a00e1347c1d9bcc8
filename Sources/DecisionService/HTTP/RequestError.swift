import Hummingbird

/// A request the service refuses, naming the field that was wrong.
///
/// Routes throw it; as a Hummingbird `HTTPResponseError` it answers with its 4xx status
/// (see ``Kind``) and the JSON body `{"error": {"field": "...", "message": "..."}}`, and the
/// metrics middleware counts it by that status.
package struct RequestError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// What class of problem it is, which decides the HTTP status.
    package enum Kind: Sendable, Equatable {
        /// The body is not the expected JSON shape: not JSON, not an object, an unknown or
        /// missing field, a value of the wrong type (400).
        case malformed
        /// Well-formed but out of range: a negative or absurd number, an unknown region,
        /// device, tenure or event type, too many events (422).
        case invalid
        /// The body is larger than the configured limit (413).
        case tooLarge
        /// The decision id does not verify for the user (404).
        case unknownDecision
    }

    /// The class of problem.
    var kind: Kind
    /// The offending field as a path (`hour`, `events[3].type`), or `body` for the whole body.
    package var field: String
    /// What is wrong, naming the value where there is one.
    package var message: String

    /// Creates an error for `field`.
    init(_ kind: Kind, field: String, message: String) {
        self.kind = kind
        self.field = field
        self.message = message
    }

    /// A 400 error for `field`.
    static func malformed(_ field: String, _ message: String) -> RequestError {
        RequestError(.malformed, field: field, message: message)
    }

    /// A 422 error for `field`.
    static func invalid(_ field: String, _ message: String) -> RequestError {
        RequestError(.invalid, field: field, message: message)
    }

    /// The HTTP status code of this error.
    var statusCode: Int {
        switch kind {
        case .malformed: 400
        case .invalid: 422
        case .tooLarge: 413
        case .unknownDecision: 404
        }
    }

    /// The HTTP status of this error.
    package var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    /// The JSON error body with ``status``.
    package func response(from request: Request, context: some RequestContext) -> Response {
        JSONResponse.error(status, field: field, message: message, request: request, context: context)
    }

    /// One line: the field and the problem.
    package var description: String { "\(field): \(message)" }
}
