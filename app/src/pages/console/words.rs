//! What the console page knows without a browser: which console, where its connection stands,
//! and every sentence the page says about it (tested here, not in a browser).

use serde::Deserialize;

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

    pub fn tab_label(self) -> &'static str {
        match self {
            Which::Screen => "Screen",
            Which::Serial => "Serial console",
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
    /// A text message from the server: JSON `{"error", "code"}`, or (never expected) any other
    /// text, which is then the sentence itself.
    pub fn from_text(text: &str) -> Option<Refusal> {
        match serde_json::from_str::<Refusal>(text) {
            Ok(refusal) if !refusal.error.trim().is_empty() => Some(refusal),
            _ if !text.trim().is_empty() && !text.trim_start().starts_with('{') => Some(Refusal {
                error: text.trim().to_string(),
                code: String::new(),
            }),
            _ => None,
        }
    }

    /// An HTTP error answer (the ticket request): its body if it is ours, else the status in
    /// words.
    pub fn from_response(status: u16, body: &str) -> Refusal {
        serde_json::from_str::<Refusal>(body)
            .ok()
            .filter(|refusal| !refusal.error.trim().is_empty())
            .unwrap_or_else(|| Refusal {
                error: match status {
                    401 => "Log in again to open the console.".into(),
                    404 => "No such virtual machine.".into(),
                    502..=504 => "Limen could not be reached to open the console.".into(),
                    _ => format!("Limen refused to open the console (HTTP status {status})."),
                },
                code: match status {
                    401 => "UNAUTHORIZED".into(),
                    404 => "VM_NOT_FOUND".into(),
                    _ => String::new(),
                },
            })
    }

    pub fn kind(&self) -> CloseKind {
        match self.code.as_str() {
            "VM_NOT_RUNNING" => CloseKind::VmNotRunning,
            "UNAUTHORIZED" => CloseKind::SessionEnded,
            _ => CloseKind::Failed,
        }
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
pub fn close_words(seen: &Seen, code: u16, reason: &str) -> (CloseKind, String) {
    if let Some(refusal) = &seen.refusal {
        return (refusal.kind(), refusal.error.clone());
    }
    if let Some(error) = &seen.vnc_error {
        return (CloseKind::Failed, error.clone());
    }
    let reason = reason.trim();
    let given = |fallback: &str| {
        if reason.is_empty() {
            fallback.to_string()
        } else {
            reason.to_string()
        }
    };
    match code {
        1000 => (CloseKind::Failed, given("Limen closed the console.")),
        1001 => (
            CloseKind::LimenAway,
            given("Limen is shutting down or restarting; the console reconnects when it is back."),
        ),
        1008 => (
            CloseKind::SessionEnded,
            given(
                "Your session ended (logged out, token revoked or account disabled): log in again.",
            ),
        ),
        1011 => (
            CloseKind::Failed,
            given("The console failed on the server (its log says why)."),
        ),
        // The browser's own code: the connection broke without a close frame, or the upgrade
        // was refused (a browser cannot read why).
        1006 if !seen.accepted => (
            CloseKind::Failed,
            "Could not connect to the console: Limen refused or did not answer the connection."
                .into(),
        ),
        1006 => (
            CloseKind::LimenAway,
            "The connection to Limen was lost.".into(),
        ),
        code => (
            CloseKind::Failed,
            given(&format!("The console connection closed (code {code}).")),
        ),
    }
}

/// What the status line says for a console in `link`, given the VM's status in the store.
pub fn status_line(link: &Link, vm: Option<VmStatus>) -> String {
    let not_running = matches!(vm, Some(VmStatus::Stopped | VmStatus::Crashed));
    match link {
        Link::Idle => "Not connected.".into(),
        Link::Connecting { .. } if not_running => "Starting the VM…".into(),
        Link::Connecting { .. } if vm == Some(VmStatus::Paused) => "Resuming the VM…".into(),
        Link::Connecting { .. } => "Connecting…".into(),
        // The serial socket opens before the server has started the VM.
        Link::Connected if not_running => "Starting the VM…".into(),
        Link::Connected if vm == Some(VmStatus::Paused) => "Connected; the VM is paused.".into(),
        Link::Connected => "Connected.".into(),
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
pub fn paste_problem(text: &str) -> Option<String> {
    let count = text.chars().count();
    if count == 0 {
        Some("There is no text to type.".into())
    } else if let Some(char) = text.chars().find(|c| !typeable(*c)) {
        let shown = if char.is_control() {
            format!("U+{:04X}", u32::from(char))
        } else {
            format!("\"{char}\"")
        };
        Some(format!(
            "{shown} cannot be typed: only what a US keyboard types (letters, digits, \
             punctuation, spaces, tabs and new lines)."
        ))
    } else if count > PASTE_LIMIT {
        Some(format!(
            "That is {count} characters; at most {PASTE_LIMIT} can be typed at once. Paste a \
             shorter text."
        ))
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

    pub fn label(self) -> &'static str {
        match self {
            Scaling::Fit => "Fit to the page",
            Scaling::Actual => "Actual size (1:1)",
            Scaling::Remote => "Resize the guest's screen",
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
                r#"{"error":"libvirt could not start the VM: a disk image or ISO file it uses is missing.","code":"VM_START_FAILED"}"#,
            ),
            ..Seen::default()
        };
        let (kind, words) = close_words(&seen, 1011, "libvirt could not start the VM: a disk");
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
                r#"{"error":"The VM is not running.","code":"VM_NOT_RUNNING"}"#,
            ),
            ..Seen::default()
        };
        assert_eq!(
            close_words(&seen, 1000, ""),
            (CloseKind::VmNotRunning, "The VM is not running.".into())
        );
        let unauthorized =
            Refusal::from_response(401, r#"{"error":"Log in first.","code":"UNAUTHORIZED"}"#);
        assert_eq!(unauthorized.kind(), CloseKind::SessionEnded);
        assert_eq!(unauthorized.error, "Log in first.");
    }

    #[test]
    fn every_close_code_is_said_in_words() {
        // The browser's 1006 before the socket opened: a refused upgrade, whose body it cannot
        // read.
        let (kind, words) = close_words(&seen(), 1006, "");
        assert_eq!(kind, CloseKind::Failed);
        assert!(words.starts_with("Could not connect"), "{words}");
        assert_eq!(
            close_words(&accepted(), 1006, ""),
            (
                CloseKind::LimenAway,
                "The connection to Limen was lost.".into()
            )
        );
        assert_eq!(close_words(&accepted(), 1001, "").0, CloseKind::LimenAway);
        assert_eq!(
            close_words(&accepted(), 1008, "").0,
            CloseKind::SessionEnded
        );
        assert_eq!(
            close_words(&accepted(), 1008, "The session ended.").1,
            "The session ended."
        );
        assert!(close_words(&accepted(), 1011, "")
            .1
            .contains("failed on the server"));
        assert_eq!(
            close_words(&accepted(), 4000, "").1,
            "The console connection closed (code 4000)."
        );
        for code in [1000, 1001, 1005, 1006, 1008, 1011, 1015, 4999] {
            for seen in [seen(), accepted()] {
                let words = close_words(&seen, code, "").1;
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
            close_words(&seen, 1005, ""),
            (
                CloseKind::Failed,
                "The VNC handshake with the VM failed.".into()
            )
        );
    }

    #[test]
    fn refusals_are_read_from_json_or_said_from_the_status() {
        assert_eq!(Refusal::from_text(""), None);
        assert_eq!(Refusal::from_text("{not json"), None);
        assert_eq!(
            Refusal::from_text("plain words").map(|r| r.error),
            Some("plain words".into())
        );
        let refusal = Refusal::from_response(
            409,
            r#"{"error":"The VM is not running and console autostart is off.","code":"VM_NOT_RUNNING"}"#,
        );
        assert_eq!(refusal.kind(), CloseKind::VmNotRunning);
        let bare = Refusal::from_response(502, "<html>Bad gateway</html>");
        assert_eq!(
            bare.error,
            "Limen could not be reached to open the console."
        );
        let other = Refusal::from_response(418, "");
        assert_eq!(
            other.error,
            "Limen refused to open the console (HTTP status 418)."
        );
        assert_eq!(Refusal::from_response(404, "").kind(), CloseKind::Failed);
    }

    #[test]
    fn the_status_line_follows_the_link_and_the_vms_state() {
        let connecting = Link::Connecting { accepted: true };
        assert_eq!(
            status_line(&connecting, Some(VmStatus::Stopped)),
            "Starting the VM…"
        );
        assert_eq!(
            status_line(&connecting, Some(VmStatus::Paused)),
            "Resuming the VM…"
        );
        assert_eq!(
            status_line(&connecting, Some(VmStatus::Running)),
            "Connecting…"
        );
        assert_eq!(
            status_line(&Link::Connected, Some(VmStatus::Running)),
            "Connected."
        );
        assert_eq!(
            status_line(&Link::Connected, Some(VmStatus::Stopped)),
            "Starting the VM…"
        );
        let closed = Link::Closed(Closed {
            kind: CloseKind::VmNotRunning,
            reason: "The VM stopped.".into(),
            generation: 3,
        });
        assert_eq!(
            status_line(&closed, Some(VmStatus::Stopped)),
            "The VM stopped."
        );
        assert_eq!(status_line(&Link::Idle, None), "Not connected.");
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
        assert_eq!(paste_problem("echo hi\n"), None);
        assert_eq!(paste_problem(&"~".repeat(PASTE_LIMIT)), None);
        assert_eq!(paste_problem("a\tb\r\n"), None);
        // What QEMU's US keymap has no key for would be dropped while "typed": refused.
        let accent = paste_problem("café").unwrap();
        assert!(accent.contains("\"é\""), "{accent}");
        assert!(paste_problem("한글").unwrap().contains("\"한\""));
        assert!(paste_problem("bell\u{7}").is_some());
        let too_long = paste_problem(&"x".repeat(PASTE_LIMIT + 1)).unwrap();
        assert!(too_long.contains("4097 characters"), "{too_long}");
        assert!(too_long.contains("at most 4096"), "{too_long}");
        assert!(paste_problem("").is_some());
    }
}
