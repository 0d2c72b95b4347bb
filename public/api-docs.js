// The API documentation page (/api/docs): Swagger UI (vendor/, served by Limen from
// /swagger-ui/) on the description Limen generates from its own code. "Try it out" sends the
// browser's session cookie (same origin), so a logged-in user can call the API from here.
window.addEventListener("DOMContentLoaded", () => {
  window.limenApiDocs = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#api-docs",
    deepLinking: true,
    withCredentials: true,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
  });
});
