//! Benchmark (not a test): Limen's console proxy beside websockify (the proxy noVNC ships with),
//! both relaying the same VNC-like byte source, with the harness's ceilings printed beside them.
//! `scripts/bench-console.sh` runs the whole comparison and pins every process to its core
//! (servers on core 0; this binary's client and byte source on core 1). This one binary plays
//! every part:
//!
//!   console source ADDR             the byte source: sends "RFB 003.008\n", then does what the
//!                                   client's next byte asks: S stream, E echo, T tick, I idle
//!   console relay ADDR TARGET       the harness's own bare WebSocket↔TCP relay (tokio-tungstenite,
//!                                   no HTTP stack, no auth): what a relay can do on this core
//!   console adopt BASE_URL UUIDS    logs in as LIMEN_BENCH_USER / LIMEN_BENCH_PASSWORD, adopts
//!                                   every ghost named in the file UUIDS, prints the token
//!   console measure NAME OUT ...    the client: latency, throughput, 1/100/1000 open consoles;
//!                                   writes its figures to OUT (JSON)
//!   console table OUT...            the comparison table of those files, targets checked
//!
//! Figures: throughput is the byte source streaming 64 KiB writes through one console for a
//! fixed time; latency is the round trip of a 32-byte message through the proxy to the echoing
//! source and back (the "added" latency subtracts the same round trip done directly over TCP);
//! at 1, 100 and 1,000 open consoles (each one a WebSocket whose RFB banner came through) the
//! server's CPU and memory are read from /proc over a window with every console idle, then with
//! every console receiving a 4 KiB update every 100 ms (the source's ticks).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

const BANNER: &[u8] = b"RFB 003.008\n";
const CMD_STREAM: u8 = b'S';
const CMD_ECHO: u8 = b'E';
const CMD_TICK: u8 = b'T';
const CMD_IDLE: u8 = b'I';
const STREAM_CHUNK: usize = 64 * 1024;
const TICK_EVERY: Duration = Duration::from_millis(100);
const TICK_BYTES: usize = 4096;
const ECHO_BYTES: usize = 32;
/// Handshakes in flight while consoles are being opened.
const OPENING_AT_ONCE: usize = 32;

#[derive(Parser)]
#[command(about = "Console proxy benchmark: every part of it (scripts/bench-console.sh runs it)")]
struct Cli {
    #[command(subcommand)]
    part: Part,
}

#[derive(Subcommand)]
enum Part {
    /// The VNC-like byte source.
    Source { listen: String },
    /// The harness's own bare WebSocket↔TCP relay.
    Relay { listen: String, target: String },
    /// Log in to Limen, adopt every ghost in UUIDS, print the token.
    Adopt { base_url: String, uuids: PathBuf },
    /// The client: measures one proxy (or the source directly) and writes OUT.
    Measure(MeasureArgs),
    /// The comparison table of measure outputs.
    Table { outputs: Vec<PathBuf> },
}

#[derive(clap::Args)]
struct MeasureArgs {
    /// Label of this row (direct, relay, websockify, limen).
    name: String,
    out: PathBuf,
    /// Plain TCP straight to the source at this address: the harness's ceiling.
    #[arg(long, conflicts_with = "url")]
    direct: Option<String>,
    /// WebSocket URL of a console; `{uuid}` is replaced by a line of --uuids (one VM per console).
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    uuids: Option<PathBuf>,
    /// Extra request header "Name: value" (e.g. the Authorization of Limen's upgrade).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// The server's process id (its descendants count too: websockify forks one per console).
    #[arg(long)]
    server_pid: Option<u32>,
    /// The byte source's process id (counted as harness).
    #[arg(long)]
    source_pid: Option<u32>,
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    levels: Vec<usize>,
    /// Round trips measured (after a tenth as many to warm up).
    #[arg(long, default_value_t = 20_000)]
    round_trips: usize,
    /// Each of the three throughput runs' window (after a second to warm up).
    #[arg(long, default_value_t = 3.0)]
    throughput_secs: f64,
    /// Length of each idle and active window at every level.
    #[arg(long, default_value_t = 4.0)]
    window_secs: f64,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.part {
        Part::Source { listen } => runtime().block_on(source(listen)),
        Part::Relay { listen, target } => runtime().block_on(relay(listen, target)),
        Part::Adopt { base_url, uuids } => adopt(&base_url, &uuids),
        Part::Measure(args) => runtime().block_on(measure(args)),
        Part::Table { outputs } => table(&outputs),
    };
    if let Err(e) = result {
        eprintln!("console bench: {e}");
        std::process::exit(1);
    }
}

/// One thread: every part runs pinned to one core anyway.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

type Res<T> = Result<T, String>;

fn err(context: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{context}: {e}")
}

// ---------------------------------------------------------------------------------------------
// The byte source

async fn source(listen: String) -> Res<()> {
    let listener = TcpListener::bind(&listen).await.map_err(err(&listen))?;
    println!("source listening on {}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.map_err(err("accept"))?;
        tokio::spawn(async move {
            let _ = serve_source(stream).await;
        });
    }
}

async fn serve_source(mut s: TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    s.write_all(BANNER).await?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        match buf[0] {
            CMD_STREAM => {
                let chunk: Vec<u8> = (0..STREAM_CHUNK).map(|i| (i * 7 + 13) as u8).collect();
                loop {
                    s.write_all(&chunk).await?;
                }
            }
            CMD_ECHO => {
                s.write_all(&buf[1..n]).await?;
                loop {
                    let n = s.read(&mut buf).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    s.write_all(&buf[..n]).await?;
                }
            }
            CMD_TICK => {
                let update = vec![0x5au8; TICK_BYTES];
                let mut every = tokio::time::interval(TICK_EVERY);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = every.tick() => s.write_all(&update).await?,
                        read = s.read(&mut buf) => {
                            let n = read?;
                            if n == 0 {
                                return Ok(());
                            }
                            if buf[..n].contains(&CMD_IDLE) {
                                break;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The harness's own relay: the least a WebSocket relay must do, for a ceiling

async fn relay(listen: String, target: String) -> Res<()> {
    let listener = TcpListener::bind(&listen).await.map_err(err(&listen))?;
    println!("relay listening on {}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.map_err(err("accept"))?;
        let target = target.clone();
        tokio::spawn(async move {
            let _ = relay_one(stream, &target).await;
        });
    }
}

async fn relay_one(client: TcpStream, target: &str) -> Res<()> {
    client.set_nodelay(true).map_err(err("nodelay"))?;
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        client,
        answer_binary,
        Some(relay_ws_config()),
    )
    .await
    .map_err(|e| e.to_string())?;
    let upstream = TcpStream::connect(target).await.map_err(err(target))?;
    upstream.set_nodelay(true).map_err(err("nodelay"))?;
    let (up_read, mut up_write) = upstream.into_split();
    let (mut ws_write, mut ws_read) = ws.split();
    // Readiness, then a read into the thread's one buffer: an idle console holds no buffer.
    let down = async {
        loop {
            up_read.readable().await.map_err(err("upstream"))?;
            let chunk = RELAY_BUFFER.with(|buf| {
                let mut buf = buf.borrow_mut();
                match up_read.try_read(&mut buf[..]) {
                    Ok(n) => Ok(Some(bytes::Bytes::copy_from_slice(&buf[..n]))),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) => Err(format!("upstream: {e}")),
                }
            })?;
            match chunk {
                None => continue,
                Some(chunk) if chunk.is_empty() => {
                    let _ = ws_write.close().await;
                    return Ok::<_, String>(());
                }
                Some(chunk) => ws_write
                    .send(Message::Binary(chunk))
                    .await
                    .map_err(|e| e.to_string())?,
            }
        }
    };
    let up = async {
        while let Some(message) = ws_read.next().await {
            match message.map_err(|e| e.to_string())? {
                Message::Binary(data) => {
                    up_write.write_all(&data).await.map_err(err("upstream"))?
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        Ok::<_, String>(())
    };
    tokio::select! {
        r = down => r,
        r = up => r,
    }
}

/// Answers the subprotocol `binary` when the client offers it (noVNC does).
#[allow(clippy::result_large_err)] // the signature tungstenite's handshake callback asks for
fn answer_binary(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "binary");
    if offered {
        response
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    }
    Ok(response)
}

thread_local! {
    static RELAY_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
}

/// The client reads with a large buffer (throughput); the relay's WebSocket side only ever
/// reads small messages from the client, so it keeps a small one per console.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(256 * 1024)
}

fn relay_ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

// ---------------------------------------------------------------------------------------------
// Limen's side of the setup: log in, adopt the ghosts

fn adopt(base_url: &str, uuids: &PathBuf) -> Res<()> {
    let user = std::env::var("LIMEN_BENCH_USER").map_err(|_| "set LIMEN_BENCH_USER")?;
    let password = std::env::var("LIMEN_BENCH_PASSWORD").map_err(|_| "set LIMEN_BENCH_PASSWORD")?;
    let uuids = read_lines(uuids)?;
    let http = reqwest::blocking::Client::new();
    let login = http
        .post(format!("{base_url}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .map_err(|e| format!("login: {e}"))?;
    let status = login.status();
    let body: serde_json::Value = login.json().map_err(|e| format!("login: {e}"))?;
    let token = body["token"]
        .as_str()
        .ok_or_else(|| format!("login answered {status} {body}"))?
        .to_string();
    for uuid in &uuids {
        let answer = http
            .post(format!("{base_url}/api/v1/reconcile/adopt"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "uuid": uuid }))
            .send()
            .map_err(|e| format!("adopt {uuid}: {e}"))?;
        if answer.status() != reqwest::StatusCode::CREATED {
            let status = answer.status();
            return Err(format!(
                "POST /api/v1/reconcile/adopt {{\"uuid\":\"{uuid}\"}} answered {status} {}",
                answer.text().unwrap_or_default()
            ));
        }
    }
    println!("{token}");
    Ok(())
}

fn read_lines(path: &PathBuf) -> Res<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// The client's connections: plain TCP to the source, or a WebSocket console through a proxy

#[derive(Clone)]
enum Target {
    Direct(String),
    Ws {
        url: String,
        headers: Vec<(String, String)>,
        uuids: Vec<String>,
    },
}

enum Conn {
    Tcp(TcpStream),
    Ws(Box<WebSocketStream<TcpStream>>),
}

/// Opens console `i` and waits for the RFB banner to come through it.
async fn open(target: &Target, i: usize) -> Res<Conn> {
    match target {
        Target::Direct(addr) => {
            let mut s = TcpStream::connect(addr).await.map_err(err(addr))?;
            s.set_nodelay(true).map_err(err("nodelay"))?;
            let mut banner = [0u8; BANNER.len()];
            s.read_exact(&mut banner).await.map_err(err("banner"))?;
            check_banner(&banner)?;
            Ok(Conn::Tcp(s))
        }
        Target::Ws {
            url,
            headers,
            uuids,
        } => {
            let url = match uuids.is_empty() {
                true => url.clone(),
                false => url.replace("{uuid}", &uuids[i % uuids.len()]),
            };
            let mut request = url
                .as_str()
                .into_client_request()
                .map_err(|e| e.to_string())?;
            for (name, value) in headers {
                request.headers_mut().insert(
                    http_name(name)?,
                    HeaderValue::from_str(value).map_err(|e| e.to_string())?,
                );
            }
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
            let authority = request
                .uri()
                .authority()
                .ok_or("the URL has no host")?
                .to_string();
            let tcp = TcpStream::connect(&authority)
                .await
                .map_err(err(&authority))?;
            tcp.set_nodelay(true).map_err(err("nodelay"))?;
            let (mut ws, _) =
                tokio_tungstenite::client_async_with_config(request, tcp, Some(ws_config()))
                    .await
                    .map_err(|e| describe_ws_error(&url, e))?;
            let mut banner = Vec::new();
            while banner.len() < BANNER.len() {
                match ws.next().await {
                    Some(Ok(Message::Binary(data))) => banner.extend_from_slice(&data),
                    Some(Ok(Message::Text(text))) => {
                        return Err(format!(
                            "{url}: a text message instead of the banner: {text}"
                        ))
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Err(format!("{url}: closed before the banner: {frame:?}"))
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("{url}: {e}")),
                    None => return Err(format!("{url}: ended before the banner")),
                }
            }
            check_banner(&banner)?;
            Ok(Conn::Ws(Box::new(ws)))
        }
    }
}

fn http_name(name: &str) -> Res<tokio_tungstenite::tungstenite::http::HeaderName> {
    name.parse()
        .map_err(|_| format!("bad header name {name:?}"))
}

fn describe_ws_error(url: &str, e: WsError) -> String {
    match e {
        WsError::Http(response) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            format!("GET {url} (upgrade) answered {}: {body}", response.status())
        }
        e => format!("GET {url} (upgrade): {e}"),
    }
}

fn check_banner(got: &[u8]) -> Res<()> {
    if got == BANNER {
        Ok(())
    } else {
        Err(format!(
            "expected the banner {BANNER:?}, got {:?}",
            String::from_utf8_lossy(got)
        ))
    }
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) -> Res<()> {
        match self {
            Conn::Tcp(s) => s.write_all(bytes).await.map_err(err("send")),
            Conn::Ws(ws) => ws
                .send(Message::Binary(bytes::Bytes::copy_from_slice(bytes)))
                .await
                .map_err(|e| format!("send: {e}")),
        }
    }

    /// Reads what arrives next; returns how many bytes (0: the connection ended).
    async fn recv(&mut self, buf: &mut [u8]) -> Res<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf).await.map_err(err("recv")),
            Conn::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(data))) => return Ok(data.len()),
                    Some(Ok(Message::Text(text))) => return Err(format!("text message: {text}")),
                    Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("recv: {e}")),
                    None => return Ok(0),
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What /proc says: CPU time and memory of a process tree, busy time of each core

#[derive(Clone, Default)]
struct Snapshot {
    at: Option<Instant>,
    /// CPU time the scheduler gave every thread of the process tree (schedstat, in ns: exact,
    /// where utime/stime are sampled at clock ticks and miss short-lived work).
    server_ns: u64,
    harness_ns: u64,
    /// Every other process's CPU time (pid → ns): someone else's load on the machine.
    others_ns: HashMap<u32, u64>,
    /// (busy, total) jiffies of cpu0, cpu1.
    cores: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize, Clone, Default, Debug)]
struct Memory {
    rss_kib: u64,
    pss_kib: u64,
    processes: usize,
    threads: u64,
}

/// CPU over a window, in % of one core.
#[derive(Serialize, Deserialize, Clone, Default, Debug)]
struct Usage {
    server_cpu: f64,
    harness_cpu: f64,
    /// Every other process on the machine (both cores): load that is not the bench's.
    #[serde(default)]
    others_cpu: f64,
    core0_busy: f64,
    core1_busy: f64,
}

struct Probe {
    server: Option<u32>,
    source: Option<u32>,
}

impl Probe {
    fn snapshot(&self) -> Snapshot {
        let processes = all_processes();
        let cpu = |root: Option<u32>| -> u64 {
            root.map(|root| tree(&processes, root).into_iter().map(cpu_ns).sum())
                .unwrap_or(0)
        };
        let own = std::process::id();
        let ours: std::collections::HashSet<u32> = [self.server, Some(own), self.source]
            .into_iter()
            .flatten()
            .flat_map(|root| tree(&processes, root))
            .collect();
        Snapshot {
            at: Some(Instant::now()),
            server_ns: cpu(self.server),
            harness_ns: cpu(Some(own)) + cpu(self.source),
            others_ns: processes
                .keys()
                .filter(|pid| !ours.contains(pid))
                .map(|&pid| (pid, cpu_ns(pid)))
                .collect(),
            cores: cores(),
        }
    }

    fn usage(&self, from: &Snapshot, to: &Snapshot) -> Usage {
        let secs = (to.at.unwrap() - from.at.unwrap()).as_secs_f64();
        let pct = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / 1e9 / secs * 100.0;
        let core = |i: usize| match (from.cores.get(i), to.cores.get(i)) {
            (Some(a), Some(b)) if b.1 > a.1 => (b.0 - a.0) as f64 / (b.1 - a.1) as f64 * 100.0,
            _ => 0.0,
        };
        Usage {
            server_cpu: pct(from.server_ns, to.server_ns),
            harness_cpu: pct(from.harness_ns, to.harness_ns),
            // Processes that ended inside the window are missed; the cores' busy time is the
            // check on that.
            others_cpu: pct(
                0,
                to.others_ns
                    .iter()
                    .map(|(pid, ns)| {
                        ns.saturating_sub(from.others_ns.get(pid).copied().unwrap_or(0))
                    })
                    .sum(),
            ),
            core0_busy: core(0),
            core1_busy: core(1),
        }
    }

    /// Waits (a bounded poll of /proc) until the server's tree has `n` processes again.
    async fn wait_for_processes(&self, n: usize) -> Res<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self
                .server
                .map(|root| tree(&all_processes(), root).len())
                .unwrap_or(0);
            if now <= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server still has {now} processes, not {n}, after 30 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn memory(&self) -> Memory {
        let Some(root) = self.server else {
            return Memory::default();
        };
        let processes = all_processes();
        let mut memory = Memory::default();
        for pid in tree(&processes, root) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |text: &str, name: &str| -> u64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            memory.rss_kib += field(&status, "VmRSS:");
            memory.threads += field(&status, "Threads:");
            let rollup =
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            memory.pss_kib += field(&rollup, "Pss:");
            memory.processes += 1;
        }
        memory
    }
}

/// CPU time of every thread of `pid`, in ns.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// pid → parent.
fn all_processes() -> HashMap<u32, u32> {
    let mut processes = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return processes;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces and parentheses).
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        // Field 4 of proc(5), the parent, is the second one after the name.
        if let Some(parent) = rest.split_whitespace().nth(1).and_then(|f| f.parse().ok()) {
            processes.insert(pid, parent);
        }
    }
    processes
}

/// `root` and all its descendants.
fn tree(processes: &HashMap<u32, u32>, root: u32) -> Vec<u32> {
    let mut found = vec![];
    if processes.contains_key(&root) {
        found.push(root);
    }
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            processes
                .iter()
                .filter(|(_, pp)| **pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found
}

fn cores() -> Vec<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            let total: u64 = v.iter().take(8).sum();
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The measurements

#[derive(Serialize, Deserialize, Default, Debug)]
struct Figures {
    name: String,
    direct: bool,
    latency: Option<Latency>,
    throughput: Option<Throughput>,
    baseline: Option<Memory>,
    levels: Vec<Level>,
    errors: Vec<String>,
    /// Length of each idle and active window at every level.
    #[serde(default)]
    window_secs: f64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Latency {
    round_trips: usize,
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Throughput {
    /// Each run's measuring window.
    secs: f64,
    /// The median run's.
    mib_s: f64,
    runs_mib_s: Vec<f64>,
    /// Over the median run's window.
    usage: Usage,
}

#[derive(Serialize, Deserialize, Debug)]
struct Level {
    consoles: usize,
    asked: usize,
    open_secs: f64,
    idle: Window,
    active: Option<Window>,
}

#[derive(Serialize, Deserialize, Debug)]
struct Window {
    usage: Usage,
    memory: Memory,
    /// Bytes that reached the client per second over the window (what the consoles received).
    mib_s: f64,
    /// Consoles that ended during the window (a proxy giving up under load).
    lost: usize,
}

async fn measure(args: MeasureArgs) -> Res<()> {
    let target = match (&args.direct, &args.url) {
        (Some(addr), None) => Target::Direct(addr.clone()),
        (None, Some(url)) => Target::Ws {
            url: url.clone(),
            headers: args
                .headers
                .iter()
                .map(|h| {
                    let (name, value) = h.split_once(':').ok_or(format!("bad header {h:?}"))?;
                    Ok((name.trim().to_string(), value.trim().to_string()))
                })
                .collect::<Res<_>>()?,
            uuids: match &args.uuids {
                Some(path) => read_lines(path)?,
                None => vec![],
            },
        },
        _ => return Err("say --direct ADDR or --url URL".into()),
    };
    let probe = Probe {
        server: args.server_pid,
        source: args.source_pid,
    };
    let mut figures = Figures {
        name: args.name.clone(),
        direct: matches!(target, Target::Direct(_)),
        window_secs: args.window_secs,
        ..Default::default()
    };
    let write = |figures: &Figures| {
        std::fs::write(&args.out, serde_json::to_string_pretty(figures).unwrap())
            .map_err(|e| format!("{}: {e}", args.out.display()))
    };

    let processes_at_rest = probe.memory().processes;
    eprintln!(
        "[{}] latency: {} round trips of {ECHO_BYTES} bytes",
        args.name, args.round_trips
    );
    match latency(&target, args.round_trips).await {
        Ok(l) => {
            eprintln!(
                "[{}]   p50 {:.1} µs, p99 {:.1} µs",
                args.name, l.p50_us, l.p99_us
            );
            figures.latency = Some(l);
        }
        Err(e) => figures.errors.push(format!("latency: {e}")),
    }
    eprintln!(
        "[{}] throughput: one console, 3 runs of {} s",
        args.name, args.throughput_secs
    );
    match throughput(&target, args.throughput_secs, &probe).await {
        Ok(t) => {
            eprintln!(
                "[{}]   {:.0} MiB/s (runs {:?}; server {:.0}% CPU, harness {:.0}%, others {:.0}%)",
                args.name,
                t.mib_s,
                t.runs_mib_s.iter().map(|r| r.round()).collect::<Vec<_>>(),
                t.usage.server_cpu,
                t.usage.harness_cpu,
                t.usage.others_cpu
            );
            figures.throughput = Some(t);
        }
        Err(e) => figures.errors.push(format!("throughput: {e}")),
    }
    write(&figures)?;

    if args.server_pid.is_some() && !figures.direct {
        // websockify's children of the two consoles above go when they notice the close.
        probe.wait_for_processes(processes_at_rest).await?;
        figures.baseline = Some(probe.memory());
        if let Err(e) = levels(&target, &args, &probe, &mut figures).await {
            eprintln!("[{}]   {e}", args.name);
            figures.errors.push(e);
        }
    }
    write(&figures)
}

async fn latency(target: &Target, n: usize) -> Res<Latency> {
    let mut conn = open(target, 0).await?;
    conn.send(&[CMD_ECHO]).await?;
    let message = [0x42u8; ECHO_BYTES];
    let mut buf = vec![0u8; 64 * 1024];
    let warm = n / 10;
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let start = Instant::now();
        conn.send(&message).await?;
        let mut got = 0;
        while got < ECHO_BYTES {
            match conn.recv(&mut buf).await? {
                0 => return Err("the echo ended".into()),
                k => got += k,
            }
        }
        if got != ECHO_BYTES {
            return Err(format!("sent {ECHO_BYTES} bytes, {got} came back"));
        }
        if i >= warm {
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Ok(Latency {
        round_trips: n,
        p50_us: at(0.50),
        p99_us: at(0.99),
        mean_us: mean,
    })
}

/// Three runs, each on a console of its own; the median counts, the others show the spread.
async fn throughput(target: &Target, secs: f64, probe: &Probe) -> Res<Throughput> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(throughput_run(target, secs, probe).await?);
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mib_s, usage) = runs[1].clone();
    Ok(Throughput {
        secs,
        mib_s,
        runs_mib_s: runs.iter().map(|r| r.0).collect(),
        usage,
    })
}

async fn throughput_run(target: &Target, secs: f64, probe: &Probe) -> Res<(f64, Usage)> {
    let mut conn = open(target, 0).await?;
    conn.send(&[CMD_STREAM]).await?;
    let mut buf = vec![0u8; 256 * 1024];
    // A second to warm up (buffers fill, the server's allocator settles), then the window.
    let warm_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm_until {
        if conn.recv(&mut buf).await? == 0 {
            return Err("the stream ended".into());
        }
    }
    let before = probe.snapshot();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut bytes = 0u64;
    loop {
        match conn.recv(&mut buf).await? {
            0 => return Err("the stream ended".into()),
            n => bytes += n as u64,
        }
        if Instant::now() >= until {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after = probe.snapshot();
    Ok((
        bytes as f64 / elapsed / (1 << 20) as f64,
        probe.usage(&before, &after),
    ))
}

/// An open console, read all the time by its own task (so pings are answered and ticks drained).
struct Console {
    commands: mpsc::UnboundedSender<u8>,
    /// Set before a tick command; the reader clears it and reports when data comes.
    armed: Arc<AtomicBool>,
}

struct Shared {
    bytes: AtomicU64,
    ended: AtomicUsize,
    first_end: std::sync::Mutex<Option<String>>,
    data_came: mpsc::UnboundedSender<()>,
}

fn start_console(conn: Conn, shared: Arc<Shared>) -> Console {
    let (commands, mut rx) = mpsc::unbounded_channel::<u8>();
    let armed = Arc::new(AtomicBool::new(false));
    let flag = armed.clone();
    let got = move |n: usize, shared: &Shared| {
        shared.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if flag.swap(false, Ordering::Relaxed) {
            let _ = shared.data_came.send(());
        }
    };
    tokio::spawn(async move {
        let ended: Result<(), String> = match conn {
            Conn::Tcp(stream) => {
                let (mut read, mut write) = stream.into_split();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    tokio::select! {
                        command = rx.recv() => match command {
                            Some(c) => if let Err(e) = write.write_all(&[c]).await { break Err(e.to_string()) },
                            None => break Ok(()),
                        },
                        n = read.read(&mut buf) => match n {
                            Ok(0) => break Err("ended".into()),
                            Ok(n) => got(n, &shared),
                            Err(e) => break Err(e.to_string()),
                        },
                    }
                }
            }
            Conn::Ws(ws) => {
                let (mut write, mut read) = ws.split();
                loop {
                    tokio::select! {
                        command = rx.recv() => match command {
                            Some(c) => if let Err(e) = write.send(Message::Binary(vec![c].into())).await { break Err(e.to_string()) },
                            None => break Ok(()),
                        },
                        message = read.next() => match message {
                            Some(Ok(Message::Binary(data))) => got(data.len(), &shared),
                            Some(Ok(Message::Close(frame))) => break Err(format!("closed: {frame:?}")),
                            Some(Ok(Message::Text(text))) => break Err(format!("text message: {text}")),
                            Some(Ok(_)) => {}
                            Some(Err(e)) => break Err(e.to_string()),
                            None => break Err("ended".into()),
                        },
                    }
                }
            }
        };
        if let Err(reason) = ended {
            shared.ended.fetch_add(1, Ordering::Relaxed);
            shared.first_end.lock().unwrap().get_or_insert(reason);
        }
    });
    Console { commands, armed }
}

async fn levels(
    target: &Target,
    args: &MeasureArgs,
    probe: &Probe,
    figures: &mut Figures,
) -> Res<()> {
    let (data_came, mut data_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        bytes: AtomicU64::new(0),
        ended: AtomicUsize::new(0),
        first_end: Default::default(),
        data_came,
    });
    let window = Duration::from_secs_f64(args.window_secs);
    let mut consoles: Vec<Console> = Vec::new();
    for &level in &args.levels {
        eprintln!("[{}] {level} consoles", args.name);
        let start = Instant::now();
        let from = consoles.len();
        let mut opening = futures::stream::iter(from..level)
            .map(|i| open(target, i))
            .buffer_unordered(OPENING_AT_ONCE);
        // A proxy that cannot open them all is measured with those it opened, then no further.
        let mut failed = None;
        while let Some(conn) = opening.next().await {
            match conn {
                Ok(conn) => consoles.push(start_console(conn, shared.clone())),
                Err(e) => {
                    failed = Some(format!(
                        "{} consoles opened, then opening one more failed: {e}",
                        consoles.len()
                    ));
                    break;
                }
            }
        }
        drop(opening);
        let open_secs = start.elapsed().as_secs_f64();
        if let Some(failed) = &failed {
            eprintln!("[{}]   {failed}", args.name);
        }
        if consoles.is_empty() {
            return Err(failed.unwrap_or_default());
        }

        // Idle: every console open (its banner came through), nothing moving.
        let idle = measure_window(probe, window, &shared).await;
        eprintln!(
            "[{}]   opened in {open_secs:.1} s; idle: server {:.1}% CPU, RSS {} KiB, PSS {} KiB, {} processes",
            args.name, idle.usage.server_cpu, idle.memory.rss_kib, idle.memory.pss_kib, idle.memory.processes
        );
        check_ended(&shared)?;

        // Active: every console gets a 4 KiB update every 100 ms, from the moment each has
        // received its first one.
        for console in &consoles {
            console.armed.store(true, Ordering::Relaxed);
            let _ = console.commands.send(CMD_TICK);
        }
        for _ in 0..consoles.len() {
            data_rx.recv().await;
        }
        let active = measure_window(probe, window, &shared).await;
        eprintln!(
            "[{}]   active: server {:.1}% CPU, RSS {} KiB, {:.1} MiB/s reached the client (expected {:.1})",
            args.name,
            active.usage.server_cpu,
            active.memory.rss_kib,
            active.mib_s,
            expected_mib_s(consoles.len())
        );
        for console in &consoles {
            let _ = console.commands.send(CMD_IDLE);
        }
        figures.levels.push(Level {
            consoles: consoles.len(),
            asked: level,
            open_secs,
            idle,
            active: Some(active),
        });
        check_ended(&shared)?;
        if let Some(failed) = failed {
            return Err(failed);
        }
    }
    Ok(())
}

fn expected_mib_s(consoles: usize) -> f64 {
    consoles as f64 * TICK_BYTES as f64 / TICK_EVERY.as_secs_f64() / (1 << 20) as f64
}

fn check_ended(shared: &Shared) -> Res<()> {
    match shared.ended.load(Ordering::Relaxed) {
        0 => Ok(()),
        n => Err(format!(
            "{n} consoles ended by themselves; the first: {}",
            shared.first_end.lock().unwrap().clone().unwrap_or_default()
        )),
    }
}

async fn measure_window(probe: &Probe, window: Duration, shared: &Shared) -> Window {
    let ended = shared.ended.load(Ordering::Relaxed);
    let bytes = shared.bytes.load(Ordering::Relaxed);
    let before = probe.snapshot();
    tokio::time::sleep(window).await; // the measuring window itself, not a wait for state
    let after = probe.snapshot();
    let secs = (after.at.unwrap() - before.at.unwrap()).as_secs_f64();
    Window {
        usage: probe.usage(&before, &after),
        memory: probe.memory(),
        mib_s: (shared.bytes.load(Ordering::Relaxed) - bytes) as f64 / secs / (1 << 20) as f64,
        lost: shared.ended.load(Ordering::Relaxed) - ended,
    }
}

// ---------------------------------------------------------------------------------------------
// The table

fn table(outputs: &[PathBuf]) -> Res<()> {
    let mut rows = Vec::new();
    for path in outputs {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let figures: Figures =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(figures);
    }
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    // "added" is counted from the harness's own round trip (both ends on its core).
    let direct = find("direct").and_then(|r| r.latency.as_ref());
    let websockify_mib = find("websockify")
        .and_then(|r| r.throughput.as_ref())
        .map(|t| t.mib_s);
    let opt = |v: Option<f64>, digits: usize| match v {
        Some(v) => format!("{v:.digits$}"),
        None => "—".into(),
    };
    let runs = rows
        .iter()
        .find_map(|r| r.throughput.as_ref())
        .map(|t| format!("{} runs of {} s", t.runs_mib_s.len(), t.secs))
        .unwrap_or_default();
    let round_trips = rows
        .iter()
        .find_map(|r| r.latency.as_ref())
        .map(|l| l.round_trips)
        .unwrap_or_default();

    print_lines(&[
        "",
        "Rows: direct = the client straight to the byte source over TCP, both on core 1 (the",
        "harness's ceiling); across = the same with the source on core 0 (crossing cores, no",
        "proxy); relay = the harness's own bare tokio-tungstenite relay (what a relay needs, at",
        "least); websockify 0.13 + numpy (one process per console); limen. Servers on core 0.",
        "",
        "ONE CONSOLE",
        &format!("throughput: the source streams 64 KiB writes; MiB/s reaching the client, median of {runs}"),
        "  (their min–max beside it); ×websockify = this row's median / websockify's.",
        &format!("round trip: of a 32-byte message, {round_trips} of them; added = this row's minus direct's."),
        "CPU, % of one core, over the median run: server = the process(es) on core 0; harness = the",
        "  client + the byte source on core 1; others = every other process on the machine (load",
        "  that is not the bench's: near 0 on a quiet machine).",
        "",
    ]);
    let one = [
        ("throughput, MiB/s", "median", 6),
        ("throughput, MiB/s", "min–max", 11),
        ("throughput, MiB/s", "×websockify", 11),
        ("CPU, % of a core", "server", 6),
        ("CPU, % of a core", "harness", 7),
        ("CPU, % of a core", "others", 6),
        ("round trip, µs", "p50", 9),
        ("round trip, µs", "p99", 9),
        ("added, µs", "p50", 8),
        ("added, µs", "p99", 8),
    ];
    print_header(&one);
    for r in &rows {
        let t = r.throughput.as_ref();
        let l = r.latency.as_ref();
        let added = |f: fn(&Latency) -> f64| match (l, direct) {
            (Some(l), Some(d)) if r.name != "direct" => Some(f(l) - f(d)),
            _ => None,
        };
        let spread = t
            .filter(|t| !t.runs_mib_s.is_empty())
            .map(|t| {
                let (lo, hi) = (t.runs_mib_s[0], t.runs_mib_s[t.runs_mib_s.len() - 1]);
                format!("{lo:.0}–{hi:.0}")
            })
            .unwrap_or("—".into());
        print_row(
            &r.name,
            &one,
            &[
                opt(t.map(|t| t.mib_s), 0),
                spread,
                opt(t.zip(websockify_mib).map(|(t, w)| t.mib_s / w), 2),
                match r.name.as_str() {
                    "direct" => "—".into(),
                    _ => opt(t.map(|t| t.usage.server_cpu), 0),
                },
                opt(t.map(|t| t.usage.harness_cpu), 0),
                opt(t.map(|t| t.usage.others_cpu), 0),
                opt(l.map(|l| l.p50_us), 1),
                opt(l.map(|l| l.p99_us), 1),
                opt(added(|l| l.p50_us), 1),
                opt(added(|l| l.p99_us), 1),
            ],
        );
    }
    let busy: Vec<String> = rows
        .iter()
        .filter_map(|r| r.throughput.as_ref().map(|t| (r, t)))
        .map(|(r, t)| {
            format!(
                "{} {:.0}/{:.0}",
                r.name, t.usage.core0_busy, t.usage.core1_busy
            )
        })
        .collect();
    println!("Core 0/1 busy % over the same windows (above server/harness: load from elsewhere):");
    println!("  {}", busy.join(", "));

    let window = rows
        .iter()
        .find(|r| r.window_secs > 0.0)
        .map(|r| format!(" for {} s", r.window_secs))
        .unwrap_or_default();
    print_lines(&[
        "",
        "OPEN CONSOLES (each a WebSocket whose RFB banner came through); 0 = the server before any console.",
        "opening s: time to open this level's new consoles (32 handshakes at once).",
        &format!("idle: nothing moves{window}; active: each console receives {TICK_BYTES} bytes every {} ms{window}", TICK_EVERY.as_millis()),
        &format!("  ({:.2} MiB/s per 100 consoles). server% = % of one core.", expected_mib_s(100)),
        "RSS MiB: the server's whole process tree. RSS/con, PSS/con: KiB per console, (idle RSS or",
        "  PSS − at 0) / consoles; PSS splits the pages websockify's forks share among them.",
        "received: MiB/s that reached the client, of what the source sent; lost: consoles that ended.",
        "others%: every other process's CPU, the larger of the two windows.",
        "",
    ]);
    let many = [
        ("", "consoles", 8),
        ("", "opening s", 9),
        ("idle", "server%", 7),
        ("idle", "RSS MiB", 8),
        ("idle", "RSS/con", 8),
        ("idle", "PSS/con", 8),
        ("active", "server%", 7),
        ("active", "received MiB/s", 14),
        ("active", "lost", 4),
        ("", "others%", 7),
    ];
    print_header(&many);
    for r in rows.iter().filter(|r| !r.direct) {
        let base = r.baseline.clone().unwrap_or_default();
        if r.baseline.is_none() && r.levels.is_empty() {
            println!("{:<11} (no consoles measured)", r.name);
            continue;
        }
        let mut cells = vec![String::from("—"); many.len()];
        cells[0] = "0".into();
        cells[3] = format!("{:.1}", base.rss_kib as f64 / 1024.0);
        print_row(&r.name, &many, &cells);
        for level in &r.levels {
            let per = |now: u64, before: u64| {
                format!(
                    "{:.0}",
                    now.saturating_sub(before) as f64 / level.consoles as f64
                )
            };
            let active = level.active.as_ref();
            let others = active
                .map(|a| a.usage.others_cpu)
                .unwrap_or(0.0)
                .max(level.idle.usage.others_cpu);
            print_row(
                &r.name,
                &many,
                &[
                    match level.consoles == level.asked {
                        true => level.consoles.to_string(),
                        false => format!("{}/{}", level.consoles, level.asked),
                    },
                    format!("{:.1}", level.open_secs),
                    format!("{:.1}", level.idle.usage.server_cpu),
                    format!("{:.1}", level.idle.memory.rss_kib as f64 / 1024.0),
                    per(level.idle.memory.rss_kib, base.rss_kib),
                    per(level.idle.memory.pss_kib, base.pss_kib),
                    opt(active.map(|a| a.usage.server_cpu), 1),
                    active
                        .map(|a| format!("{:.2} of {:.2}", a.mib_s, expected_mib_s(level.consoles)))
                        .unwrap_or("—".into()),
                    (level.idle.lost + active.map(|a| a.lost).unwrap_or(0)).to_string(),
                    format!("{others:.0}"),
                ],
            );
        }
    }
    for r in &rows {
        for e in &r.errors {
            println!("{}: ERROR {e}", r.name);
        }
    }

    // The targets of issue 10, for the row named limen.
    let Some(limen) = find("limen") else {
        return Ok(());
    };
    println!();
    println!("Targets (issue 10), Limen's row:");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    match (limen.throughput.as_ref(), websockify_mib) {
        (Some(t), Some(w)) => {
            let ratio = t.mib_s / w;
            println!(
                "  throughput ≥ 2.5× websockify: {ratio:.2}× — {}",
                verdict(ratio >= 2.5)
            );
        }
        _ => println!(
            "  throughput ≥ 2.5× websockify: not measured (needs the limen and websockify rows)"
        ),
    }
    match (limen.latency.as_ref(), direct) {
        (Some(l), Some(d)) => {
            let added = l.p50_us - d.p50_us;
            println!(
                "  added p50 ≤ 25 µs: {added:.1} µs — {}",
                verdict(added <= 25.0)
            );
        }
        _ => println!("  added p50 ≤ 25 µs: not measured (needs the limen and direct rows)"),
    }
    match (limen.baseline.as_ref(), limen.levels.last()) {
        (Some(base), Some(level)) => {
            let per = level.idle.memory.rss_kib.saturating_sub(base.rss_kib) as f64 * 1.024
                / level.consoles as f64;
            println!(
                "  ≤ 100 KB per idle console: {per:.0} KB (RSS at {} idle consoles) — {}",
                level.consoles,
                verdict(per <= 100.0)
            );
        }
        _ => println!("  ≤ 100 KB per idle console: not measured"),
    }
    let asked = limen.levels.iter().map(|l| l.asked).max().unwrap_or(0);
    let most = limen.levels.iter().map(|l| l.consoles).max().unwrap_or(0);
    let lost: usize = limen
        .levels
        .iter()
        .map(|l| l.idle.lost + l.active.as_ref().map(|a| a.lost).unwrap_or(0))
        .sum();
    if asked < 1000 && limen.errors.is_empty() {
        println!("  1,000 concurrent consoles: not measured (levels up to {asked}; {most} open, {lost} lost)");
    } else {
        println!(
            "  1,000 concurrent consoles: {most} open, {lost} lost — {}",
            verdict(most >= 1000 && lost == 0 && limen.errors.is_empty())
        );
    }
    Ok(())
}

fn print_lines(lines: &[&str]) {
    for line in lines {
        println!("{line}");
    }
}

/// A table's columns: (group, name, width). The row's name takes the first 11 characters.
type Columns = [(&'static str, &'static str, usize)];
const NAME_WIDTH: usize = 11;

/// Two header lines: each group's name over its columns (─ group ─), then the columns' names.
fn print_header(columns: &Columns) {
    let mut groups = " ".repeat(NAME_WIDTH);
    let mut names = " ".repeat(NAME_WIDTH);
    let mut i = 0;
    while i < columns.len() {
        let group = columns[i].0;
        let mut width = 0;
        while i < columns.len() && columns[i].0 == group {
            let (_, name, w) = columns[i];
            names += &format!(" {name:>w$}");
            width += 1 + w;
            i += 1;
        }
        let inner = width - 1;
        match group {
            "" => groups += &" ".repeat(width),
            _ => {
                let label = format!(" {group} ");
                let dashes = inner.saturating_sub(label.chars().count());
                let left = dashes / 2;
                groups += &format!(" {}{label}{}", "─".repeat(left), "─".repeat(dashes - left));
            }
        }
    }
    println!("{}", groups.trim_end());
    println!("{names}");
}

fn print_row(name: &str, columns: &Columns, cells: &[String]) {
    let mut line = format!("{name:<NAME_WIDTH$}");
    for ((_, _, w), cell) in columns.iter().zip(cells) {
        line += &format!(" {cell:>w$}");
    }
    println!("{line}");
}
