//! Uploading an ISO into the library from the browser (admins): the file goes up as the
//! request body, with a progress bar fed by the browser's upload progress events. The upload
//! code is loaded with the first upload (split off the main WASM).

use leptos::prelude::*;

use crate::language::use_locale;
use crate::tr;

/// "Upload an ISO…": opens the browser's file picker and uploads the chosen ISO, with a
/// progress bar; `on_uploaded` hears its library name. Only the button and the bar are in the
/// page's code: the picker and the upload load with the first click.
#[component]
pub fn IsoUpload(#[prop(optional, into)] on_uploaded: Option<Callback<String>>) -> impl IntoView {
    let locale = use_locale();
    // Percent sent while an upload runs (whole: float formatting is big in WASM).
    let percent = RwSignal::new(None::<u32>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let start = move |_| {
        outcome.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let answer = upload::pick_and_send_lazily(locale, percent).await;
            percent.set(None);
            // The dialog that asked may have closed meanwhile.
            if let (Ok(Some(name)), Some(on_uploaded)) = (&answer, on_uploaded) {
                on_uploaded.try_run(name.clone());
            }
            match answer {
                Ok(Some(name)) => outcome.set(Some(Ok(name))),
                Ok(None) => {}
                Err(message) => outcome.set(Some(Err(message))),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = on_uploaded;
    };
    view! {
        <div class="iso-upload">
            <button type="button" class="secondary" disabled=move || percent.get().is_some() on:click=start>
                {tr!(locale, dashboard.upload_iso)}
            </button>
            {move || {
                percent.get().map(|done| {
                    view! {
                        <progress
                            max="100"
                            value=done
                            aria-label=tr!(locale, dashboard.upload_progress)
                        ></progress>
                        <span class="muted">
                            {tr!(locale, dashboard.upload_percent, percent = done).to_string()}
                        </span>
                    }
                })
            }}
            {move || {
                outcome.get().map(|outcome| match outcome {
                    Ok(name) => {
                        view! {
                            <p class="notice" role="status">
                                {tr!(locale, dashboard.uploaded, name).to_string()}
                            </p>
                        }
                            .into_any()
                    }
                    Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                })
            }}
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod upload {
    use std::cell::RefCell;
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{File, HtmlInputElement, ProgressEvent, XmlHttpRequest};

    use crate::error::AppError;
    use crate::i18n::Locale;
    use crate::language::error_sentence;
    use crate::tr;
    use crate::types::MediaFile;

    /// Opens the file picker; once a file is chosen, POSTs it as the body of
    /// `/api/v1/isos?name=…` (the session cookie goes with it). `Ok(None)`: nothing was chosen.
    #[leptos::lazy]
    pub async fn pick_and_send_lazily(
        locale: Locale,
        percent: RwSignal<Option<u32>>,
    ) -> Result<Option<String>, String> {
        let Some(file) = pick().await else {
            return Ok(None);
        };
        percent.set(Some(0));
        send(locale, file, percent)
            .await
            .map(|file| Some(file.name))
    }

    /// The file chosen in the browser's picker (an input made for it, never in the page).
    async fn pick() -> Option<File> {
        let input: HtmlInputElement = document().create_element("input").ok()?.dyn_into().ok()?;
        input.set_type("file");
        input.set_accept(".iso,application/x-iso9660-image");
        let (chosen, picked) = futures::channel::oneshot::channel::<()>();
        let chosen = Rc::new(RefCell::new(Some(chosen)));
        let on_change = Closure::<dyn FnMut()>::new(move || {
            if let Some(chosen) = chosen.borrow_mut().take() {
                let _ = chosen.send(());
            }
        });
        input.set_onchange(Some(on_change.as_ref().unchecked_ref()));
        // Cancelling the picker fires `cancel`, after which `change` never comes.
        let _ =
            input.add_event_listener_with_callback("cancel", on_change.as_ref().unchecked_ref());
        input.click();
        let _ = picked.await;
        drop(on_change);
        input.files()?.get(0)
    }

    async fn send(
        locale: Locale,
        file: File,
        percent: RwSignal<Option<u32>>,
    ) -> Result<MediaFile, String> {
        let failed =
            |_: wasm_bindgen::JsValue| tr!(locale, dashboard.upload_browser_failed).to_string();
        let xhr = XmlHttpRequest::new().map_err(failed)?;
        let name = String::from(web_sys::js_sys::encode_uri_component(&file.name()));
        xhr.open("POST", &format!("/api/v1/isos?name={name}"))
            .map_err(failed)?;
        xhr.set_request_header("content-type", "application/octet-stream")
            .map_err(failed)?;
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            if event.length_computable() && event.total() > 0.0 {
                percent.set(Some((event.loaded() / event.total() * 100.0) as u32));
            }
        });
        xhr.upload()
            .map_err(failed)?
            .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        let (done, finished) = futures::channel::oneshot::channel::<()>();
        let done = Rc::new(RefCell::new(Some(done)));
        let on_end = Closure::<dyn FnMut()>::new(move || {
            if let Some(done) = done.borrow_mut().take() {
                let _ = done.send(());
            }
        });
        xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
        xhr.send_with_opt_blob(Some(&file)).map_err(failed)?;
        let _ = finished.await;
        drop((on_progress, on_end));
        let body = xhr.response_text().ok().flatten().unwrap_or_default();
        match xhr.status().unwrap_or(0) {
            201 => serde_json::from_str(&body).map_err(|e| e.to_string()),
            0 => Err(tr!(locale, dashboard.upload_cut_off).to_string()),
            _ => Err(serde_json::from_str::<AppError>(&body)
                .map(|error| error_sentence(locale, &error))
                .unwrap_or_else(|_| tr!(locale, dashboard.upload_failed).to_string())),
        }
    }
}
