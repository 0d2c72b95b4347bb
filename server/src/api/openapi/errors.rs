//! The error responses of every operation, built from the codes it can answer: the codes its
//! handler declares (`x-error-codes`, next to the handler) and those every route of its kind
//! can answer (a login, a JSON body, parameters, the database). One response per status, whose
//! schema is the `{error, code}` body with `code` limited to that status's codes — so a client
//! knows what to expect, and the tests fail on a code a route answers but does not declare.

use std::collections::BTreeMap;

use app::error::ErrorCode;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::Modify;

/// Where a handler lists the codes only it can answer.
pub const ERROR_CODES: &str = "x-error-codes";

pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let default_needs_login = openapi
            .security
            .as_ref()
            .is_some_and(|requirements| !requirements.is_empty());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (false, item.get.as_mut()),
                (true, item.put.as_mut()),
                (true, item.post.as_mut()),
                (true, item.delete.as_mut()),
                (true, item.patch.as_mut()),
            ];
            for (changes, operation) in operations {
                let Some(operation) = operation else { continue };
                let mut codes = codes_of(path, operation, default_needs_login);
                if changes {
                    // A change sent from another site is refused before any handler runs.
                    codes.push(ErrorCode::Forbidden);
                }
                codes.sort_by_key(|code| wire_name(*code));
                codes.dedup();
                add_responses(operation, &codes);
            }
        }
    }
}

/// Every code `operation` can answer, declared or implied.
fn codes_of(path: &str, operation: &Operation, default_needs_login: bool) -> Vec<ErrorCode> {
    let mut codes = declared(path, operation);
    let needs_login = match &operation.security {
        None => default_needs_login,
        // `security(())`: an empty requirement, no login.
        Some(requirements) => !requirements
            .iter()
            .any(|requirement| *requirement == Default::default()),
    };
    if needs_login {
        codes.push(ErrorCode::Unauthorized);
    }
    // A path or query parameter can be malformed (a header is read leniently).
    let has_parameters = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(parameter)
            if matches!(parameter.parameter_in, ParameterIn::Path | ParameterIn::Query))
    });
    if operation.request_body.is_some() || has_parameters {
        codes.push(ErrorCode::ValidationFailed);
    }
    let takes_json = operation
        .request_body
        .as_ref()
        .is_some_and(|body| match body {
            RefOr::T(body) => body.content.contains_key("application/json"),
            RefOr::Ref(_) => true,
        });
    if takes_json {
        codes.push(ErrorCode::UnsupportedMediaType);
    }
    // Every route limits the size of what it is sent, a body or not (api/mod.rs).
    codes.extend([
        ErrorCode::PayloadTooLarge,
        ErrorCode::Internal,
        ErrorCode::DatabaseUnavailable,
    ]);
    codes
}

/// The handler's `x-error-codes`; a name that is not a code fails loudly (the tests build the
/// description, so a typo never ships).
fn declared(path: &str, operation: &Operation) -> Vec<ErrorCode> {
    let Some(listed) = operation
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(ERROR_CODES))
    else {
        return Vec::new();
    };
    serde_json::from_value(listed.clone()).unwrap_or_else(|error| {
        panic!("{path}: {ERROR_CODES} lists something that is not an error code: {error}")
    })
}

fn wire_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .expect("an error code serializes as a string")
}

/// One response per status, `{error, code}` with `code` one of that status's codes.
fn add_responses(operation: &mut Operation, codes: &[ErrorCode]) {
    let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for code in codes {
        by_status
            .entry(code.status())
            .or_default()
            .push(wire_name(*code));
    }
    for (status, names) in by_status {
        let code_schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names.clone()));
        let schema = AllOfBuilder::new()
            .item(Ref::from_schema_name("ApiError"))
            .item(ObjectBuilder::new().property("code", code_schema))
            .build();
        let reason = axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("Error");
        let mut response = ResponseBuilder::new()
            .description(format!("{reason}: `code` is {}.", names.join(", ")))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Schema::AllOf(schema)))
                    .build(),
            );
        if status == 429 {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                    .description(Some(
                        "Seconds until trying again makes sense, where the server knows.",
                    ))
                    .build(),
            );
        }
        operation
            .responses
            .responses
            .insert(status.to_string(), RefOr::T(response.build()));
    }
}
