//! Both consoles' connections on the page: a ticket, a WebSocket through `console.js`, and what
//! it reports, turned into a `Link` the view shows.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use super::browser;
use super::words::{
    close_words, not_loaded, vnc_failure, CloseKind, Closed, Link, Refusal, Scaling, Seen, Which,
};
use crate::i18n::Locale;
use crate::store::VmStore;
use crate::types::VmId;

/// One console's state on the page.
#[derive(Clone, Copy)]
pub(super) struct Conn {
    pub(super) link: RwSignal<Link>,
    /// Raised by every connect: a ticket that comes back for an older attempt is dropped.
    pub(super) attempt: StoredValue<u32>,
    pub(super) seen: StoredValue<Seen>,
}

impl Conn {
    fn new(link: Link) -> Self {
        Self {
            link: RwSignal::new(link),
            attempt: StoredValue::new(0),
            seen: StoredValue::new(Seen::default()),
        }
    }
}

/// Both consoles of the page, and (in the browser) the viewers that `console.js` made.
#[derive(Clone, Copy)]
pub(super) struct Console {
    pub(super) id: VmId,
    pub(super) store: VmStore,
    /// The page's language: what the consoles say is said in it.
    pub(super) locale: Locale,
    pub(super) screen: Conn,
    pub(super) serial: Conn,
    /// Reports from `console.js`, handled by an effect of the page (see `browser::prepare`).
    pub(super) reports: RwSignal<Vec<Report>>,
    /// How the screen is fitted (the viewer gets it when it is made).
    pub(super) scaling: RwSignal<Scaling>,
    #[cfg(feature = "hydrate")]
    pub(super) viewers: StoredValue<browser::Viewers>,
}

/// One report from `console.js`: which console, its kind, a close code, a text.
pub(super) type Report = (Which, String, u16, String);

impl Console {
    pub(super) fn new(id: VmId, store: VmStore, locale: Locale) -> Self {
        Self {
            id,
            store,
            locale,
            // The screen connects as soon as the page is interactive.
            screen: Conn::new(Link::Connecting { accepted: false }),
            serial: Conn::new(Link::Idle),
            reports: RwSignal::new(Vec::new()),
            scaling: RwSignal::new(Scaling::Fit),
            #[cfg(feature = "hydrate")]
            viewers: StoredValue::new(browser::Viewers::default()),
        }
    }

    pub(super) fn conn(self, which: Which) -> Conn {
        match which {
            Which::Screen => self.screen,
            Which::Serial => self.serial,
        }
    }

    fn generation(self) -> u64 {
        self.store.get(self.id).map_or(0, |vm| vm.generation)
    }

    pub(super) fn close(self, which: Which, kind: CloseKind, reason: String) {
        let generation = self.generation();
        self.conn(which).link.try_set(Link::Closed(Closed {
            kind,
            reason,
            generation,
        }));
    }

    /// (Re)connects `which`: a new ticket, a new WebSocket.
    pub(super) fn connect(self, which: Which) {
        let conn = self.conn(which);
        let Some(attempt) = conn.attempt.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        conn.seen.set_value(Seen::default());
        conn.link.set(Link::Connecting { accepted: false });
        // The old socket goes silent now, and what it reported and is not handled yet is
        // dropped: nothing of it reaches this attempt.
        #[cfg(feature = "hydrate")]
        browser::disconnect(self, which);
        self.reports
            .update_untracked(|queue| queue.retain(|report| report.0 != which));
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let current = move || conn.attempt.try_get_value() == Some(attempt);
            match browser::prepare(self, which).await {
                Ok(()) => {}
                Err(problem) if current() => return self.close(which, CloseKind::Failed, problem),
                Err(_) => return,
            }
            let ticket = browser::ticket(self.locale, self.id).await;
            if !current() {
                return;
            }
            match ticket {
                Ok(ticket) => browser::open(self, which, &ticket),
                Err(refusal) => self.close(which, refusal.kind(), refusal.error),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = attempt;
    }

    /// A report from `console.js` about `which`'s connection (see the top of that file).
    pub(super) fn report(self, which: Which, kind: &str, code: u16, text: String) {
        let conn = self.conn(which);
        match kind {
            "open" => {
                conn.seen.try_update_value(|seen| seen.accepted = true);
                conn.link.try_set(match which {
                    Which::Screen => Link::Connecting { accepted: true },
                    // No handshake to wait for: bytes flow from now on.
                    Which::Serial => Link::Connected,
                });
            }
            "connected" => {
                conn.seen.try_update_value(|seen| seen.connected = true);
                conn.link.try_set(Link::Connected);
            }
            "failure" => {
                let refusal = Refusal::from_text(self.locale, &text);
                conn.seen.try_update_value(|seen| seen.refusal = refusal);
            }
            "vnc-error" => {
                let words = vnc_failure(self.locale, &text);
                conn.seen
                    .try_update_value(|seen| seen.vnc_error = Some(words));
            }
            "library" => self.close(which, CloseKind::Failed, not_loaded(self.locale)),
            "closed" => {
                let seen = conn.seen.try_get_value().unwrap_or_default();
                // Refused at the upgrade, after a ticket was given (the VM changed meanwhile,
                // the ticket expired, the limits filled): the browser saw 1006 and nothing
                // else. A ticket request runs the same checks and says why in words.
                #[cfg(feature = "hydrate")]
                if code == 1006 && !seen.accepted && seen.refusal.is_none() {
                    let attempt = conn.attempt.get_value();
                    leptos::task::spawn_local(async move {
                        let refusal = browser::ticket(self.locale, self.id).await.err();
                        if conn.attempt.try_get_value() != Some(attempt) {
                            return;
                        }
                        let (kind, reason) = match refusal {
                            Some(refusal) => (refusal.kind(), refusal.error),
                            None => close_words(self.locale, &seen, code, &text),
                        };
                        self.close(which, kind, reason);
                    });
                    return;
                }
                let (kind, reason) = close_words(self.locale, &seen, code, &text);
                self.close(which, kind, reason);
            }
            _ => {}
        }
    }
}
