//! The API's OpenAPI description is the code: it lists exactly the routes the router serves,
//! it is served without a login and printed by `limen openapi`, and each operation says who may
//! call it and what it can answer. (Every response of the other integration tests is validated
//! against it: `common/contract.rs`.)

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use serde_json::Value;

fn description() -> Value {
    serde_json::to_value(server::api::openapi::document()).unwrap()
}

fn operations(document: &Value) -> impl Iterator<Item = (String, String, &Value)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .map(move |(method, operation)| (method.to_uppercase(), path.clone(), operation))
        })
}

#[test]
fn the_description_lists_exactly_the_routes_the_router_serves() {
    let document = description();
    assert_eq!(document["openapi"], "3.1.0");
    let described: BTreeSet<(String, String)> = operations(&document)
        .map(|(method, path, _)| (method, path))
        .collect();
    let served: BTreeSet<(String, String)> = server::route_list()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/v1/"))
        .collect();
    let undescribed: Vec<_> = served.difference(&described).collect();
    let unserved: Vec<_> = described.difference(&served).collect();
    assert!(
        undescribed.is_empty(),
        "routes without a description (add #[utoipa::path] and list the handler in \
         server/src/api/openapi/mod.rs): {undescribed:?}"
    );
    assert!(
        unserved.is_empty(),
        "described but not served: {unserved:?}"
    );
    assert!(served.len() >= 54, "the whole API: {}", served.len());
}

#[test]
fn every_operation_says_who_may_call_it_and_what_it_can_answer() {
    let document = description();
    let mut ids = BTreeSet::new();
    let mut public = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let what = format!("{method} {path}");
        let id = operation["operationId"].as_str().expect(&what);
        assert!(ids.insert(id.to_string()), "{what}: operationId {id} twice");
        assert!(operation["summary"].is_string(), "{what}: a summary");
        assert_eq!(
            operation["tags"].as_array().map(Vec::len),
            Some(1),
            "{what}: one tag"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .keys()
                .any(|status| status.starts_with('2') || status == "101"),
            "{what}: a success response"
        );
        // Every error response is the `{error, code}` body with the codes of its status.
        for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
            let schema = &response["content"]["application/json"]["schema"]["allOf"];
            assert_eq!(
                schema[0]["$ref"], "#/components/schemas/ApiError",
                "{what} {status}"
            );
            let codes = schema[1]["properties"]["code"]["enum"].as_array().unwrap();
            assert!(!codes.is_empty(), "{what} {status}");
        }
        assert!(responses.contains_key("500"), "{what}: INTERNAL");
        match operation.get("security") {
            Some(Value::Array(requirements))
                if requirements.iter().any(|r| r == &serde_json::json!({})) =>
            {
                public.insert(what.clone());
            }
            _ => assert!(
                responses.contains_key("401"),
                "{what}: needs a login, so 401"
            ),
        }
    }
    assert_eq!(
        public,
        BTreeSet::from([
            "GET /api/v1/openapi.json".to_string(),
            "POST /api/v1/auth/login".to_string(),
            "POST /api/v1/auth/setup".to_string(),
        ]),
        "the routes that need no login"
    );
    // The security schemes the operations name.
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "limen_session");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["console_ticket"]["in"], "query");
    // The consoles are WebSockets, and take a one-time ticket too.
    for path in ["/api/v1/vms/{uuid}/console", "/api/v1/vms/{uuid}/serial"] {
        let operation = &document["paths"][path]["get"];
        assert_eq!(operation["x-websocket"], true, "{path}");
        assert!(operation["responses"]["101"].is_object(), "{path}");
        let security = operation["security"].to_string();
        assert!(security.contains("console_ticket"), "{path}: {security}");
    }
    // The event stream's type and its events.
    let events = &document["paths"]["/api/v1/events"]["get"];
    assert!(events["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert!(events["x-sse-events"]
        .as_array()
        .is_some_and(|names| !names.is_empty()));
}

#[tokio::test]
async fn the_description_is_served_without_login_and_printed_by_the_cli() {
    let app = TestApp::spawn().await;
    let anonymous = reqwest::Client::new();
    let response = anonymous
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, description());

    // The documentation page, without a login either; it loads Swagger UI, served by Limen.
    let page = anonymous.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/swagger-ui/swagger-ui-bundle.js">"#));
    assert!(html.contains(r#"<script src="/api-docs.js">"#));

    // `limen openapi`: the same document, with no settings file, database or libvirt.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_limen"))
        .arg("openapi")
        .env("LIMEN_CONFIG", "/nonexistent/limen.toml")
        .env("LIMEN_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, served);
}

/// The contract every test server answers through catches what it exists to catch: a field
/// renamed in the code (one unknown, one missing), a code the route does not declare, a status
/// the description does not have. (A stand-in router answers; the real one is checked by every
/// other integration test.)
#[tokio::test]
async fn the_contract_catches_a_renamed_field_an_undeclared_code_and_an_unknown_status() {
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Json;
    use tower::ServiceExt;

    let real: Value = {
        let app = TestApp::spawn().await;
        let vm = app
            .post_json(
                "/api/v1/vms",
                serde_json::json!({ "name": "contract", "cpu": 1, "memory": 64, "disk_size": 1 }),
            )
            .await;
        assert_eq!(vm.status(), 201);
        vm.json().await.unwrap()
    };
    let answers = |status: StatusCode, body: Value| {
        axum::Router::new().route(
            "/api/v1/vms/{uuid}",
            get(move || {
                let body = body.clone();
                async move { (status, Json(body)) }
            }),
        )
    };
    let path = format!("/api/v1/vms/{}", real["uuid"].as_str().unwrap());
    let violations_at = |router: axum::Router, path: String| async move {
        let violations = common::contract::Violations::default();
        let checked = common::contract::checked(router, violations.clone());
        let request = axum::http::Request::get(&path).body(axum::body::Body::empty());
        let response = checked.oneshot(request.unwrap()).await.unwrap();
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let found = violations.lock().unwrap().clone();
        found
    };
    let violations_of = |router: axum::Router| violations_at(router, path.clone());

    // The real VM as the server sent it: no violation.
    assert_eq!(
        violations_of(answers(StatusCode::OK, real.clone())).await,
        Vec::<String>::new()
    );
    // `name` renamed to `title`.
    let mut renamed = real.clone();
    let name = renamed.as_object_mut().unwrap().remove("name").unwrap();
    renamed["title"] = name;
    let found = violations_of(answers(StatusCode::OK, renamed))
        .await
        .join("\n");
    assert!(found.contains("\"name\" is a required property"), "{found}");
    assert!(found.contains("'title' was unexpected"), "{found}");
    // A code this route never declared for its status, and a status it does not have.
    let wrong_code = serde_json::json!({ "error": "x", "code": "SNAPSHOT_NOT_FOUND" });
    let found = violations_of(answers(StatusCode::NOT_FOUND, wrong_code))
        .await
        .join("\n");
    assert!(
        found.contains("GET /api/v1/vms/{uuid} → 404") && found.contains("SNAPSHOT_NOT_FOUND"),
        "{found}"
    );
    let teapot = serde_json::json!({ "error": "x", "code": "INTERNAL" });
    let found = violations_of(answers(StatusCode::IM_A_TEAPOT, teapot))
        .await
        .join("\n");
    assert!(
        found.contains("→ 418: the description has no such response"),
        "{found}"
    );
    // An event of the stream whose data is not what the description says of that event.
    let stream = axum::Router::new().route(
        "/api/v1/events",
        get(|| async {
            let event = axum::response::sse::Event::default()
                .event("vm_deleted")
                .data(r#"{"id": 1}"#);
            axum::response::Sse::new(futures::stream::iter([Ok::<_, std::convert::Infallible>(
                event,
            )]))
        }),
    );
    let found = violations_at(stream, "/api/v1/events".into())
        .await
        .join("\n");
    assert!(found.contains("GET /api/v1/events → 200: event"), "{found}");
}
