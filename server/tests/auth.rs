//! Accounts end to end through the real router: tokens, sessions, the login rate limit,
//! quotas, ownership, the audit log and the per-user event stream.

mod common;

use std::time::Duration;

use app::auth::{Quota, Role};
use common::sse::SseClient;
use common::{client_with_token, get_json_as, post_json_as, unique_name, TestApp, PASSWORD};
use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn vm_body(name: &str, cpu: u32) -> Value {
    json!({ "name": name, "cpu": cpu, "memory": 64, "disk_size": 1 })
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn status_of(client: &reqwest::Client, url: String) -> StatusCode {
    client.get(url).send().await.unwrap().status()
}

fn sql(app: &TestApp, query: &str) {
    diesel::sql_query(query)
        .execute(&mut app.db.connect())
        .unwrap();
}

#[tokio::test]
async fn an_api_token_works_until_revoked_and_only_its_hash_is_stored() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::User, Quota::default()).await;
    let created = alice
        .post(app.url("/api/v1/tokens"))
        .json(&json!({ "name": "backup script", "expires_in_days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("limen_"));

    let script = client_with_token(&secret);
    let me: Value = get_json_as(&script, app.url("/api/v1/me")).await;
    assert_eq!(me["username"], "alice");
    // Listed without the secret; the database holds only its hash.
    let listed: Vec<Value> = get_json_as(&alice, app.url("/api/v1/tokens")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "backup script");
    assert!(listed[0].get("secret").is_none());
    assert!(listed[0]["last_used_at"].is_string(), "its use was noted");
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        token_hash: String,
    }
    let stored: Vec<Hash> = diesel::sql_query("SELECT token_hash FROM api_tokens")
        .load(&mut app.db.connect())
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].token_hash.contains(&secret[6..]));

    // Another user cannot revoke it; its owner can, and then it stops working.
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let id = created["id"].as_str().unwrap();
    let by_bob = bob
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_bob.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        status_of(&script, app.url("/api/v1/me")).await,
        StatusCode::OK
    );
    let revoked = alice
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(&script, app.url("/api/v1/me")).await,
        StatusCode::UNAUTHORIZED
    );

    // Bad names and lifetimes are refused with a reason.
    for body in [
        json!({"name": ""}),
        json!({"name": "x", "expires_in_days": 0}),
    ] {
        let response = alice
            .post(app.url("/api/v1/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn sessions_expire_renew_and_end_at_logout() {
    let app = TestApp::spawn().await;
    common::create_user(&app.accounts, "alice", Role::User, Quota::default()).await;
    let response = login(&app, "alice", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_string();
    let alice = client_with_token(&token);

    // Past half its life, a use renews it (and sends the cookie again). Each change made
    // straight in the database below is to a session not used yet: used ones are cached.
    sql(
        &app,
        "UPDATE sessions SET expires_at = now() + interval '1 hour' WHERE username = 'alice'",
    );
    let response = alice.get(app.url("/api/v1/me")).send().await.unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("limen_session={token}")),
        "{cookie}"
    );
    #[derive(diesel::QueryableByName)]
    struct Hours {
        #[diesel(sql_type = diesel::sql_types::Double)]
        hours: f64,
    }
    let left: Hours = diesel::sql_query(
        "SELECT extract(epoch FROM expires_at - now())::float8 / 3600 AS hours FROM sessions WHERE username = 'alice'",
    )
    .get_result(&mut app.db.connect())
    .unwrap();
    assert!(
        left.hours > 167.0,
        "renewed to the full lifetime: {}",
        left.hours
    );

    // Expired: refused.
    let fresh = login(&app, "alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap();
    sql(
        &app,
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE username = 'alice'",
    );
    let expired = client_with_token(fresh["token"].as_str().unwrap());
    assert_eq!(
        status_of(&expired, app.url("/api/v1/me")).await,
        StatusCode::UNAUTHORIZED
    );

    // Logout ends the session for good and clears the cookie.
    let token = login(&app, "alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = client_with_token(&token);
    // Even when due for renewal, a logout's answer only clears the cookie.
    sql(
        &app,
        "UPDATE sessions SET expires_at = now() + interval '1 hour' WHERE username = 'alice'",
    );
    let out = alice
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cookies: Vec<&str> = out
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].contains("Max-Age=0"));
    assert_eq!(
        status_of(&alice, app.url("/api/v1/me")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_user() {
    let app = TestApp::spawn().await;
    common::create_user(&app.accounts, "alice", Role::User, Quota::default()).await;
    common::create_user(&app.accounts, "bob", Role::User, Quota::default()).await;
    let wrong = login(&app, "alice", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = login(&app, "nobody", "not the password").await;
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(
        wrong, unknown,
        "an unknown user looks like a wrong password"
    );
    for _ in 1..5 {
        assert_eq!(
            login(&app, "alice", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password is refused for a while, with a reason…
    let limited = login(&app, "alice", PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // …and when trying again makes sense (the window is 15 minutes).
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "RATE_LIMITED");
    // …while other users log in as usual.
    assert_eq!(login(&app, "bob", PASSWORD).await.status(), StatusCode::OK);
    // Many attempts at once are counted as they arrive: none gets to try a password.
    let burst = futures::future::join_all((0..20).map(|_| login(&app, "alice", PASSWORD))).await;
    assert!(burst
        .iter()
        .all(|r| r.status() == StatusCode::TOO_MANY_REQUESTS));

    // Every attempt is in the audit log, failures included; of a blocked streak, only its
    // first refusal (or anyone could fill the log).
    let page: Value = app.get_json("/api/v1/audit?limit=200").await;
    let logins: Vec<&Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login" && e["target"] == "alice")
        .collect();
    assert_eq!(logins.len(), 6);
    assert!(logins.iter().all(|e| e["outcome"] == "failure"));
    assert!(
        logins[0]["address"].is_string(),
        "the client's address is recorded"
    );
    assert!(logins[0]["detail"]
        .as_str()
        .unwrap()
        .contains("RATE_LIMITED"));
}

#[tokio::test]
async fn a_quota_refuses_a_create_that_would_exceed_it_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let quota = Quota {
        max_vms: Some(2),
        max_vcpus: Some(3),
        max_memory_mib: None,
        max_disk_gb: None,
    };
    let alice = app.user("alice", Role::User, quota).await;
    let first = alice
        .post(app.url("/api/v1/vms"))
        .json(&vm_body(&unique_name("q"), 2))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);

    let name = unique_name("over");
    let refused = alice
        .post(app.url("/api/v1/vms"))
        .json(&vm_body(&name, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "QUOTA_EXCEEDED");
    assert!(
        body["error"].as_str().unwrap().contains("3 vCPUs"),
        "{body}"
    );
    assert_eq!(app.db.count_vms(), 1, "no record");
    assert_eq!(app.disk_files().len(), 1, "no disk");
    assert!(!app.domain_exists(&name), "no domain");

    let report: Value = get_json_as(&alice, app.url("/api/v1/quota")).await;
    assert_eq!(report["limits"]["max_vms"], 2);
    assert_eq!(report["limits"]["max_memory_mib"], Value::Null);
    assert_eq!(report["used"]["vms"], 1);
    assert_eq!(report["used"]["vcpus"], 2);

    // Two creates at once cannot both take the last VM of the quota.
    let (a, b) = tokio::join!(
        alice
            .post(app.url("/api/v1/vms"))
            .json(&vm_body(&unique_name("race"), 1))
            .send(),
        alice
            .post(app.url("/api/v1/vms"))
            .json(&vm_body(&unique_name("race"), 1))
            .send(),
    );
    let mut statuses = [a.unwrap().status(), b.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::FORBIDDEN]);
    assert_eq!(app.db.count_vms(), 2);

    // The refusal is audited with its reason.
    let page: Value = get_json_as(&alice, app.url("/api/v1/audit")).await;
    let refusals: Vec<&Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "vm.create" && e["outcome"] == "failure")
        .collect();
    assert_eq!(refusals.len(), 2);
    assert!(refusals.iter().any(|e| e["target"] == name.as_str()));
}

#[tokio::test]
async fn a_user_sees_and_acts_on_their_own_vms_only() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::User, Quota::default()).await;
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let mine: Value = post_json_as(
        &alice,
        app.url("/api/v1/vms"),
        vm_body(&unique_name("a"), 1),
    )
    .await;
    let theirs: Value =
        post_json_as(&bob, app.url("/api/v1/vms"), vm_body(&unique_name("b"), 1)).await;
    assert_eq!(mine["owner"], "alice");

    let listed: Vec<Value> = get_json_as(&alice, app.url("/api/v1/vms")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["uuid"], mine["uuid"]);
    let all: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(all.len(), 2, "an admin sees every VM");

    // Bob's VM does not exist as far as Alice can tell: the same 404 as a made-up id.
    let theirs_id = theirs["uuid"].as_str().unwrap();
    let response = alice
        .get(app.url(&format!("/api/v1/vms/{theirs_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let hidden: Value = response.json().await.unwrap();
    let made_up: Value = get_json_as(
        &alice,
        app.url(&format!("/api/v1/vms/{}", uuid::Uuid::new_v4())),
    )
    .await;
    assert_eq!(hidden, made_up);
    let act = alice
        .post(app.url(&format!("/api/v1/vms/{theirs_id}/action")))
        .json(&json!({"action": "start"}))
        .send()
        .await
        .unwrap();
    assert_eq!(act.status(), StatusCode::NOT_FOUND);
    let delete = alice
        .delete(app.url(&format!("/api/v1/vms/{theirs_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    let still: Value = get_json_as(&bob, app.url(&format!("/api/v1/vms/{theirs_id}"))).await;
    assert_eq!(still["status"], "stopped", "untouched");

    // Alice's audit log holds her own entries only; the admin's holds everyone's.
    let hers: Value = get_json_as(&alice, app.url("/api/v1/audit")).await;
    let hers = hers["entries"].as_array().unwrap();
    assert!(hers.iter().all(|e| e["username"] == "alice"), "{hers:?}");
    assert!(hers
        .iter()
        .any(|e| e["action"] == "vm.delete" && e["outcome"] == "failure"));
    let everyone: Value = app.get_json("/api/v1/audit").await;
    assert!(everyone["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["username"] == "bob"));
}

#[tokio::test]
async fn the_event_stream_of_a_user_never_carries_another_users_vm() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::User, Quota::default()).await;
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let bobs_first: Value =
        post_json_as(&bob, app.url("/api/v1/vms"), vm_body(&unique_name("b"), 1)).await;
    let mut stream = SseClient::connect(&alice, &app.url("/api/v1/events"), None).await;
    let snapshot = stream.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["vms"], json!([]));

    // Bob creates, starts and deletes a VM; then Alice creates one. Alice's stream must show
    // hers and nothing of Bob's in between.
    let bobs: Value =
        post_json_as(&bob, app.url("/api/v1/vms"), vm_body(&unique_name("b"), 1)).await;
    let bobs_id = bobs["uuid"].as_str().unwrap();
    bob.post(app.url(&format!("/api/v1/vms/{bobs_id}/action")))
        .json(&json!({"action": "start"}))
        .send()
        .await
        .unwrap();
    bob.delete(app.url(&format!("/api/v1/vms/{bobs_id}")))
        .send()
        .await
        .unwrap();
    let hers: Value = post_json_as(
        &alice,
        app.url("/api/v1/vms"),
        vm_body(&unique_name("a"), 1),
    )
    .await;
    let mut seen = Vec::new();
    stream
        .wait_for(Duration::from_secs(10), |e| {
            seen.push(e.clone());
            e.data["uuid"] == hers["uuid"] && e.data["status"] == "stopped"
        })
        .await;
    for event in &seen {
        let text = event.data.to_string();
        assert!(!text.contains(bobs_id), "{event:?}");
        assert!(
            !text.contains(bobs_first["uuid"].as_str().unwrap()),
            "{event:?}"
        );
    }
    // An admin's stream sees both users' VMs.
    let mut admin = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let snapshot = admin.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(snapshot.data["vms"].as_array().unwrap().len(), 2);
    // Anonymous: no stream at all.
    let anonymous = reqwest::Client::new()
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admins_manage_users_and_a_disabled_user_is_locked_out() {
    let app = TestApp::spawn().await;
    let created = app
        .post_json(
            "/api/v1/users",
            json!({"username": "carol", "password": "long enough", "role": "user",
                   "quota": {"max_vms": 1}}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let detail: Value = created.json().await.unwrap();
    assert_eq!(detail["quota"]["limits"]["max_vms"], 1);
    // Hostile or clashing input: a clear 4xx, nothing made.
    for (body, status) in [
        (
            json!({"username": "../x", "password": "long enough", "role": "user"}),
            400,
        ),
        (
            json!({"username": "<b>", "password": "long enough", "role": "user"}),
            400,
        ),
        (
            json!({"username": "dave", "password": "short", "role": "user"}),
            400,
        ),
        (
            json!({"username": "carol", "password": "long enough", "role": "user"}),
            409,
        ),
        (
            json!({"username": "eve", "password": "long enough", "role": "root"}),
            400,
        ),
        (
            json!({"username": "eve", "password": "long enough", "role": "user",
                "quota": {"max_vms": 99999999999u64}}),
            400,
        ),
    ] {
        let response = app.post_json("/api/v1/users", body.clone()).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
    }
    let users: Vec<Value> = app.get_json("/api/v1/users").await;
    assert_eq!(users.len(), 2, "admin and carol only");

    let carol_token = login(&app, "carol", "long enough")
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let carol = client_with_token(&carol_token);
    let vm: Value = post_json_as(
        &carol,
        app.url("/api/v1/vms"),
        vm_body(&unique_name("c"), 1),
    )
    .await;

    // A user who owns VMs cannot be deleted.
    let refused = app.delete("/api/v1/users/carol").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);

    // Disabling ends her session and refuses her password.
    let patched = app
        .client
        .patch(app.url("/api/v1/users/carol"))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        status_of(&carol, app.url("/api/v1/me")).await,
        StatusCode::UNAUTHORIZED
    );
    let again = login(&app, "carol", "long enough").await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    // An admin cannot lock themselves out.
    let myself = app
        .client
        .patch(app.url("/api/v1/users/admin"))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(myself.status(), StatusCode::CONFLICT);

    // Once her VM is gone she can be deleted.
    let id = vm["uuid"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/vms/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/api/v1/users/carol").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/api/v1/users/carol").await.status(),
        StatusCode::NOT_FOUND
    );

    let page: Value = app.get_json("/api/v1/audit?limit=3").await;
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.delete", "user.delete", "vm.delete"],
        "newest first"
    );
    let older: Value = app
        .get_json(&format!(
            "/api/v1/audit?limit=3&before={}",
            page["next_before"]
        ))
        .await;
    let first_ids: Vec<i64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let older_ids: Vec<i64> = older["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        older_ids.iter().all(|id| id < first_ids.last().unwrap()),
        "the next page is older"
    );
}

#[tokio::test]
async fn an_open_event_stream_ends_when_its_credential_does() {
    let app = TestApp::spawn().await;
    common::create_user(&app.accounts, "alice", Role::User, Quota::default()).await;
    let session = |app: &TestApp| {
        let url = app.url("/api/v1/auth/login");
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&json!({ "username": "alice", "password": PASSWORD }))
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            client_with_token(body["token"].as_str().unwrap())
        }
    };
    let limit = Duration::from_secs(5);

    // Logging out ends that session's stream, not another session's of the same user.
    let (first, second) = (session(&app).await, session(&app).await);
    let mut first_stream = SseClient::connect(&first, &app.url("/api/v1/events"), None).await;
    let mut second_stream = SseClient::connect(&second, &app.url("/api/v1/events"), None).await;
    assert_eq!(first_stream.next(limit).await.unwrap().event, "snapshot");
    assert_eq!(second_stream.next(limit).await.unwrap().event, "snapshot");
    let out = first
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(first_stream.next(limit).await.is_none(), "the stream ended");

    // A revoked token's stream ends too.
    let created: Value = post_json_as(
        &second,
        app.url("/api/v1/tokens"),
        json!({ "name": "watcher" }),
    )
    .await;
    let script = client_with_token(created["secret"].as_str().unwrap());
    let mut script_stream = SseClient::connect(&script, &app.url("/api/v1/events"), None).await;
    assert_eq!(script_stream.next(limit).await.unwrap().event, "snapshot");
    let id = created["id"].as_str().unwrap();
    second
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert!(script_stream.next(limit).await.is_none());

    // Disabling the account ends every stream of hers; the admin's goes on.
    let mut admin_stream = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    assert_eq!(admin_stream.next(limit).await.unwrap().event, "snapshot");
    let disabled = app
        .client
        .patch(app.url("/api/v1/users/alice"))
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    assert!(second_stream.next(limit).await.is_none());
    let vm: Value = app
        .post_for_json("/api/v1/vms", vm_body(&unique_name("after"), 1))
        .await;
    let seen = admin_stream
        .wait_for(limit, |e| e.data["uuid"] == vm["uuid"])
        .await;
    assert_eq!(seen.event, "vm_created");
}

#[tokio::test]
async fn two_admins_cannot_disable_each_other_at_once() {
    let app = TestApp::spawn().await;
    let second = app.user("root2", Role::Admin, Quota::default()).await;
    let (a, b) = tokio::join!(
        app.client
            .patch(app.url("/api/v1/users/root2"))
            .json(&json!({ "disabled": true }))
            .send(),
        second
            .patch(app.url("/api/v1/users/admin"))
            .json(&json!({ "disabled": true }))
            .send(),
    );
    let mut statuses = [a.unwrap().status(), b.unwrap().status()];
    statuses.sort();
    // Whichever came second would have left no admin who can log in.
    assert!(
        statuses == [StatusCode::OK, StatusCode::CONFLICT]
            || statuses == [StatusCode::OK, StatusCode::UNAUTHORIZED],
        "{statuses:?}"
    );
    let users: Vec<Value> = reqwest::Client::new()
        .get(app.url("/api/v1/users"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default();
    let second_users: Vec<Value> = second
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default();
    let listing = if users.is_empty() {
        second_users
    } else {
        users
    };
    let enabled_admins = listing
        .iter()
        .filter(|u| u["role"] == "admin" && u["disabled"] == false)
        .count();
    assert_eq!(enabled_admins, 1);
}
