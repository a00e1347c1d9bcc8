import AdLoadCore
import Foundation
import Hummingbird
import Policies

/// The answer of `POST /v1/feedback`.
struct FeedbackResponse: ResponseEncodable {
    let accepted: Int
    let duplicates: Int
}

/// `{"error": {"field": ..., "message": ...}}`.
struct ErrorResponse: ResponseEncodable {
    struct Detail: Encodable {
        let field: String
        let message: String
    }

    let error: Detail
}

/// `GET /healthz` and the status part of `GET /readyz`.
struct ReadinessResponse: ResponseEncodable {
    let status: String
    let failed: [String]?
    let checks: [String: String]?
}

/// `GET /v1/policy`: what the active policy is and where it came from.
struct PolicyResponse: ResponseEncodable {
    struct Provenance: Encodable {
        let env: String
        let envFile: String
        let envFingerprint: String
        let seed: UInt64
        let sessions: Int
        let users: Int
        let days: Int
        let trainedAt: String
        let source: String

        enum CodingKeys: String, CodingKey {
            case env, seed, sessions, users, days, source
            case envFile = "env_file", envFingerprint = "env_fingerprint", trainedAt = "trained_at"
        }
    }

    struct Schema: Encodable {
        let regions: [String]
        let devices: [String]
        let tenures: [String]
        let context: [String]
        let descriptors: [String]
        /// Fingerprint of `context`, as decision stream entries carry it.
        let contextSchema: String

        enum CodingKeys: String, CodingKey {
            case regions, devices, tenures, context, descriptors
            case contextSchema = "context_schema"
        }
    }

    struct Family: Encodable {
        let firstPositions: [Int]
        let spacings: [Int]
        let maxAds: [Int]

        enum CodingKeys: String, CodingKey {
            case spacings
            case firstPositions = "first_positions", maxAds = "max_ads"
        }
    }

    let version: String
    let algorithm: String
    let hyperparameters: [String: Double]
    let provenance: Provenance
    let reward: [String: Double]
    let featureSchema: Schema
    let planFamily: Family

    enum CodingKeys: String, CodingKey {
        case version, algorithm, hyperparameters, provenance, reward
        case featureSchema = "feature_schema", planFamily = "plan_family"
    }

    init(_ engine: DecisionEngine) {
        let policy = engine.policy
        version = engine.version
        algorithm = policy.algorithm
        hyperparameters = Dictionary(policy.hyperparameters.map { ($0.name, $0.value) }) { first, _ in first }
        let origin = policy.provenance
        provenance = Provenance(
            env: origin.environment, envFile: origin.environmentFile, envFingerprint: origin.environmentFingerprint, seed: origin.seed, sessions: origin.sessions,
            users: origin.users, days: origin.days, trainedAt: origin.trainedAt, source: origin.source.rawValue)
        reward = policy.reward
        featureSchema = Schema(
            regions: policy.schema.regions, devices: policy.schema.devices, tenures: policy.schema.tenures,
            context: policy.schema.contextNames, descriptors: policy.schema.descriptorNames, contextSchema: engine.contextFingerprint)
        planFamily = Family(
            firstPositions: policy.planFamily.firstPositions, spacings: policy.planFamily.spacings, maxAds: policy.planFamily.maxAds)
    }
}

/// Building JSON responses.
enum JSONResponse {
    /// `body` with `status` and extra `headers`, encoded by Hummingbird with the context's
    /// response encoder (sorted keys: ``ServiceRequestContext``); 500 if it cannot be encoded
    /// (a non-finite number).
    static func make(
        _ status: HTTPResponse.Status, _ body: some ResponseEncodable, headers: HTTPFields = [:], request: Request,
        context: some RequestContext
    ) -> Response {
        do {
            return try EditedResponse(status: status, headers: headers, response: body).response(from: request, context: context)
        } catch {
            return Response(
                status: .internalServerError, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"error":{"field":"response","message":"the answer could not be encoded as JSON"}}"#)))
        }
    }

    /// The decide answer, written by hand with sorted keys: it is on every decision, where
    /// `JSONEncoder` cost more than deciding.
    static func decide(_ decision: Decision) -> Response {
        var json = JSONWriter(capacity: 160 + decision.adPositions.count * 4)
        json.beginObject()
        json.key("ad_positions")
        json.integers(decision.adPositions)
        json.key("decision_id")
        json.string(decision.decisionID)
        json.key("fallback")
        json.bool(decision.fallback)
        json.key("plan")
        json.string(decision.plan.description)
        json.key("policy_version")
        json.string(decision.policyVersion)
        json.key("probability")
        json.number(decision.probability)
        json.key("propensity")
        json.string(decision.propensity)
        json.endObject()
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// The `/healthz` answer, `{"status":"ok"}`, built once: a liveness probe should cost
    /// the server nothing beyond HTTP itself.
    static var healthy: Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: healthyBody))
    }

    private static let healthyBody = ByteBuffer(string: #"{"status":"ok"}"#)

    /// An error body.
    static func error(
        _ status: HTTPResponse.Status, field: String, message: String, headers: HTTPFields = [:], request: Request,
        context: some RequestContext
    ) -> Response {
        make(status, ErrorResponse(error: .init(field: field, message: message)), headers: headers, request: request, context: context)
    }
}

/// The service's request context: Hummingbird's basic one, with a response encoder that
/// sorts keys (answers are stable byte for byte, which clients and tests can compare).
struct ServiceRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    var responseEncoder: JSONEncoder { JSONResponse.encoder }

    var requestDecoder: JSONDecoder { JSONDecoder() }
}

extension JSONResponse {
    /// Sorted keys, slashes unescaped; shared (encoding does not mutate it).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
