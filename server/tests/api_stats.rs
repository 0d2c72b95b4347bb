//! Resource statistics on libvirt's test driver: the API's shapes and ranges (the last hour
//! from memory after the stored minutes, longer ranges averaged from the database), who may
//! read what, the live streams and the cards' gauges, the minutes written and pruned, and
//! `/metrics` read back with an OpenMetrics parser. Real QEMU proves the numbers themselves
//! (tests/real_stats.rs).

mod common;

use std::time::Duration;

use app::auth::{Quota, Role};
use common::sse::SseClient;
use common::{TestApp, TestDb};
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

/// Runs the collector of the app's host every second until the returned token is cancelled
/// (tests start it only where they mean to: its rounds add events to the streams).
fn collect_every_second(app: &TestApp) -> CancellationToken {
    let stop = CancellationToken::new();
    tokio::spawn(server::background::collector::run(
        app.cx().clone(),
        app.host(),
        Duration::from_secs(1),
        30,
        stop.clone(),
    ));
    stop
}

/// Stores one minute of a VM's statistics `minutes_ago` minutes back.
fn store_minute(app: &TestApp, uuid: &str, minutes_ago: i64, cpu: f64) {
    app.db.execute(&format!(
        "INSERT INTO vm_stats (vm_uuid, minute, cpu_percent, memory_kib, net_rx_bps) VALUES \
         ('{uuid}', date_trunc('minute', now()) - interval '{minutes_ago} minutes', {cpu}, 65536, NULL)"
    ));
}

async fn start(client: &reqwest::Client, app: &TestApp, uuid: &str) {
    let response = client
        .post(app.url(&format!("/api/v1/vms/{uuid}/action")))
        .json(&json!({ "action": "start" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn stats(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = client.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn ranges_come_from_memory_and_the_stored_minutes() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&common::unique_name("stats")).await;
    // Ten minutes half an hour ago, an hour three hours ago, one two days ago, one past the
    // retention.
    for ago in 30..40 {
        store_minute(&app, &uuid, ago, 10.0);
    }
    for ago in 180..240 {
        store_minute(&app, &uuid, ago, 20.0);
    }
    store_minute(&app, &uuid, 2 * 1440, 50.0);
    store_minute(&app, &uuid, 40 * 1440, 99.0);

    let path = |range: &str| format!("/api/v1/vms/{uuid}/stats?range={range}");
    let (status, hour) = stats(&app.client, &app, &path("1h")).await;
    assert_eq!(status, StatusCode::OK, "{hour}");
    assert_eq!(hour["range"], "1h");
    assert_eq!(hour["step_secs"], 5, "the collection period");
    let points = hour["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        10,
        "the stored minutes of the last hour: {hour}"
    );
    let first = &points[0];
    for key in [
        "at",
        "cpu_percent",
        "memory_kib",
        "memory_used_kib",
        "disk_read_bps",
        "disk_write_bps",
        "disk_read_iops",
        "disk_write_iops",
        "net_rx_bps",
        "net_tx_bps",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(first["cpu_percent"], 10.0);
    assert_eq!(first["memory_kib"], 65536.0);
    assert_eq!(first["net_rx_bps"], Value::Null, "unknown stays unknown");
    let ats: Vec<i64> = points.iter().map(|p| p["at"].as_i64().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[1] - w[0] == 60), "{ats:?}");
    // The default range is the hour.
    let (_, default) = stats(&app.client, &app, &format!("/api/v1/vms/{uuid}/stats")).await;
    assert_eq!(default["range"], "1h");

    let (_, day) = stats(&app.client, &app, &path("24h")).await;
    assert_eq!(
        (day["range"].as_str(), day["step_secs"].as_i64()),
        (Some("24h"), Some(60))
    );
    assert_eq!(day["points"].as_array().unwrap().len(), 70);

    let (_, week) = stats(&app.client, &app, &path("7d")).await;
    assert_eq!(week["step_secs"], 600);
    let week_points = week["points"].as_array().unwrap();
    // 10 minutes in 1–2 buckets, 60 minutes in 6–7, the lone minute in 1.
    assert!((8..=10).contains(&week_points.len()), "{week}");
    assert!(week_points.iter().any(|p| p["cpu_percent"] == 50.0));
    assert!(week_points.iter().all(|p| p["cpu_percent"] != 99.0));

    let (_, month) = stats(&app.client, &app, &path("30d")).await;
    assert_eq!(month["step_secs"], 3600);
    let hours = month["points"].as_array().unwrap();
    assert!((3..=5).contains(&hours.len()), "{month}");
    let cpu: Vec<f64> = hours
        .iter()
        .map(|p| p["cpu_percent"].as_f64().unwrap())
        .collect();
    assert!(
        cpu.iter().all(|c| [10.0, 20.0, 50.0].contains(c)),
        "means of equal minutes: {cpu:?}"
    );

    // The collector: its first round prunes past the retention (30 days), then the hour grows
    // with points from memory after the stored minutes.
    let old = format!("SELECT count(*) AS n FROM vm_stats WHERE vm_uuid = '{uuid}' AND minute < now() - interval '30 days'");
    assert_eq!(app.db.count(&old), 1);
    start(&app.client, &app, &uuid).await;
    let stop = collect_every_second(&app);
    let deadline = tokio::time::Instant::now() + WAIT;
    let grown = loop {
        let (_, hour) = stats(&app.client, &app, &path("1h")).await;
        let points = hour["points"].as_array().unwrap().clone();
        if points.len() >= 12 {
            break points;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no points from memory: {hour}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(app.db.count(&old), 0, "pruned past the retention");
    // (The collector may have stored the current minutes meanwhile: count the older ones.)
    assert_eq!(
        app.db.count(&format!(
            "SELECT count(*) AS n FROM vm_stats WHERE vm_uuid = '{uuid}' \
             AND minute < now() - interval '20 minutes'"
        )),
        71,
        "the rest is kept"
    );
    let ats: Vec<i64> = grown.iter().map(|p| p["at"].as_i64().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[1] > w[0]), "oldest first: {ats:?}");
    // The test driver reports no counters: a running VM's points are there, their numbers
    // unknown (real QEMU fills them: tests/real_stats.rs).
    assert_eq!(grown.last().unwrap()["cpu_percent"], Value::Null);

    // The minute's means go to the database (what the collector does at each new minute).
    let now = chrono::Utc::now().timestamp();
    let minute = now - now.rem_euclid(60);
    let written = app
        .cx()
        .stats
        .write_minute(&app.cx().db, "local", minute)
        .await
        .unwrap();
    let written_back = app
        .cx()
        .stats
        .write_minute(&app.cx().db, "local", minute - 60)
        .await
        .unwrap();
    assert!(
        written + written_back >= 1,
        "the running VM's minute is stored"
    );
    // A stored minute that memory holds too is not drawn twice (its mean, then its points):
    // before the first point in memory come only minutes over by then.
    let (_, hour) = stats(&app.client, &app, &path("1h")).await;
    let first_in_memory = hour["stored_until"].as_i64().unwrap();
    let stored: Vec<i64> = hour["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_i64().unwrap())
        .filter(|at| *at < first_in_memory)
        .collect();
    assert!(
        stored.iter().all(|at| at + 60 <= first_in_memory),
        "{stored:?} before {first_in_memory}"
    );
    stop.cancel();

    // Deleting the VM deletes its history.
    assert_eq!(
        app.delete(&format!("/api/v1/vms/{uuid}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.db.count(&format!(
            "SELECT count(*) AS n FROM vm_stats WHERE vm_uuid = '{uuid}'"
        )),
        0
    );
}

#[tokio::test]
async fn owners_see_their_vms_statistics_and_admins_the_hosts() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::User, Quota::default()).await;
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let vm: Value = alice
        .post(app.url("/api/v1/vms"))
        .json(
            &json!({ "name": common::unique_name("mine"), "cpu": 2, "memory": 64, "disk_size": 1 }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = vm["uuid"].as_str().unwrap().to_string();
    let path = format!("/api/v1/vms/{uuid}/stats");

    assert_eq!(stats(&alice, &app, &path).await.0, StatusCode::OK);
    assert_eq!(
        stats(&app.client, &app, &path).await.0,
        StatusCode::OK,
        "admins see all"
    );
    let (status, body) = stats(&bob, &app, &path).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("VM_NOT_FOUND"))
    );
    let live = format!("{path}/live");
    assert_eq!(stats(&bob, &app, &live).await.0, StatusCode::NOT_FOUND);
    let anonymous = reqwest::Client::new();
    assert_eq!(
        stats(&anonymous, &app, &path).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Hostile input: a range that is not one, a path that is not a VM id, a VM that is not.
    for bad in ["2h", "1h;DROP", "%3Cscript%3E", "99999999999999999999d"] {
        let (status, body) = stats(&alice, &app, &format!("{path}?range={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "VALIDATION_FAILED");
        assert!(body["error"]
            .as_str()
            .unwrap()
            .contains("1h, 24h, 7d or 30d"));
    }
    let (status, _) = stats(&alice, &app, "/api/v1/vms/..%2F..%2Fetc/stats").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let nobody = uuid::Uuid::new_v4();
    let (status, _) = stats(&alice, &app, &format!("/api/v1/vms/{nobody}/stats")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The host: admins only.
    let (status, body) = stats(&alice, &app, "/api/v1/host/stats").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    assert_eq!(
        stats(&alice, &app, "/api/v1/host/stats/live").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, host) = stats(&app.client, &app, "/api/v1/host/stats?range=24h").await;
    assert_eq!(status, StatusCode::OK, "{host}");
    assert_eq!(host["range"], "24h");
    let capacity = &host["capacity"];
    // The test driver's host: 16 CPUs, 3 GiB.
    assert_eq!(capacity["host_cpus"], 16);
    assert_eq!(capacity["host_memory_mib"], 3072);
    assert_eq!(capacity["vcpus_allocated"], 2, "{capacity}");
    assert_eq!(capacity["vcpus_running"], 0);
    assert_eq!(capacity["memory_allocated_mib"], 64);
    assert_eq!(capacity["cpu_overcommit"], 0.125);
    assert!(capacity["disk_total_bytes"].as_u64().unwrap() > 0);
    assert!(capacity["disk_low"].is_boolean());
}

#[tokio::test]
async fn a_vm_page_receives_its_points_and_the_cards_their_gauges() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::User, Quota::default()).await;
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let create = |name: String| {
        alice
            .post(app.url("/api/v1/vms"))
            .json(&json!({ "name": name, "cpu": 1, "memory": 64, "disk_size": 1 }))
            .send()
    };
    let vm: Value = create(common::unique_name("live"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = vm["uuid"].as_str().unwrap().to_string();
    let other: Value = create(common::unique_name("quiet"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let quiet = other["uuid"].as_str().unwrap().to_string();
    let idle: Value = create(common::unique_name("idle"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let idle = idle["uuid"].as_str().unwrap().to_string();
    start(&alice, &app, &uuid).await;
    start(&alice, &app, &quiet).await;
    let mut idles = SseClient::connect(
        &alice,
        &app.url(&format!("/api/v1/vms/{idle}/stats/live")),
        None,
    )
    .await;

    let mut points = SseClient::connect(
        &alice,
        &app.url(&format!("/api/v1/vms/{uuid}/stats/live")),
        None,
    )
    .await;
    let mut alices = SseClient::connect(&alice, &app.url("/api/v1/events"), None).await;
    let mut bobs = SseClient::connect(&bob, &app.url("/api/v1/events"), None).await;
    let stop = collect_every_second(&app);

    let first = points.wait_for(WAIT, |e| e.event == "point").await;
    let second = points.wait_for(WAIT, |e| e.event == "point").await;
    assert!(
        second.data["at"].as_i64() > first.data["at"].as_i64(),
        "new points keep coming"
    );
    assert!(first.data.get("cpu_percent").is_some());
    // The same rounds went to the stopped VM's stream: a point of another VM would be there by
    // now (keep-alive comments aside, it says nothing).
    let nothing = tokio::time::timeout(Duration::from_millis(100), idles.next(WAIT)).await;
    assert!(
        nothing.is_err(),
        "a stopped VM's stream carried {nothing:?}"
    );

    let gauges = alices.wait_for(WAIT, |e| e.event == "vm_gauges").await;
    let gauge = &gauges.data[&uuid];
    // [cpu, memory]: the test driver reports no counters, so both are unknown here.
    assert_eq!(gauge, &json!([null, null]), "{}", gauges.data);
    assert!(
        gauges.data.get(&quiet).is_some(),
        "every running VM she may see"
    );
    // Bob sees no gauge of hers: his stream says "nothing running" once.
    let his = bobs.wait_for(WAIT, |e| e.event == "vm_gauges").await;
    assert_eq!(his.data, json!({}));

    // Stopped: its series stops (the stream stays open and quiet), its gauge goes.
    let response = alice
        .post(app.url(&format!("/api/v1/vms/{uuid}/action")))
        .json(&json!({ "action": "stop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let after = alices
        .wait_for(WAIT, |e| {
            e.event == "vm_gauges" && e.data.get(&uuid).is_none()
        })
        .await;
    assert!(after.data.get(&quiet).is_some());
    stop.cancel();
}

fn parse(text: &str) -> MetricsExposition<OpenMetricsType, OpenMetricsValue> {
    openmetrics_parser::openmetrics::parse_openmetrics(text)
        .unwrap_or_else(|e| panic!("not OpenMetrics text ({e:?}):\n{text}"))
}

/// The value of the sample of `family` whose labels include all of `labels`.
fn value(
    metrics: &MetricsExposition<OpenMetricsType, OpenMetricsValue>,
    family: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let family = metrics.families.get(family)?;
    let names = family.get_label_names().to_vec();
    family.iter_samples().find_map(|sample| {
        let set = sample.get_labelset().ok()?;
        let matches = labels.iter().all(|(name, wanted)| {
            names.iter().any(|n| n == name) && set.get_label_value(name) == Some(*wanted)
        });
        if !matches {
            return None;
        }
        Some(match &sample.value {
            OpenMetricsValue::Counter(counter) => counter.value.as_f64(),
            OpenMetricsValue::Gauge(number) | OpenMetricsValue::Unknown(number) => number.as_f64(),
            OpenMetricsValue::Histogram(histogram) => histogram.count.unwrap_or(0) as f64,
            _ => return None,
        })
    })
}

async fn scrape(
    client: &reqwest::Client,
    app: &TestApp,
) -> MetricsExposition<OpenMetricsType, OpenMetricsValue> {
    let response = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    parse(&response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_are_openmetrics_and_move_with_what_happens() {
    let token = "scrape-token-0123456789abcdef";
    let app = TestApp::spawn_configured(TestDb::new(), "test:///default", |config| {
        config.metrics_token = Some(token.into());
    })
    .await;
    let alice = app.user("alice", Role::User, Quota::default()).await;

    // Who may scrape: an admin, or the scrape token; not a user, nobody, or a wrong token.
    let anonymous = reqwest::Client::new();
    let status = |r: reqwest::Response| r.status();
    assert_eq!(
        status(anonymous.get(app.url("/metrics")).send().await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    let wrong = common::client_with_token("scrape-token-0123456789abcdeX");
    assert_eq!(
        status(wrong.get(app.url("/metrics")).send().await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(alice.get(app.url("/metrics")).send().await.unwrap()),
        StatusCode::FORBIDDEN
    );
    let scraper = common::client_with_token(token);

    let before = scrape(&scraper, &app).await;
    let me = [
        ("method", "GET"),
        ("route", "/api/v1/me"),
        ("status", "200"),
    ];
    let requests =
        |m: &MetricsExposition<_, _>| value(m, "limen_http_requests", &me).unwrap_or(0.0);
    let failures =
        |m: &MetricsExposition<_, _>| value(m, "limen_login_failures", &[]).unwrap_or(0.0);
    let starts = |m: &MetricsExposition<_, _>| {
        value(
            m,
            "limen_operations",
            &[("kind", "vm.start"), ("outcome", "succeeded")],
        )
        .unwrap_or(0.0)
    };

    // A request, a failed login, a VM start.
    assert_eq!(app.get("/api/v1/me").await.status(), StatusCode::OK);
    let refused = anonymous
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": "alice", "password": "not her password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let uuid = app.create_small_vm(&common::unique_name("metered")).await;
    start(&app.client, &app, &uuid).await;
    let stop = collect_every_second(&app);
    // The VM's series appear after the collector's next round.
    let deadline = tokio::time::Instant::now() + WAIT;
    let after = loop {
        let after = scrape(&scraper, &app).await;
        if value(
            &after,
            "libvirt_domain_info_virtual_cpus",
            &[("uuid", &uuid)],
        )
        .is_some()
        {
            break after;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no series for the VM"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.cancel();

    assert!(
        requests(&after) >= requests(&before) + 1.0,
        "requests counted by route"
    );
    assert!(
        failures(&after) >= failures(&before) + 1.0,
        "failed logins counted"
    );
    assert!(
        starts(&after) >= starts(&before) + 1.0,
        "operations counted by kind"
    );
    assert!(
        value(
            &after,
            "limen_http_request_duration_seconds",
            &[("route", "/api/v1/me")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(value(&after, "limen_vms", &[("state", "running")]).unwrap() >= 1.0);
    let labels = [("uuid", uuid.as_str()), ("owner", "admin"), ("role", "")];
    assert_eq!(
        value(&after, "libvirt_domain_info_virtual_cpus", &labels),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "libvirt_domain_info_maximum_memory_bytes", &labels),
        Some(64.0 * 1_048_576.0)
    );
    assert!(value(&after, "limen_host_cpus", &[("host", "local")]).unwrap() >= 1.0);
    assert!(value(&after, "limen_stats_round_duration_seconds", &[]).unwrap() >= 1.0);
    // Families exist even before anything happened to them.
    for family in [
        "limen_event_streams_open",
        "limen_libvirt_reconnects",
        "limen_consoles_open",
    ] {
        assert!(after.families.contains_key(family), "{family}");
    }
    // An admin's own credential works too.
    scrape(&app.client, &app).await;
}
