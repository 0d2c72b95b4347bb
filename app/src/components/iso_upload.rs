//! Uploading an ISO into the library from the browser (admins): the file goes up as the
//! request body, with a progress bar fed by the browser's upload progress events. The upload
//! code is loaded with the first upload (split off the main WASM).

use leptos::prelude::*;

/// "Upload an ISO…": opens the browser's file picker and uploads the chosen ISO, with a
/// progress bar; `on_uploaded` hears its library name. Only the button and the bar are in the
/// page's code: the picker and the upload load with the first click.
#[component]
pub fn IsoUpload(#[prop(optional, into)] on_uploaded: Option<Callback<String>>) -> impl IntoView {
    // Percent sent while an upload runs (whole: float formatting is big in WASM).
    let percent = RwSignal::new(None::<u32>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let start = move |_| {
        outcome.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let answer = upload::pick_and_send_lazily(percent).await;
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
                "Upload an ISO…"
            </button>
            {move || {
                percent.get().map(|done| {
                    view! {
                        <progress max="100" value=done aria-label="Upload progress"></progress>
                        <span class="muted">{format!("{done} %")}</span>
                    }
                })
            }}
            {move || {
                outcome.get().map(|outcome| match outcome {
                    Ok(name) => view! { <p class="notice" role="status">{format!("Uploaded {name}.")}</p> }.into_any(),
                    Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                })
            }}
        </div>
    }
}

/// A size as people read it: "3.2 GiB", "640 MiB", "12 KiB". Integer arithmetic only (float
/// formatting would add kilobytes to the dashboard's WASM).
pub fn size_words(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} bytes");
    }
    let scale = 1u128 << (10 * unit);
    // Tenths, rounded.
    let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
    if tenths < 100 {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
    } else {
        format!("{} {}", (tenths + 5) / 10, UNITS[unit])
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
    use crate::types::MediaFile;

    fn failed(_: wasm_bindgen::JsValue) -> String {
        "The browser could not send the file.".into()
    }

    /// Opens the file picker; once a file is chosen, POSTs it as the body of
    /// `/api/v1/isos?name=…` (the session cookie goes with it). `Ok(None)`: nothing was chosen.
    #[leptos::lazy]
    pub async fn pick_and_send_lazily(
        percent: RwSignal<Option<u32>>,
    ) -> Result<Option<String>, String> {
        let Some(file) = pick().await else {
            return Ok(None);
        };
        percent.set(Some(0));
        send(file, percent).await.map(|file| Some(file.name))
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

    async fn send(file: File, percent: RwSignal<Option<u32>>) -> Result<MediaFile, String> {
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
            0 => Err("The upload was cut off (the connection to Limen was lost).".into()),
            _ => Err(serde_json::from_str::<AppError>(&body)
                .map(|error| error.message)
                .unwrap_or_else(|_| "The upload failed.".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_words;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_words(512), "512 bytes");
        assert_eq!(size_words(3 << 20), "3.0 MiB");
        assert_eq!(size_words(640 << 20), "640 MiB");
        assert_eq!(size_words(5 << 30), "5.0 GiB");
    }
}
