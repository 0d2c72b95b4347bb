//! `/api/docs`: the description, browsable. Swagger UI (from npm, pinned in vendor/'s lock
//! file, served by Limen itself) is loaded by this page only; nothing else of the dashboard
//! pulls it in.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Limen API</title>
<link rel="stylesheet" href="/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="api-docs"></div>
<script src="/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api-docs.js"></script>
</body>
</html>
"#;

/// The documentation page (no login needed, like the description it shows).
pub async fn docs_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}
