//! What the console page knows without a browser: which console, where its connection stands,
//! and every sentence the page says about it (tested here, not in a browser).

use serde::Deserialize;

use crate::error::{AppError, ErrorCode};
use crate::i18n::Locale;
use crate::language::error_sentence;
use crate::tr;
use crate::types::{Vm, VmStatus};

/// The most text "Paste text" types at once: typing is paced (a keyboard queue overflows
/// otherwise), and 4,096 characters already take about forty seconds.
pub const PASTE_LIMIT: usize = 4096;

/// Which of the page's two consoles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The graphical console (VNC through noVNC).
    Screen,
    /// The serial port (through xterm.js).
    Serial,
}

impl Which {
    /// The endpoint under `/api/v1/vms/{uuid}/`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Which::Screen => "console",
            Which::Serial => "serial",
        }
    }

    pub fn tab_label(self, locale: Locale) -> &'static str {
        match self {
            Which::Screen => tr!(locale, console.tab_screen),
            Which::Serial => tr!(locale, console.tab_serial),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Which::Screen => "screen",
            Which::Serial => "serial",
        }
    }
}

/// Where one console's connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not opened yet (the serial console until its tab is first shown).
    Idle,
    /// Loading the viewer, asking for a ticket, opening the WebSocket, or (screen) the VNC
    /// handshake. `accepted`: the server took the WebSocket (it may be starting the VM).
    Connecting {
        accepted: bool,
    },
    /// The screen finished the VNC handshake; the serial socket is open.
    Connected,
    Closed(Closed),
}

/// A connection that ended, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub kind: CloseKind,
    /// The sentence the status line shows.
    pub reason: String,
    /// The VM's generation when it closed: the console reconnects by itself only when a newer
    /// version of the VM says it runs (so a stale store never makes it loop).
    pub generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// The VM is not running (it stopped, or autostart is off): the page offers Start, and
    /// reconnects when the VM runs again.
    VmNotRunning,
    /// The session or token ended: log in again.
    SessionEnded,
    /// Limen is shutting down or restarting, or the connection to it broke: reconnect once
    /// its event stream is back (if the VM still runs).
    LimenAway,
    /// Anything else, in words.
    Failed,
}

/// The server's words for a refusal: a ticket request's error body, or the one text message
/// before a WebSocket closes. The code is kept as text: the console adds codes of its own
/// (`VM_START_FAILED`, `VNC_UNAVAILABLE`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refusal {
    pub error: String,
    #[serde(default)]
    pub code: String,
}

impl Refusal {
    /// The server's refusal as the page says it in `locale`: its own sentence in the default
    /// language (it often says more), else its code's sentence (`errors.json`). A code the
    /// dashboard does not know keeps the server's sentence.
    fn in_language(mut self, locale: Locale) -> Refusal {
        let code = serde_json::Value::String(self.code.clone());
        if let Ok(code) = serde_json::from_value::<ErrorCode>(code) {
            self.error = error_sentence(locale, &AppError::new(code, self.error));
        }
        self
    }

    /// A text message from the server: JSON `{"error", "code"}`, or (never expected) any other
    /// text, which is then the sentence itself.
    pub fn from_text(locale: Locale, text: &str) -> Option<Refusal> {
        match serde_json::from_str::<Refusal>(text) {
            Ok(refusal) if !refusal.error.trim().is_empty() => Some(refusal.in_language(locale)),
            _ if !text.trim().is_empty() && !text.trim_start().starts_with('{') => Some(Refusal {
                error: text.trim().to_string(),
                code: String::new(),
            }),
            _ => None,
        }
    }

    /// An HTTP error answer (the ticket request): its body if it is ours, else the status in
    /// words.
    pub fn from_response(locale: Locale, status: u16, body: &str) -> Refusal {
        serde_json::from_str::<Refusal>(body)
            .ok()
            .filter(|refusal| !refusal.error.trim().is_empty())
            .map(|refusal| refusal.in_language(locale))
            .unwrap_or_else(|| Refusal {
                error: match status {
                    401 => tr!(locale, console.log_in_to_open).into(),
                    404 => tr!(locale, console.no_such_vm).into(),
                    502..=504 => unreachable_words(locale).into(),
                    _ => tr!(locale, console.refused_with_status, status = status).to_string(),
                },
                code: match status {
                    401 => "UNAUTHORIZED".into(),
                    404 => "VM_NOT_FOUND".into(),
                    _ => String::new(),
                },
            })
    }

    /// The ticket request did not reach Limen (or its answer did not come back).
    pub fn unreachable(locale: Locale) -> Refusal {
        Refusal {
            error: unreachable_words(locale).into(),
            code: String::new(),
        }
    }

    /// Limen answered the ticket request with something that is not a ticket.
    pub fn unreadable(locale: Locale) -> Refusal {
        Refusal {
            error: tr!(locale, console.ticket_unreadable).into(),
            code: String::new(),
        }
    }

    pub fn kind(&self) -> CloseKind {
        match self.code.as_str() {
            "VM_NOT_RUNNING" => CloseKind::VmNotRunning,
            "UNAUTHORIZED" => CloseKind::SessionEnded,
            _ => CloseKind::Failed,
        }
    }
}

fn unreachable_words(locale: Locale) -> &'static str {
    tr!(locale, console.limen_unreachable)
}

/// The console viewer (`console.js` or its library) could not be loaded.
pub fn not_loaded(locale: Locale) -> String {
    tr!(locale, console.viewer_not_loaded).into()
}

/// What `console.js` reports as a `vnc-error` (the VNC session failed on the browser's side),
/// in words: `text` says which failure; `refused:` is followed by the VNC server's own reason,
/// if it gave one.
pub fn vnc_failure(locale: Locale, text: &str) -> String {
    if let Some(reason) = text.strip_prefix("refused:").map(str::trim) {
        return if reason.is_empty() {
            tr!(locale, console.vnc_refused).into()
        } else {
            tr!(locale, console.vnc_refused_because, reason = reason).to_string()
        };
    }
    match text {
        "session" => tr!(locale, console.vnc_session_failed).into(),
        "password" => tr!(locale, console.vnc_password_required).into(),
        // "handshake" (and nothing else is sent).
        _ => tr!(locale, console.vnc_handshake_failed).into(),
    }
}

/// What one connection attempt saw before it closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The server accepted the WebSocket.
    pub accepted: bool,
    /// The screen's VNC handshake finished.
    pub connected: bool,
    /// The server's text message.
    pub refusal: Option<Refusal>,
    /// The VNC session failed on the browser's side (noVNC), in words.
    pub vnc_error: Option<String>,
}

/// Why a WebSocket closed, in words: the server's own sentence when it sent one (the text
/// message, else the close reason), else what the close code means. Never "unknown reason".
/// The server's close reason is English: in another language the code's meaning is said.
pub fn close_words(locale: Locale, seen: &Seen, code: u16, reason: &str) -> (CloseKind, String) {
    if let Some(refusal) = &seen.refusal {
        return (refusal.kind(), refusal.error.clone());
    }
    if let Some(error) = &seen.vnc_error {
        return (CloseKind::Failed, error.clone());
    }
    let reason = if locale == Locale::default() {
        reason.trim()
    } else {
        ""
    };
    let given = |fallback: &str| {
        if reason.is_empty() {
            fallback.to_string()
        } else {
            reason.to_string()
        }
    };
    match code {
        1000 => (
            CloseKind::Failed,
            given(tr!(locale, console.closed_by_limen)),
        ),
        1001 => (
            CloseKind::LimenAway,
            given(tr!(locale, console.limen_going_away)),
        ),
        1008 => (
            CloseKind::SessionEnded,
            given(tr!(locale, console.session_ended)),
        ),
        1011 => (
            CloseKind::Failed,
            given(tr!(locale, console.failed_on_server)),
        ),
        // The browser's own code: the connection broke without a close frame, or the upgrade
        // was refused (a browser cannot read why).
        1006 if !seen.accepted => (
            CloseKind::Failed,
            tr!(locale, console.could_not_connect).into(),
        ),
        1006 => (
            CloseKind::LimenAway,
            tr!(locale, console.connection_lost).into(),
        ),
        code => (
            CloseKind::Failed,
            given(&tr!(locale, console.closed_with_code, code = code).to_string()),
        ),
    }
}

/// What the status line says for a console in `link`, given the VM's status in the store.
pub fn status_line(locale: Locale, link: &Link, vm: Option<VmStatus>) -> String {
    let not_running = matches!(vm, Some(VmStatus::Stopped | VmStatus::Crashed));
    let paused = vm == Some(VmStatus::Paused);
    match link {
        Link::Idle => tr!(locale, console.status_not_connected).into(),
        Link::Connecting { .. } if not_running => tr!(locale, console.status_starting_vm).into(),
        Link::Connecting { .. } if paused => tr!(locale, console.status_resuming_vm).into(),
        Link::Connecting { .. } => tr!(locale, console.status_connecting).into(),
        // The serial socket opens before the server has started the VM.
        Link::Connected if not_running => tr!(locale, console.status_starting_vm).into(),
        Link::Connected if paused => tr!(locale, console.status_connected_paused).into(),
        Link::Connected => tr!(locale, console.status_connected).into(),
        Link::Closed(closed) => closed.reason.clone(),
    }
}

/// Whether a closed console should reconnect by itself now: the VM runs, in a newer version
/// than when the console closed, and it closed because the VM was not running or failed (a VM
/// that could not start and was started since).
pub fn reconnects(link: &Link, vm: Option<&Vm>) -> bool {
    match (link, vm) {
        (Link::Closed(closed), Some(vm)) => {
            matches!(closed.kind, CloseKind::VmNotRunning | CloseKind::Failed)
                && vm.status == VmStatus::Running
                && vm.generation > closed.generation
        }
        _ => false,
    }
}

/// Why `text` cannot be typed, in words; `None` if it can.
pub fn paste_problem(locale: Locale, text: &str) -> Option<String> {
    let count = text.chars().count();
    if count == 0 {
        Some(tr!(locale, console.paste_nothing).into())
    } else if let Some(char) = text.chars().find(|c| !typeable(*c)) {
        let shown = if char.is_control() {
            format!("U+{:04X}", u32::from(char))
        } else {
            format!("\"{char}\"")
        };
        Some(tr!(locale, console.paste_untypeable, character = shown).to_string())
    } else if count > PASTE_LIMIT {
        Some(
            tr!(
                locale,
                console.paste_too_long,
                count = count,
                limit = PASTE_LIMIT
            )
            .to_string(),
        )
    } else {
        None
    }
}

/// What "Paste text" can type: what a US keyboard has a key for (QEMU turns keysyms into the
/// keys of its keymap, en-us unless the domain says otherwise, and drops the others).
fn typeable(char: char) -> bool {
    char.is_ascii_graphic() || matches!(char, ' ' | '\n' | '\r' | '\t')
}

/// How the screen is fitted into the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Scaled down (or up) to the space the page has.
    Fit,
    /// One screen pixel per page pixel; scroll to see the rest.
    Actual,
    /// Ask the guest to change its resolution to the space the page has.
    Remote,
}

impl Scaling {
    pub const ALL: [Scaling; 3] = [Scaling::Fit, Scaling::Actual, Scaling::Remote];

    /// The value `console.js` knows.
    pub fn as_str(self) -> &'static str {
        match self {
            Scaling::Fit => "fit",
            Scaling::Actual => "actual",
            Scaling::Remote => "remote",
        }
    }

    pub fn label(self, locale: Locale) -> &'static str {
        match self {
            Scaling::Fit => tr!(locale, console.scaling_fit),
            Scaling::Actual => tr!(locale, console.scaling_actual),
            Scaling::Remote => tr!(locale, console.scaling_remote),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen() -> Seen {
        Seen::default()
    }

    fn accepted() -> Seen {
        Seen {
            accepted: true,
            ..Seen::default()
        }
    }

    #[test]
    fn the_servers_sentence_wins_over_the_close_code() {
        let seen = Seen {
            accepted: true,
            refusal: Refusal::from_text(
                Locale::en,
                r#"{"error":"libvirt could not start the VM: a disk image or ISO file it uses is missing.","code":"VM_START_FAILED"}"#,
            ),
            ..Seen::default()
        };
        let (kind, words) = close_words(
            Locale::en,
            &seen,
            1011,
            "libvirt could not start the VM: a disk",
        );
        assert_eq!(kind, CloseKind::Failed);
        assert_eq!(
            words,
            "libvirt could not start the VM: a disk image or ISO file it uses is missing."
        );
    }

    #[test]
    fn a_vm_that_is_not_running_is_its_own_kind() {
        let seen = Seen {
            accepted: true,
            refusal: Refusal::from_text(
                Locale::en,
                r#"{"error":"The VM is not running.","code":"VM_NOT_RUNNING"}"#,
            ),
            ..Seen::default()
        };
        assert_eq!(
            close_words(Locale::en, &seen, 1000, ""),
            (CloseKind::VmNotRunning, "The VM is not running.".into())
        );
        let unauthorized = Refusal::from_response(
            Locale::en,
            401,
            r#"{"error":"Log in first.","code":"UNAUTHORIZED"}"#,
        );
        assert_eq!(unauthorized.kind(), CloseKind::SessionEnded);
        assert_eq!(unauthorized.error, "Log in first.");
    }

    #[test]
    fn every_close_code_is_said_in_words() {
        // The browser's 1006 before the socket opened: a refused upgrade, whose body it cannot
        // read.
        let (kind, words) = close_words(Locale::en, &seen(), 1006, "");
        assert_eq!(kind, CloseKind::Failed);
        assert!(words.starts_with("Could not connect"), "{words}");
        assert_eq!(
            close_words(Locale::en, &accepted(), 1006, ""),
            (
                CloseKind::LimenAway,
                "The connection to Limen was lost.".into()
            )
        );
        assert_eq!(
            close_words(Locale::en, &accepted(), 1001, "").0,
            CloseKind::LimenAway
        );
        assert_eq!(
            close_words(Locale::en, &accepted(), 1008, "").0,
            CloseKind::SessionEnded
        );
        assert_eq!(
            close_words(Locale::en, &accepted(), 1008, "The session ended.").1,
            "The session ended."
        );
        assert!(close_words(Locale::en, &accepted(), 1011, "")
            .1
            .contains("failed on the server"));
        assert_eq!(
            close_words(Locale::en, &accepted(), 4000, "").1,
            "The console connection closed (code 4000)."
        );
        for code in [1000, 1001, 1005, 1006, 1008, 1011, 1015, 4999] {
            for seen in [seen(), accepted()] {
                let words = close_words(Locale::en, &seen, code, "").1;
                assert!(!words.is_empty());
                assert!(!words.to_lowercase().contains("unknown"), "{code}: {words}");
            }
        }
    }

    #[test]
    fn a_vnc_failure_on_this_side_is_said_too() {
        let seen = Seen {
            accepted: true,
            vnc_error: Some("The VNC handshake with the VM failed.".into()),
            ..Seen::default()
        };
        assert_eq!(
            close_words(Locale::en, &seen, 1005, ""),
            (
                CloseKind::Failed,
                "The VNC handshake with the VM failed.".into()
            )
        );
    }

    #[test]
    fn refusals_are_read_from_json_or_said_from_the_status() {
        assert_eq!(Refusal::from_text(Locale::en, ""), None);
        assert_eq!(Refusal::from_text(Locale::en, "{not json"), None);
        assert_eq!(
            Refusal::from_text(Locale::en, "plain words").map(|r| r.error),
            Some("plain words".into())
        );
        let refusal = Refusal::from_response(
            Locale::en,
            409,
            r#"{"error":"The VM is not running and console autostart is off.","code":"VM_NOT_RUNNING"}"#,
        );
        assert_eq!(refusal.kind(), CloseKind::VmNotRunning);
        let bare = Refusal::from_response(Locale::en, 502, "<html>Bad gateway</html>");
        assert_eq!(
            bare.error,
            "Limen could not be reached to open the console."
        );
        let other = Refusal::from_response(Locale::en, 418, "");
        assert_eq!(
            other.error,
            "Limen refused to open the console (HTTP status 418)."
        );
        assert_eq!(
            Refusal::from_response(Locale::en, 404, "").kind(),
            CloseKind::Failed
        );
    }

    #[test]
    fn the_status_line_follows_the_link_and_the_vms_state() {
        let connecting = Link::Connecting { accepted: true };
        assert_eq!(
            status_line(Locale::en, &connecting, Some(VmStatus::Stopped)),
            "Starting the VM…"
        );
        assert_eq!(
            status_line(Locale::en, &connecting, Some(VmStatus::Paused)),
            "Resuming the VM…"
        );
        assert_eq!(
            status_line(Locale::en, &connecting, Some(VmStatus::Running)),
            "Connecting…"
        );
        assert_eq!(
            status_line(Locale::en, &Link::Connected, Some(VmStatus::Running)),
            "Connected."
        );
        assert_eq!(
            status_line(Locale::en, &Link::Connected, Some(VmStatus::Stopped)),
            "Starting the VM…"
        );
        let closed = Link::Closed(Closed {
            kind: CloseKind::VmNotRunning,
            reason: "The VM stopped.".into(),
            generation: 3,
        });
        assert_eq!(
            status_line(Locale::en, &closed, Some(VmStatus::Stopped)),
            "The VM stopped."
        );
        assert_eq!(status_line(Locale::en, &Link::Idle, None), "Not connected.");
    }

    fn vm(status: VmStatus, generation: u64) -> Vm {
        crate::types::test_vm(1, "a", status, generation)
    }

    #[test]
    fn a_closed_console_reconnects_only_when_a_newer_vm_runs() {
        let closed = |kind| {
            Link::Closed(Closed {
                kind,
                reason: String::new(),
                generation: 5,
            })
        };
        let stopped = closed(CloseKind::VmNotRunning);
        assert!(!reconnects(&stopped, Some(&vm(VmStatus::Stopped, 6))));
        // The same version that was there when it closed: the store had not caught up.
        assert!(!reconnects(&stopped, Some(&vm(VmStatus::Running, 5))));
        assert!(reconnects(&stopped, Some(&vm(VmStatus::Running, 6))));
        assert!(reconnects(
            &closed(CloseKind::Failed),
            Some(&vm(VmStatus::Running, 9))
        ));
        // A session that ended needs a login; a stopping server waits for the stream.
        assert!(!reconnects(
            &closed(CloseKind::SessionEnded),
            Some(&vm(VmStatus::Running, 9))
        ));
        assert!(!reconnects(
            &closed(CloseKind::LimenAway),
            Some(&vm(VmStatus::Running, 9))
        ));
        assert!(!reconnects(
            &Link::Connected,
            Some(&vm(VmStatus::Running, 9))
        ));
        assert!(!reconnects(&stopped, None));
    }

    #[test]
    fn paste_has_a_limit_said_in_words() {
        assert_eq!(paste_problem(Locale::en, "echo hi\n"), None);
        assert_eq!(paste_problem(Locale::en, &"~".repeat(PASTE_LIMIT)), None);
        assert_eq!(paste_problem(Locale::en, "a\tb\r\n"), None);
        // What QEMU's US keymap has no key for would be dropped while "typed": refused.
        let accent = paste_problem(Locale::en, "café").unwrap();
        assert!(accent.contains("\"é\""), "{accent}");
        assert!(paste_problem(Locale::en, "한글")
            .unwrap()
            .contains("\"한\""));
        assert!(paste_problem(Locale::en, "bell\u{7}").is_some());
        let too_long = paste_problem(Locale::en, &"x".repeat(PASTE_LIMIT + 1)).unwrap();
        assert!(too_long.contains("4097 characters"), "{too_long}");
        assert!(too_long.contains("at most 4096"), "{too_long}");
        assert!(paste_problem(Locale::en, "").is_some());
    }

    #[test]
    fn vnc_failures_are_said_in_words() {
        assert_eq!(
            vnc_failure(Locale::en, "handshake"),
            "The VNC handshake with the VM failed."
        );
        assert_eq!(
            vnc_failure(Locale::en, "session"),
            "The VNC session failed: the screen data could not be read."
        );
        assert_eq!(
            vnc_failure(Locale::en, "refused:"),
            "The VM's VNC server refused the connection."
        );
        assert_eq!(
            vnc_failure(Locale::en, "refused:Authentication failure"),
            "The VM's VNC server refused the connection: Authentication failure"
        );
        assert!(vnc_failure(Locale::en, "password").contains("asks for a password"));
        assert!(vnc_failure(Locale::ko, "password").contains("비밀번호"));
        assert!(vnc_failure(Locale::ko, "refused:Too many").ends_with("Too many"));
    }

    #[test]
    fn korean_words() {
        assert_eq!(Which::Screen.tab_label(Locale::ko), "화면");
        assert_eq!(Which::Serial.tab_label(Locale::ko), "시리얼 콘솔");
        assert_eq!(Which::Serial.tab_label(Locale::en), "Serial console");
        assert_eq!(Scaling::Fit.label(Locale::en), "Fit to the page");
        assert_eq!(
            status_line(Locale::ko, &Link::Connected, Some(VmStatus::Running)),
            "연결되었습니다."
        );
        assert_eq!(
            status_line(Locale::ko, &Link::Idle, None),
            "연결되지 않았습니다."
        );
        // The server's refusal is said by its code; its English sentence stays English.
        let text = r#"{"error":"The VM stopped.","code":"VM_NOT_RUNNING"}"#;
        let refusal = Refusal::from_text(Locale::ko, text).unwrap();
        assert_eq!(refusal.error, "가상 머신이 실행 중이 아닙니다.");
        assert_eq!(refusal.kind(), CloseKind::VmNotRunning);
        assert_eq!(
            Refusal::from_text(Locale::en, text).unwrap().error,
            "The VM stopped."
        );
        assert_eq!(
            Refusal::from_response(Locale::ko, 418, "").error,
            "Limen이 콘솔 열기를 거부했습니다(HTTP 상태 418)."
        );
        // A close reason from the server is English: in Korean the code is said.
        let (kind, words) = close_words(Locale::ko, &accepted(), 1008, "The session ended.");
        assert_eq!(kind, CloseKind::SessionEnded);
        assert!(words.contains("다시 로그인하세요"), "{words}");
        assert_eq!(
            close_words(Locale::ko, &accepted(), 4000, "").1,
            "콘솔 연결이 닫혔습니다(코드 4000)."
        );
        let accent = paste_problem(Locale::ko, "café").unwrap();
        assert!(accent.starts_with("\"é\" 문자는"), "{accent}");
        let too_long = paste_problem(Locale::ko, &"x".repeat(PASTE_LIMIT + 1)).unwrap();
        assert!(too_long.contains("4097자"), "{too_long}");
        assert!(too_long.contains("최대 4096자"), "{too_long}");
    }
}
