//! What every section of the VM page shares: a call that says it is running, shows its error
//! in words, and puts the VM as it now is into the store.

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::vms::get_vm;
use crate::error::AppError;
use crate::language::{error_sentence, use_locale, Locale};
use crate::store::VmStore;
use crate::types::VmId;

/// One section's call in flight and its last error.
#[derive(Clone, Copy)]
pub struct Call {
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
    /// The page's language, for the error sentences.
    pub locale: Locale,
}

impl Call {
    pub fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
            locale: use_locale(),
        }
    }

    /// Runs `call`; then the VM is read again into the store (the stream brings the same
    /// change, whichever comes first) and `then` hears the answer.
    pub fn run<T, F>(self, store: VmStore, id: VmId, call: F, then: impl FnOnce(T) + 'static)
    where
        T: 'static,
        F: Future<Output = Result<T, AppError>> + 'static,
    {
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            let answer = call.await;
            if answer.is_ok() {
                if let Ok(vm) = get_vm(id).await {
                    store.apply(vm);
                }
            }
            self.busy.set(false);
            match answer {
                Ok(value) => then(value),
                Err(failure) => self.error.set(Some(error_sentence(self.locale, &failure))),
            }
        });
    }

    /// Shows `failure` (a check that failed before any call) as the error line.
    pub fn fail(self, failure: &AppError) {
        self.error.set(Some(error_sentence(self.locale, failure)));
    }

    /// Whether a call runs. Read in the section's reactive closures, which may run once more
    /// while the section goes away (its VM deleted): a signal gone by then counts as busy.
    pub fn busy(self) -> bool {
        self.busy.try_get().unwrap_or(true)
    }

    /// The error line, if there is one.
    pub fn error_view(self) -> impl IntoView {
        move || {
            self.error
                .try_get()
                .flatten()
                .map(|message| view! { <p class="error" role="alert">{message}</p> })
        }
    }
}
