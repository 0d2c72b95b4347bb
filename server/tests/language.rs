//! The dashboard's language as the server decides it: a user's stored choice, else the language
//! cookie, else `Accept-Language`, else English; and choosing it through the API and the
//! dashboard's server function (stored, audited, carried by a cookie and by every login).

mod common;

use app::auth::{Quota, Role};
use common::{client_with_token, make_user, TestApp, PASSWORD};
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

/// The `lang` of a rendered page's `<html>`.
async fn page_language(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let start = html.find("<html").expect("a page");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let lang = tag.split("lang=\"").nth(1).expect("<html lang>");
    lang[..lang.find('"').unwrap()].to_string()
}

/// `PUT /api/v1/me/language` with `body`, as `client`'s caller.
async fn put_language(app: &TestApp, client: &reqwest::Client, body: Value) -> reqwest::Response {
    let url = app.url("/api/v1/me/language");
    client.put(url).json(&body).send().await.unwrap()
}

/// The dashboard's language menu (`/rpc/set_language`), as `client`'s caller.
async fn choose(app: &TestApp, client: &reqwest::Client, language: &str) -> reqwest::Response {
    let url = app.url("/rpc/set_language");
    let body = json!({ "language": language });
    client.post(url).json(&body).send().await.unwrap()
}

fn language_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("limen_language="))
        .map(str::to_string)
}

#[tokio::test]
async fn a_visitor_gets_the_browser_language_or_the_cookie() {
    let app = TestApp::spawn().await;
    let anonymous = reqwest::Client::new();
    let login = app.url("/login");
    assert_eq!(page_language(anonymous.get(&login)).await, "en");
    let korean = anonymous
        .get(&login)
        .header(ACCEPT_LANGUAGE, "ko-KR,ko;q=0.9,en-US;q=0.8");
    let response = korean.send().await.unwrap();
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\""), "{}", &html[..200]);
    // The language menu, named in Korean; each language named in itself.
    assert!(html.contains("aria-label=\"언어\""));
    assert!(html.contains(">한국어</option>") && html.contains(">English</option>"));
    // Preference order is by q, not by position; an unknown language passes to the next.
    let ranked = anonymous
        .get(&login)
        .header(ACCEPT_LANGUAGE, "en;q=0.4, fr, ko;q=0.8");
    assert_eq!(page_language(ranked).await, "ko");
    assert_eq!(
        page_language(anonymous.get(&login).header(ACCEPT_LANGUAGE, "fr-FR, de")).await,
        "en"
    );
    // The cookie (a choice made on the login page) wins over the browser's header; a cookie
    // naming a language the dashboard does not speak is passed over.
    let chosen = anonymous
        .get(&login)
        .header(ACCEPT_LANGUAGE, "en-US")
        .header(COOKIE, "limen_language=ko");
    assert_eq!(page_language(chosen).await, "ko");
    let stale = anonymous
        .get(&login)
        .header(ACCEPT_LANGUAGE, "ko")
        .header(COOKIE, "limen_language=../../etc");
    assert_eq!(page_language(stale).await, "ko");

    // The login page's menu: a visitor's choice is a cookie only.
    let response = choose(&app, &anonymous, "ko").await;
    assert_eq!(response.status(), 200);
    let cookie = language_cookie(&response).expect("the choice is set as a cookie");
    assert!(cookie.starts_with("limen_language=ko;") && cookie.contains("Max-Age="));
    let response = choose(&app, &anonymous, "<script>").await;
    assert_eq!(response.status(), 400);
    assert!(language_cookie(&response).is_none());
}

#[tokio::test]
async fn a_users_choice_is_stored_audited_and_follows_them() {
    let app = TestApp::spawn().await;
    let token = make_user(&app.accounts, "minji", Role::User, Quota::default()).await;
    let minji = client_with_token(&token);
    let me: Value = minji
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["language"], Value::Null, "no choice yet");

    // Refused: codes the dashboard does not speak, and hostile ones; nothing is stored.
    for bad in ["xx", "../en", "ko<", ""] {
        let response = put_language(&app, &minji, json!({ "language": bad })).await;
        assert_eq!(response.status(), 400, "{bad:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "VALIDATION_FAILED");
        assert!(body["error"].as_str().unwrap().contains("en, ko"));
    }
    // A body without the field (a typo) is refused, not taken as "forget the choice".
    for body in [
        json!({}),
        json!({ "lang": "ko" }),
        json!({ "language": "ko", "x": 1 }),
    ] {
        let response = put_language(&app, &minji, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    let response = put_language(&app, &minji, json!({ "language": "ko" })).await;
    assert_eq!(response.status(), 200);
    assert!(language_cookie(&response)
        .unwrap()
        .starts_with("limen_language=ko;"));
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["language"], "ko");

    // Her pages are in Korean whatever the browser says, with no cookie at all: the stored
    // choice is read with her session (and the cached credential was forgotten at the change).
    let dashboard = minji.get(app.url("/")).header(ACCEPT_LANGUAGE, "en-US");
    assert_eq!(page_language(dashboard).await, "ko");
    let with_old_cookie = minji.get(app.url("/")).header(COOKIE, "limen_language=en");
    assert_eq!(page_language(with_old_cookie).await, "ko");

    // A new login (another browser) brings the choice along as a cookie.
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": "minji", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(language_cookie(&response)
        .unwrap()
        .starts_with("limen_language=ko;"));
    let response = reqwest::Client::new()
        .post(app.url("/rpc/login"))
        .json(&json!({ "request": { "username": "minji", "password": PASSWORD } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(language_cookie(&response)
        .unwrap()
        .starts_with("limen_language=ko;"));

    // The dashboard's menu stores it too; `null` through the API forgets it.
    let response = choose(&app, &minji, "en").await;
    assert_eq!(response.status(), 200);
    let me: Value = minji
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["language"], "en");
    let korean_browser = minji.get(app.url("/")).header(ACCEPT_LANGUAGE, "ko");
    assert_eq!(
        page_language(korean_browser).await,
        "en",
        "her choice, not the browser's"
    );
    let response = put_language(&app, &minji, json!({ "language": null })).await;
    assert_eq!(response.status(), 200);
    assert!(language_cookie(&response).unwrap().contains("Max-Age=0"));
    let korean_browser = minji.get(app.url("/")).header(ACCEPT_LANGUAGE, "ko");
    assert_eq!(
        page_language(korean_browser).await,
        "ko",
        "the browser decides again"
    );

    // Every change is in the audit log, refusals included.
    let page: Value = app.get_json("/api/v1/audit?limit=200").await;
    let changes: Vec<(String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "user.language" && e["username"] == "minji")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("success".into(), "ko".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("success".into(), "none".into())),
        "{changes:?}"
    );
    assert_eq!(changes.iter().filter(|c| c.0 == "failure").count(), 4);
}
