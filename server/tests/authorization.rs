//! The authorization matrix: every route of the real router (REST, server functions, the event
//! streams, `/metrics`) × {anonymous, owner, other user, admin}. The routes come from the
//! router's own list, and every one must have an expectation here, so a new route cannot be
//! forgotten.

mod common;

use std::collections::BTreeMap;

use app::auth::{Quota, Role};
use common::{make_user, post_json_as, unique_name, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Owner,
    Other,
    Admin,
}

/// How a logged-in caller presents its session: as a script does, or as the dashboard does
/// (the cookie, from the dashboard's own origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Bearer,
    Cookie,
}

const EVERYONE: [(Who, Via); 7] = [
    (Who::Anonymous, Via::Bearer),
    (Who::Owner, Via::Bearer),
    (Who::Other, Via::Bearer),
    (Who::Admin, Via::Bearer),
    (Who::Owner, Via::Cookie),
    (Who::Other, Via::Cookie),
    (Who::Admin, Via::Cookie),
];

/// Who gets what.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Open to anyone, logged in or not (login, setup): the same answer for all.
    Public(u16),
    /// Any logged-in user: anonymous 401.
    AnyUser(u16),
    /// Acts on the owner's VM (or token): anonymous 401, the other user 404 (not even its
    /// existence is revealed), the owner and the admin `ok`.
    Owned { ok: u16, admin: u16 },
    /// Admins only: anonymous 401, users 403.
    AdminOnly(u16),
}

impl Rule {
    fn expected(self, who: Who) -> u16 {
        match (self, who) {
            (Rule::Public(code), _) => code,
            (_, Who::Anonymous) => 401,
            (Rule::AnyUser(code), _) => code,
            (Rule::Owned { ok, .. }, Who::Owner) => ok,
            (Rule::Owned { admin, .. }, Who::Admin) => admin,
            (Rule::Owned { .. }, Who::Other) => 404,
            (Rule::AdminOnly(code), Who::Admin) => code,
            (Rule::AdminOnly(_), _) => 403,
        }
    }
}

/// Every route the router serves, with its rule. Server functions answer 200 where REST says
/// 201/204 (they always return a body).
fn rules() -> BTreeMap<&'static str, Rule> {
    use Rule::*;
    BTreeMap::from([
        ("POST /api/v1/auth/login", Public(200)),
        ("POST /api/v1/auth/setup", Public(403)),
        ("POST /api/v1/auth/logout", AnyUser(204)),
        ("GET /api/v1/me", AnyUser(200)),
        ("PUT /api/v1/me/language", AnyUser(200)),
        ("GET /api/v1/vms", AnyUser(200)),
        ("POST /api/v1/vms", AnyUser(201)),
        (
            "GET /api/v1/vms/{uuid}",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "DELETE /api/v1/vms/{uuid}",
            Owned {
                ok: 204,
                admin: 204,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/action",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        // WebSockets: authorised, then 426 for a plain GET (the upgrade itself is tested in
        // tests/console.rs).
        (
            "GET /api/v1/vms/{uuid}/console",
            Owned {
                ok: 426,
                admin: 426,
            },
        ),
        (
            "GET /api/v1/vms/{uuid}/serial",
            Owned {
                ok: 426,
                admin: 426,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/console/ticket",
            Owned {
                ok: 201,
                admin: 201,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/media/attach",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/media/detach",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "GET /api/v1/vms/{uuid}/boot-order",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/boot-order",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "GET /api/v1/vms/{uuid}/installation-status",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/complete-installation",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "GET /api/v1/vms/{uuid}/disk",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/disk/resize",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "PUT /api/v1/vms/{uuid}/role",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "GET /api/v1/vms/{uuid}/snapshots",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/snapshots",
            Owned {
                ok: 201,
                admin: 201,
            },
        ),
        (
            "POST /api/v1/vms/{uuid}/snapshots/{name}/revert",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "DELETE /api/v1/vms/{uuid}/snapshots/{name}",
            Owned {
                ok: 204,
                admin: 204,
            },
        ),
        ("GET /api/v1/roles", AnyUser(200)),
        ("GET /api/v1/version", AnyUser(200)),
        ("GET /api/v1/openapi.json", Public(200)),
        ("GET /api/v1/events", AnyUser(200)),
        (
            "GET /api/v1/vms/{uuid}/stats",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        // A stream: authorised, then 200 with its headers.
        (
            "GET /api/v1/vms/{uuid}/stats/live",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        ("GET /api/v1/host/stats", AdminOnly(200)),
        ("GET /api/v1/host/stats/live", AdminOnly(200)),
        // A user sees the hosts of their own VMs (an empty list without any).
        ("GET /api/v1/hosts", AnyUser(200)),
        ("POST /api/v1/hosts", AdminOnly(201)),
        ("PATCH /api/v1/hosts/{key}", AdminOnly(200)),
        ("DELETE /api/v1/hosts/{key}", AdminOnly(409)),
        // The fixture's VM is on the only host: the admin's move is refused as such.
        ("POST /api/v1/vms/{uuid}/migrate", AdminOnly(404)),
        ("POST /rpc/migrate_vm", AdminOnly(404)),
        ("POST /rpc/list_hosts", AnyUser(200)),
        ("POST /rpc/add_host", AdminOnly(200)),
        ("POST /rpc/update_host", AdminOnly(200)),
        // The local host cannot be removed: the admin's call is refused as such.
        ("POST /rpc/remove_host", AdminOnly(409)),
        // Prometheus: admins (or the scrape token, tests/api_stats.rs).
        ("GET /metrics", AdminOnly(200)),
        ("POST /api/v1/reconcile", AdminOnly(200)),
        // Authorised, then refused for what the request names: an unknown domain; a VM whose
        // domain still exists.
        ("POST /api/v1/reconcile/adopt", AdminOnly(404)),
        ("POST /api/v1/reconcile/forget", AdminOnly(409)),
        ("GET /api/v1/isos", AnyUser(200)),
        // Authorised, then refused for what the request lacks: a name and an ISO body (the
        // upload itself is tested in tests/api_media.rs).
        ("POST /api/v1/isos", AdminOnly(400)),
        ("DELETE /api/v1/isos/{name}", AdminOnly(204)),
        ("GET /api/v1/images", AnyUser(200)),
        ("POST /api/v1/images", AdminOnly(202)),
        ("DELETE /api/v1/images/{name}", AdminOnly(204)),
        ("GET /api/v1/operations", AnyUser(200)),
        // Authorised, then refused for what the request names: no such operation.
        ("POST /api/v1/operations/{id}/cancel", AdminOnly(404)),
        ("GET /api/v1/quota", AnyUser(200)),
        ("GET /api/v1/tokens", AnyUser(200)),
        ("POST /api/v1/tokens", AnyUser(201)),
        // A token is its owner's alone: an admin cannot see or revoke it either.
        (
            "DELETE /api/v1/tokens/{id}",
            Owned {
                ok: 204,
                admin: 404,
            },
        ),
        ("GET /api/v1/users", AdminOnly(200)),
        ("POST /api/v1/users", AdminOnly(201)),
        ("PATCH /api/v1/users/{username}", AdminOnly(200)),
        ("DELETE /api/v1/users/{username}", AdminOnly(204)),
        ("GET /api/v1/audit", AnyUser(200)),
        ("POST /rpc/login", Public(200)),
        ("POST /rpc/logout", AnyUser(200)),
        // `me` tells an anonymous visitor "nobody" (the login page asks).
        ("POST /rpc/me", Public(200)),
        ("POST /rpc/setup_needed", Public(200)),
        // A visitor's choice goes into a cookie only (the login page has the switch too).
        ("POST /rpc/set_language", Public(200)),
        ("POST /rpc/setup_admin", Public(403)),
        ("POST /rpc/list_vms", AnyUser(200)),
        (
            "POST /rpc/get_vm",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        ("POST /rpc/create_vm", AnyUser(200)),
        (
            "POST /rpc/act_on_vm",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/delete_vm",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/change_media",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/set_boot_order",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/complete_installation",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/vm_disk",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/resize_disk",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/set_role",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/list_snapshots",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/create_snapshot",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/revert_snapshot",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        (
            "POST /rpc/delete_snapshot",
            Owned {
                ok: 200,
                admin: 200,
            },
        ),
        ("POST /rpc/list_roles", AnyUser(200)),
        ("POST /rpc/list_isos", AnyUser(200)),
        ("POST /rpc/delete_iso", AdminOnly(200)),
        ("POST /rpc/list_images", AnyUser(200)),
        ("POST /rpc/create_image", AdminOnly(200)),
        ("POST /rpc/delete_image", AdminOnly(200)),
        ("POST /rpc/list_operations", AnyUser(200)),
        ("POST /rpc/cancel_operation", AdminOnly(404)),
        ("POST /rpc/reconcile", AdminOnly(200)),
        ("POST /rpc/adopt_vm", AdminOnly(404)),
        ("POST /rpc/forget_vm", AdminOnly(409)),
        ("POST /rpc/list_tokens", AnyUser(200)),
        ("POST /rpc/create_token", AnyUser(200)),
        (
            "POST /rpc/revoke_token",
            Owned {
                ok: 200,
                admin: 404,
            },
        ),
        ("POST /rpc/quota", AnyUser(200)),
        ("POST /rpc/list_users", AdminOnly(200)),
        ("POST /rpc/create_user", AdminOnly(200)),
        ("POST /rpc/update_user", AdminOnly(200)),
        ("POST /rpc/delete_user", AdminOnly(200)),
        ("POST /rpc/audit", AnyUser(200)),
    ])
}

/// What one case needs made fresh (a delete or a logout uses its target up).
struct Fixture {
    vm: String,
    token: String,
    username: String,
    /// An ISO in the library; also the name of a base image, and of a snapshot of the VM.
    iso: String,
    /// A libvirt URI a host can be added with (a test driver of its own).
    host_uri: String,
}

fn vm_body(name: &str) -> Value {
    json!({ "name": name, "cpu": 1, "memory": 64, "disk_size": 1 })
}

fn body_for(route: &str, f: &Fixture) -> Option<Value> {
    let login = json!({ "username": "owner", "password": common::PASSWORD });
    let setup = json!({ "setup_token": "guess", "username": "x", "password": "long enough" });
    let new_user =
        json!({ "username": unique_name("new"), "password": "long enough", "role": "user" });
    let (_, path) = route.split_once(' ').unwrap();
    Some(match path {
        "/api/v1/auth/login" => login,
        "/rpc/login" => json!({ "request": login }),
        "/api/v1/me/language" | "/rpc/set_language" => json!({ "language": "en" }),
        "/api/v1/auth/setup" => setup,
        "/rpc/setup_admin" => json!({ "request": setup }),
        "/api/v1/vms" if route.starts_with("POST") => vm_body(&unique_name("m")),
        "/rpc/create_vm" => json!({ "request": vm_body(&unique_name("m")) }),
        "/api/v1/vms/{uuid}/action" => json!({ "action": "start" }),
        "/rpc/get_vm" | "/rpc/delete_vm" | "/rpc/forget_vm" => json!({ "id": f.vm }),
        "/rpc/act_on_vm" => json!({ "id": f.vm, "action": "start" }),
        "/api/v1/reconcile/adopt" => json!({ "uuid": uuid::Uuid::new_v4() }),
        "/rpc/adopt_vm" => json!({ "request": { "uuid": uuid::Uuid::new_v4() } }),
        "/api/v1/reconcile/forget" => json!({ "uuid": f.vm }),
        "/api/v1/tokens" if route.starts_with("POST") => json!({ "name": "ci" }),
        "/rpc/create_token" => json!({ "request": { "name": "ci" } }),
        "/rpc/revoke_token" => json!({ "id": f.token }),
        "/api/v1/users" if route.starts_with("POST") => new_user,
        "/api/v1/hosts" if route.starts_with("POST") => {
            json!({ "name": unique_name("h"), "uri": f.host_uri })
        }
        "/api/v1/hosts/{key}" if route.starts_with("PATCH") => json!({ "name": "local" }),
        "/rpc/add_host" => {
            json!({ "request": { "name": unique_name("h"), "uri": f.host_uri } })
        }
        "/rpc/update_host" => json!({ "key": "local", "request": { "name": "local" } }),
        "/rpc/remove_host" => json!({ "key": "local" }),
        "/api/v1/vms/{uuid}/migrate" => json!({ "host": "elsewhere" }),
        "/rpc/migrate_vm" => json!({ "id": f.vm, "request": { "host": "elsewhere" } }),
        "/rpc/create_user" => json!({ "request": new_user }),
        "/api/v1/users/{username}" if route.starts_with("PATCH") => {
            json!({ "quota": { "max_vms": 3 } })
        }
        "/rpc/update_user" => {
            json!({ "username": f.username, "request": { "quota": { "max_vms": 3 } } })
        }
        "/rpc/delete_user" => json!({ "username": f.username }),
        "/api/v1/vms/{uuid}/media/attach" => json!({ "iso": f.iso }),
        "/rpc/change_media" => json!({ "id": f.vm, "iso": f.iso }),
        "/api/v1/vms/{uuid}/boot-order" if route.starts_with("POST") => {
            json!({ "boot_order": "hd" })
        }
        "/rpc/set_boot_order" => json!({ "id": f.vm, "boot_order": "hd" }),
        "/rpc/complete_installation" => json!({ "id": f.vm, "failed": false }),
        "/rpc/vm_disk" => json!({ "id": f.vm }),
        "/api/v1/vms/{uuid}/disk/resize" => json!({ "size_gb": 2 }),
        "/rpc/resize_disk" => json!({ "id": f.vm, "size_gb": 2 }),
        "/api/v1/vms/{uuid}/role" => json!({ "role": "web" }),
        "/rpc/set_role" => json!({ "id": f.vm, "role": "web" }),
        "/api/v1/vms/{uuid}/snapshots" if route.starts_with("POST") => {
            json!({ "name": unique_name("snap") })
        }
        "/rpc/list_snapshots" => json!({ "id": f.vm }),
        "/rpc/create_snapshot" => json!({ "id": f.vm, "request": { "name": unique_name("snap") } }),
        "/rpc/revert_snapshot" | "/rpc/delete_snapshot" => json!({ "id": f.vm, "name": f.iso }),
        "/rpc/delete_iso" => json!({ "name": f.iso }),
        "/api/v1/images" if route.starts_with("POST") => {
            json!({ "vm": f.vm, "name": unique_name("tpl") })
        }
        "/rpc/create_image" => json!({ "request": { "vm": f.vm, "name": unique_name("tpl") } }),
        "/rpc/delete_image" => json!({ "name": f.iso }),
        "/rpc/cancel_operation" => json!({ "id": f.token }),
        "/rpc/audit" => json!({ "query": {} }),
        p if p.starts_with("/rpc/") => json!({}),
        _ if ["POST", "PATCH", "PUT"]
            .iter()
            .any(|m| route.starts_with(m)) =>
        {
            json!({})
        }
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_rule_says() {
    let app = TestApp::spawn().await;
    let session = |name: &'static str| {
        let accounts = app.accounts.clone();
        async move {
            use app::ports::AccountPort;
            let login = app::auth::LoginRequest {
                username: name.into(),
                password: common::PASSWORD.into(),
            };
            accounts.login(login, None).await.unwrap().token
        }
    };
    make_user(&app.accounts, "owner", Role::User, Quota::default()).await;
    make_user(&app.accounts, "other", Role::User, Quota::default()).await;

    let routes = server::route_list();
    let rules = rules();
    let listed: Vec<String> = routes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    let mut unruled: Vec<&String> = listed
        .iter()
        .filter(|r| !rules.contains_key(r.as_str()))
        .collect();
    unruled.sort();
    assert!(
        unruled.is_empty(),
        "routes with no rule in this test: {unruled:?}"
    );
    let stale: Vec<&&str> = rules
        .keys()
        .filter(|r| !listed.iter().any(|l| l == *r))
        .collect();
    assert!(
        stale.is_empty(),
        "rules for routes the router does not serve: {stale:?}"
    );

    // Sessions are shared between cases, except where the case ends its own (logout).
    let owner_token = session("owner").await;
    let other_token = session("other").await;
    let admin_token = session(common::ADMIN).await;
    let owner = common::client_with_token(&owner_token);
    let mut failures = Vec::new();
    for route in &listed {
        let rule = rules[route.as_str()];
        for (who, via) in EVERYONE {
            // Fresh targets for every case (a delete uses its target up).
            let vm: Value =
                post_json_as(&owner, app.url("/api/v1/vms"), vm_body(&unique_name("own"))).await;
            let token: Value = post_json_as(
                &owner,
                app.url("/api/v1/tokens"),
                json!({ "name": "target" }),
            )
            .await;
            let username = unique_name("victim");
            common::create_user(&app.accounts, &username, Role::User, Quota::default()).await;
            let iso = format!("{}.iso", unique_name("lib"));
            common::write_iso(&app.data_dir.0.join("isos").join(&iso), 64 * 1024);
            // An image of the same name, for the image routes' `{name}`; a snapshot too.
            std::fs::write(app.data_dir.0.join("images").join(&iso), b"an image").unwrap();
            let snapshot = owner
                .post(app.url(&format!(
                    "/api/v1/vms/{}/snapshots",
                    vm["uuid"].as_str().unwrap()
                )))
                .json(&json!({ "name": iso }))
                .send()
                .await
                .unwrap();
            assert_eq!(snapshot.status(), StatusCode::CREATED);
            let fixture = Fixture {
                vm: vm["uuid"].as_str().unwrap().to_string(),
                token: token["id"].as_str().unwrap().to_string(),
                username,
                iso,
                host_uri: {
                    let node = app.data_dir.0.join("node.xml");
                    std::fs::write(&node, "<node><memory>8388608</memory></node>").unwrap();
                    format!("test://{}", node.display())
                },
            };
            let logs_out = route.ends_with("logout");
            let token_of = |name: &'static str, shared: &String| {
                let shared = shared.clone();
                let fresh = session(name);
                async move {
                    if logs_out {
                        fresh.await
                    } else {
                        shared
                    }
                }
            };
            let token = match who {
                Who::Anonymous => None,
                Who::Owner => Some(token_of("owner", &owner_token).await),
                Who::Other => Some(token_of("other", &other_token).await),
                Who::Admin => Some(token_of(common::ADMIN, &admin_token).await),
            };
            let client = match (&token, via) {
                (Some(token), Via::Bearer) => common::client_with_token(token),
                _ => reqwest::Client::new(),
            };
            let (method, path) = route.split_once(' ').unwrap();
            let url = app.url(
                &path
                    .replace("{uuid}", &fixture.vm)
                    .replace("{id}", &fixture.token)
                    .replace("{username}", &fixture.username)
                    .replace("{name}", &fixture.iso)
                    // The local host: renaming it to its name is allowed, removing it never.
                    .replace("{key}", "local"),
            );
            let mut request = client.request(Method::from_bytes(method.as_bytes()).unwrap(), url);
            if let (Some(token), Via::Cookie) = (&token, via) {
                request = request
                    .header("cookie", format!("limen_session={token}"))
                    .header("origin", format!("http://{}", app.addr));
            }
            if let Some(body) = body_for(route, &fixture) {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let expected = rule.expected(who);
            if status != expected {
                let body = response.text().await.unwrap_or_default();
                failures.push(format!(
                    "{who:?} via {via:?} {route}: {status}, expected {expected}: {body}"
                ));
            }
            // The owner's token list stays short (a user may hold only so many).
            owner
                .delete(app.url(&format!("/api/v1/tokens/{}", fixture.token)))
                .send()
                .await
                .unwrap();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_cross_site_request_cannot_use_the_session_cookie() {
    let app = TestApp::spawn().await;
    make_user(&app.accounts, "alice", Role::User, Quota::default()).await;
    let client = reqwest::Client::new();
    let login = client
        .post(app.url("/rpc/login"))
        .json(&json!({ "request": { "username": "alice", "password": common::PASSWORD } }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["limen_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let create = |origin: &str| {
        client
            .post(app.url("/rpc/create_vm"))
            .header("cookie", &session)
            .header("origin", origin)
            .json(&json!({ "request": vm_body(&unique_name("csrf")) }))
            .send()
    };
    let forged = create("https://evil.example").await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["code"], "FORBIDDEN");
    assert_eq!(app.db.count_vms(), 0, "nothing was created");
    // The same request from the dashboard's own origin works.
    let own = create(&format!("http://{}", app.addr)).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(app.db.count_vms(), 1);
    // A form post (not JSON) is refused before anything runs.
    let form = client
        .post(app.url("/rpc/create_vm"))
        .header("cookie", &session)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn anonymous_pages_lead_to_the_login_page() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(app.url("/vms/abc?x=1")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/login?next=/vms/abc%3Fx%3D1"
    );
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.headers()["location"], "/login");
}
