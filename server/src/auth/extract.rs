//! `Caller`: the handler argument that requires a logged-in caller (401 without one). The
//! middleware decided who it is; what the caller may do is the service layer's decision.

use app::auth::Principal;
use app::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError(AppError::unauthorized()))
    }
}
