//! The API's description as a contract the integration tests hold the server to: every test
//! server (`TestApp`) answers through [`checked`], which matches each `/api/v1` response to
//! its operation in the description (`server::api::openapi::document()`) and validates its
//! status and JSON body against the schema there. A status the operation does not list, a
//! field the schema does not have (or lacks one it requires), a code the route does not declare:
//! each is a violation, and a test whose server saw one fails when its `TestApp` is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde_json::Value;

/// What a test server saw that the description does not allow.
pub type Violations = Arc<Mutex<Vec<String>>>;

/// `router`, with every API response checked against the description.
pub fn checked(router: Router, violations: Violations) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let violations = Arc::clone(&violations);
            async move {
                let method = request.method().as_str().to_ascii_lowercase();
                let path = request.uri().path().to_string();
                let response = next.run(request).await;
                check(&method, &path, response, &violations).await
            }
        },
    ))
}

async fn check(method: &str, path: &str, response: Response, violations: &Violations) -> Response {
    let Some(template) = contract().operation(method, path) else {
        // Not an API operation (a page, an asset, an unknown path or method): not described.
        return response;
    };
    let status = response.status().as_u16();
    let what = format!("{} {template} → {status}", method.to_ascii_uppercase());
    let content_type = header_text(&response, header::CONTENT_TYPE);
    let encoded = response.headers().contains_key(header::CONTENT_ENCODING);
    let Some(described) = contract().response(method, &template, status) else {
        violations
            .lock()
            .unwrap()
            .push(format!("{what}: the description has no such response"));
        return response;
    };
    let Some(schema) = &described.json else {
        // No JSON body described: an empty body, a stream or a WebSocket.
        if content_type.starts_with("application/json") {
            violations
                .lock()
                .unwrap()
                .push(format!("{what}: a JSON body the description does not have"));
        }
        return response;
    };
    if !content_type.starts_with("application/json") {
        violations.lock().unwrap().push(format!(
            "{what}: the description says JSON, the server sent {content_type:?}"
        ));
        return response;
    }
    if encoded {
        // Compressed (a client that asked for gzip): the status is checked, not the body.
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("a JSON body reads whole");
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(instance) => {
            // JSON described without a schema (the description itself): any JSON.
            let Some(schema) = schema else {
                return Response::from_parts(parts, Body::from(bytes));
            };
            let errors: Vec<String> = schema
                .iter_errors(&instance)
                .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
                .collect();
            if !errors.is_empty() {
                violations
                    .lock()
                    .unwrap()
                    .push(format!("{what}: {} (body: {instance})", errors.join("; ")));
            }
        }
        Err(error) => violations
            .lock()
            .unwrap()
            .push(format!("{what}: not JSON ({error})")),
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn header_text(response: &Response, name: header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The description, and its compiled response schemas (made once per test binary).
struct Contract {
    document: Value,
    /// (method, path template) of every operation.
    operations: Vec<(String, String)>,
    responses: Mutex<HashMap<(String, String, u16), Arc<DescribedResponse>>>,
}

struct DescribedResponse {
    /// A JSON body, with its schema if the description gives one.
    json: Option<Option<jsonschema::Validator>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let mut document =
            serde_json::to_value(server::api::openapi::document()).expect("the description");
        let parts = parts_of_all_of(&document);
        close_objects(&mut document, &parts, false);
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                operations.push((method.clone(), path.clone()));
            }
        }
        Contract {
            document,
            operations,
            responses: Mutex::default(),
        }
    })
}

/// The components some `allOf` is made of (a flattened type's parts).
fn parts_of_all_of(document: &Value) -> Vec<String> {
    let mut parts = Vec::new();
    let mut stack = vec![document];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for part in map
                    .get("allOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(reference) = part["$ref"].as_str() {
                        parts.push(reference.to_string());
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    parts
}

/// Strict on fields: an object schema with properties admits no others. An `allOf` is closed
/// as a whole (`unevaluatedProperties` sees what every part evaluated), its parts stay open.
/// The description itself stays open, as descriptions are; the tests hold the server to
/// exactly the fields it documents.
fn close_objects(value: &mut Value, parts: &[String], in_all_of: bool) {
    match value {
        Value::Object(map) => {
            let open = in_all_of
                || map.contains_key("additionalProperties")
                || map.contains_key("unevaluatedProperties");
            if !open && (map.contains_key("properties") || map.contains_key("allOf")) {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "allOf" => close_objects(child, parts, true),
                    // A component that is a part of some allOf stays open everywhere.
                    "schemas" => {
                        for (name, schema) in child.as_object_mut().into_iter().flatten() {
                            let reference = format!("#/components/schemas/{name}");
                            close_objects(schema, parts, parts.contains(&reference));
                        }
                    }
                    _ => close_objects(child, parts, false),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| close_objects(item, parts, in_all_of)),
        _ => {}
    }
}

impl Contract {
    /// The template of the operation `method path` is, preferring literal segments
    /// (`/vms/{uuid}/stats/live` over a template with more parameters).
    fn operation(&self, method: &str, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|(m, _)| m == method)
            .filter_map(|(_, template)| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literals = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') {
                        continue;
                    }
                    if part != segment {
                        return None;
                    }
                    literals += 1;
                }
                Some((literals, template))
            })
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, template)| template.clone())
    }

    fn response(
        &self,
        method: &str,
        template: &str,
        status: u16,
    ) -> Option<Arc<DescribedResponse>> {
        let key = (method.to_string(), template.to_string(), status);
        if let Some(found) = self.responses.lock().unwrap().get(&key) {
            return Some(Arc::clone(found));
        }
        let described = &self.document["paths"][template][method]["responses"][status.to_string()];
        if described.is_null() {
            return None;
        }
        let json = &described["content"]["application/json"];
        let json_schema = json["schema"].as_object().map(|schema| {
            // The schema, with the components its `$ref`s point into beside it.
            let mut root = Value::Object(schema.clone());
            root["components"] = self.document["components"].clone();
            jsonschema::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|error| {
                    panic!("the schema of {method} {template} → {status} does not compile: {error}")
                })
        });
        let described = Arc::new(DescribedResponse {
            json: json.is_object().then_some(json_schema),
        });
        self.responses
            .lock()
            .unwrap()
            .insert(key, Arc::clone(&described));
        Some(described)
    }
}
