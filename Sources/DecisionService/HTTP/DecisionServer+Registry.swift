import AdLoadCore
import Foundation
import Hummingbird
import Policies
import StateStore

/// The answer of a registry change through the admin API.
struct RegistryChangeResponse: ResponseEncodable {
    /// Whether the active version changed (`false`: it was already active).
    var changed: Bool
    /// The version active now.
    var version: String
    /// The version active before (`nil`: none).
    var previous: String?
    /// `promote` or `rollback`, as the registry history records it.
    var action: String
}

extension DecisionServer {
    /// `PUT /v1/policy` (admin): makes the policy file in the body the registry's active
    /// version, for every replica, without the OPE gate of `adload policy promote` (the
    /// history records it as a promotion through the admin API). The version is the file's
    /// checksum. 401/403 as ``checkAdmin(_:context:)``; 422 whose message names what in a file
    /// does not load with the service's schema and rules; 503 when the store fails.
    func putPolicy(_ request: Request, context: ServiceRequestContext) async throws(RequestError) -> Response {
        if let refused = checkAdmin(request, context: context) { return refused }
        let blob = Data(try await readBody(request, limit: configuration.maxPolicyBytes).readableBytesView)
        let version: String
        do { version = PolicyFile.checksum(of: try JSONValue.parse(blob, file: "request body")) } catch {
            throw RequestError.invalid(error.key ?? "body", error.description)
        }
        let engine = try await loadEngine(blob, version: version)
        let event = RegistryEvent(
            version: engine.version, previous: nil, action: .promote, at: RegistryEvent.now(), by: "PUT /v1/policy (admin API)",
            evidence: .object(["gate": .string("none: published through the admin API")]))
        return await change(to: engine, blob: blob, event: event, request: request, context: context)
    }

    /// `POST /v1/policy/rollback` (admin): makes an earlier stored version active again,
    /// `{"version": "..."}` or, with an empty body or no `version`, the one active before the
    /// change that started the current version's lineage (as `adload policy rollback`).
    /// 404 for a version the registry does not hold, 409 when the history cannot say which
    /// version came before, 422 for one that does not load.
    func rollbackPolicy(_ request: Request, context: ServiceRequestContext) async throws(RequestError) -> Response {
        if let refused = checkAdmin(request, context: context) { return refused }
        let body = try await readBody(request)
        var requested: String?
        if body.readableBytes > 0 {
            let document: JSONValue
            do { document = try JSONValue.parse(Data(body.readableBytesView), file: "request body") } catch {
                throw RequestError.malformed("body", "is not JSON: send {\"version\": \"...\"} or nothing")
            }
            guard case let .object(fields) = document else { throw RequestError.malformed("body", "must be a JSON object") }
            if let unknown = fields.keys.first(where: { $0 != "version" }) {
                throw RequestError.malformed(unknown, "is not a field of a rollback (only version)")
            }
            switch fields["version"] {
            case nil, .null?: break
            case let .string(version)?: requested = version
            default: throw RequestError.malformed("version", "must be a string")
            }
        }
        let store = store
        let active: String?
        let history: [RegistryEvent]
        do {
            active = try await store.activePolicyVersion()
            history = try await store.policyHistory(limit: RegistryEvent.historyLimit)
        } catch {
            return storeUnavailable(error, request: request, context: context)
        }
        guard let active else {
            return JSONResponse.error(.conflict, field: "registry", message: "the registry has no active version", request: request, context: context)
        }
        let target: String
        if let requested {
            target = requested
        } else {
            do { target = try RegistryEvent.versionBefore(active, history: history) } catch {
                return JSONResponse.error(.conflict, field: "version", message: error.description, request: request, context: context)
            }
        }
        let blob: Data?
        do { blob = try await store.policyBlob(version: target) } catch {
            return storeUnavailable(error, request: request, context: context)
        }
        guard let blob else {
            return JSONResponse.error(.notFound, field: "version", message: "the registry holds no version \(target)", request: request, context: context)
        }
        let engine = try await loadEngine(blob, version: target)
        let event = RegistryEvent(
            version: target, previous: nil, action: .rollback, at: RegistryEvent.now(), by: "POST /v1/policy/rollback (admin API)")
        return await change(to: engine, blob: nil, event: event, request: request, context: context)
    }

    /// Builds `blob`'s engine as the policy watcher does (off the event loops); 422 when it
    /// does not load with the service's schema and rules.
    func loadEngine(_ blob: Data, version: String) async throws(RequestError) -> DecisionEngine {
        switch await PolicyWatcher.load(blob, version: version, holder: policyHolder) {
        case let .success(engine): return engine
        case let .failure(failure): throw RequestError.invalid("body", failure.reason)
        }
    }

    /// Publishes `engine`'s version over the active one (`blob` `nil`: already stored),
    /// records `event`, and serves it here at once; the other replicas follow through the
    /// registry. 409 when the active version changed meanwhile (nothing changed).
    func change(
        to engine: DecisionEngine, blob: Data?, event: RegistryEvent, request: Request, context: ServiceRequestContext
    ) async -> Response {
        let store = store
        do {
            let active = try await store.activePolicyVersion()
            guard active != engine.version else {
                return JSONResponse.make(
                    .ok, RegistryChangeResponse(changed: false, version: engine.version, previous: active, action: event.action.rawValue),
                    request: request, context: context)
            }
            var stamped = event
            stamped.previous = active
            switch try await store.publishPolicy(version: engine.version, blob: blob, ifActive: active, event: stamped) {
            case .published:
                policyHolder.swap(to: engine)
                metrics.policySwaps.increment()
                metrics.recordPolicyVersion(engine.version)
                logger.notice("registry changed through the admin API", metadata: [
                    "action": "\(event.action.rawValue)", "version": "\(engine.version)", "previous": "\(active ?? "none")",
                ])
                return JSONResponse.make(
                    .ok, RegistryChangeResponse(changed: true, version: engine.version, previous: active, action: event.action.rawValue),
                    request: request, context: context)
            case let .activeChanged(now):
                return JSONResponse.error(
                    .conflict, field: "registry", message: "the active version changed to \(now ?? "none") meanwhile; nothing changed, retry",
                    request: request, context: context)
            }
        } catch {
            return storeUnavailable(error, request: request, context: context)
        }
    }

    /// 503 for a registry change the store could not make.
    func storeUnavailable(_ error: StoreError, request: Request, context: ServiceRequestContext) -> Response {
        JSONResponse.error(
            .serviceUnavailable, field: "store", message: "the registry was not changed, retry: \(error.description)", headers: [.retryAfter: "1"],
            request: request, context: context)
    }
}
