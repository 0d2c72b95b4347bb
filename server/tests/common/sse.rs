//! A small Server-Sent Events reader for tests: one event at a time, each wait bounded.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
    pub retry: Option<u64>,
}

pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
    /// Keep-alive comments seen so far.
    pub comments: usize,
}

impl SseClient {
    /// Opens the stream with `client` (which carries the caller's credentials).
    pub async fn connect(client: &reqwest::Client, url: &str, last_event_id: Option<&str>) -> Self {
        let mut request = client.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next event; `None` if the stream ended. Panics if nothing comes within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<SseEvent> {
        tokio::time::timeout(limit, self.read_event())
            .await
            .unwrap_or_else(|_| panic!("no event within {limit:?}"))
    }

    /// Skips events until one satisfies `pred`; panics after `limit` in all.
    pub async fn wait_for(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&SseEvent) -> bool,
    ) -> SseEvent {
        let wait = async {
            loop {
                let event = self.read_event().await.expect("the stream ended");
                if pred(&event) {
                    return event;
                }
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .unwrap_or_else(|_| panic!("no matching event within {limit:?}"))
    }

    async fn read_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = self.parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    fn parse(&mut self, block: &str) -> Option<SseEvent> {
        let (mut event, mut id, mut data, mut retry) = (None, None, String::new(), None);
        for line in block.lines() {
            if line.starts_with(':') {
                self.comments += 1;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = Some(value.to_string()),
                "id" => id = Some(value.to_string()),
                "data" => data.push_str(value),
                "retry" => retry = value.parse().ok(),
                _ => {}
            }
        }
        let event = event?;
        Some(SseEvent {
            event,
            id,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
            retry,
        })
    }
}

/// The status of VM `uuid` in a snapshot event, if it is listed.
pub fn status_in_snapshot(event: &SseEvent, uuid: &str) -> Option<String> {
    event.data["vms"]
        .as_array()?
        .iter()
        .find(|vm| vm["uuid"] == uuid)
        .map(|vm| vm["status"].as_str().unwrap_or_default().to_string())
}
