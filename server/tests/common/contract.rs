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
    if content_type.starts_with("text/event-stream") {
        return match described.event_stream.clone() {
            Some(events) => checked_stream(what, response, events, Arc::clone(violations)),
            None => {
                violations.lock().unwrap().push(format!(
                    "{what}: an event stream the description does not have"
                ));
                response
            }
        };
    }
    let Some(schema) = &described.json else {
        // No JSON body described: an empty body or a WebSocket.
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
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("a JSON body reads whole");
    // A client that asked for gzip (the admin's cached list): validated as it decompresses.
    let plain = if encoded {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
            .expect("a gzip body the server made decompresses");
        bytes::Bytes::from(plain)
    } else {
        bytes.clone()
    };
    match serde_json::from_slice::<Value>(&plain) {
        Ok(instance) => {
            // JSON described without a schema (the description itself): any JSON.
            let Some(schema) = schema else {
                return Response::from_parts(parts, Body::from(bytes));
            };
            if let Some(errors) = schema_errors(schema, &instance) {
                violations
                    .lock()
                    .unwrap()
                    .push(format!("{what}: {errors} (body: {instance})"));
            }
        }
        Err(error) => violations
            .lock()
            .unwrap()
            .push(format!("{what}: not JSON ({error})")),
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The stream, passed on as it comes, each event checked against the description's
/// `{event, data}` schema as it goes by (`data` parsed as JSON where it is JSON).
fn checked_stream(
    what: String,
    response: Response,
    events: Arc<jsonschema::Validator>,
    violations: Violations,
) -> Response {
    use futures::StreamExt;
    let (parts, body) = response.into_parts();
    let mut pending = String::new();
    let stream = body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            pending.push_str(&String::from_utf8_lossy(bytes));
            while let Some(end) = pending.find("\n\n") {
                let block: String = pending.drain(..end + 2).collect();
                let Some(event) = parse_event(&block) else {
                    continue;
                };
                if let Some(errors) = schema_errors(&events, &event) {
                    violations
                        .lock()
                        .unwrap()
                        .push(format!("{what}: event {event}: {errors}"));
                }
            }
        }
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// What `instance` breaks of `schema`, if anything, in one line.
fn schema_errors(schema: &jsonschema::Validator, instance: &Value) -> Option<String> {
    let errors: Vec<String> = schema
        .iter_errors(instance)
        .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// One event of a stream as `{event, data}`; `None` for a comment (keep-alive).
fn parse_event(block: &str) -> Option<Value> {
    let mut name = "message".to_string();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = value.trim_start().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = data.join("\n");
    let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
    Some(serde_json::json!({ "event": name, "data": data }))
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
    /// An event stream: the schema of its events (`{event, data}`).
    event_stream: Option<Arc<jsonschema::Validator>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let mut document =
            serde_json::to_value(server::api::openapi::document()).expect("the description");
        let components = document["components"].clone();
        merge_all_of(&mut document, &components);
        close_objects(&mut document);
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

/// A flattened type is an `allOf` of its parts (`UserDetail` = `User` + `quota`, an error =
/// `ApiError` + its codes): merged here into one object with every part's properties and
/// required fields, so it can be closed like any other object.
fn merge_all_of(value: &mut Value, components: &Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                merge_all_of(child, components);
            }
            let Some(parts) = map.get("allOf").and_then(Value::as_array) else {
                return;
            };
            let resolved: Option<Vec<&Value>> = parts
                .iter()
                .map(|part| match part["$ref"].as_str() {
                    Some(reference) => {
                        let name = reference.strip_prefix("#/components/schemas/")?;
                        Some(&components["schemas"][name])
                    }
                    None => Some(part),
                })
                .map(|part| part.filter(|part| part["properties"].is_object()))
                .collect();
            let Some(resolved) = resolved else { return };
            let mut properties = serde_json::Map::new();
            let mut required = Vec::new();
            for part in resolved {
                for (name, schema) in part["properties"].as_object().unwrap() {
                    let merged = match properties.remove(name) {
                        Some(earlier) => serde_json::json!({ "allOf": [earlier, schema] }),
                        None => schema.clone(),
                    };
                    properties.insert(name.clone(), merged);
                }
                for name in part["required"].as_array().into_iter().flatten() {
                    if !required.contains(name) {
                        required.push(name.clone());
                    }
                }
            }
            map.remove("allOf");
            map.insert("type".into(), "object".into());
            map.insert("properties".into(), Value::Object(properties));
            map.insert("required".into(), Value::Array(required));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| merge_all_of(item, components)),
        _ => {}
    }
}

/// Strict on fields: an object schema with properties admits no others. The description
/// itself stays open, as descriptions are; the tests hold the server to exactly the fields it
/// documents.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let open = map.contains_key("additionalProperties")
                || map.contains_key("unevaluatedProperties");
            if !open && map.get("properties").is_some_and(Value::is_object) {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
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
        let compile = |schema: &serde_json::Map<String, Value>| {
            // The schema, with the components its `$ref`s point into beside it.
            let mut root = Value::Object(schema.clone());
            root["components"] = self.document["components"].clone();
            jsonschema::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|error| {
                    panic!("the schema of {method} {template} → {status} does not compile: {error}")
                })
        };
        let json = &described["content"]["application/json"];
        let json_schema = json["schema"].as_object().map(compile);
        let event_stream = described["content"]["text/event-stream"]["schema"]
            .as_object()
            .map(|schema| Arc::new(compile(schema)));
        let described = Arc::new(DescribedResponse {
            json: json.is_object().then_some(json_schema),
            event_stream,
        });
        self.responses
            .lock()
            .unwrap()
            .insert(key, Arc::clone(&described));
        Some(described)
    }
}
