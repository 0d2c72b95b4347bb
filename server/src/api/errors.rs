//! Every API error response is `{"error","code"}`, including the ones axum and tower produce
//! themselves (unknown route, wrong method, body too large).

use app::error::{AppError, ErrorCode};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError(AppError::new(
        ErrorCode::NotFound,
        "There is no such API endpoint.",
    ))
}

/// Middleware for the whole router: any error response to an `/api/` path gets a JSON body.
pub async fn json_error_bodies(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if is_api {
        to_json_error(response)
    } else {
        response
    }
}

fn to_json_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let mut replaced = ApiError(error_for_status(status)).into_response();
    // Keep the original status (e.g. 405 stays 405 even though the code is generic).
    *replaced.status_mut() = status;
    replaced
}

/// The error for a status that axum or tower decided on, not our own code.
pub fn error_for_status(status: StatusCode) -> AppError {
    match status {
        StatusCode::NOT_FOUND => {
            AppError::new(ErrorCode::NotFound, "There is no such API endpoint.")
        }
        StatusCode::METHOD_NOT_ALLOWED => AppError::new(
            ErrorCode::MethodNotAllowed,
            "This endpoint does not accept that HTTP method.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "The request body is larger than {} KiB.",
                super::API_BODY_LIMIT / 1024
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the request body as JSON with Content-Type: application/json.",
        ),
        s if s.is_client_error() => AppError::validation("The request was not understood."),
        _ => AppError::new(
            ErrorCode::Internal,
            "The server failed to handle the request.",
        ),
    }
}
