use leptos::prelude::*;

use crate::api::media::{list_images, list_isos};
use crate::api::vms::CreateVm;
use crate::store::VmStore;
use crate::types::CreateVmRequest;
use crate::validate::{
    validate_create, CPU_MAX, CPU_MIN, DISK_MAX_GIB, DISK_MIN_GIB, MEMORY_MAX_MIB, MEMORY_MIN_MIB,
    NAME_MAX_LEN,
};

/// Name, vCPUs, memory and disk; the server's answer (the new VM) goes straight into the store.
#[component]
pub fn CreateVmForm(store: VmStore) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let cpu = RwSignal::new("1".to_string());
    let memory = RwSignal::new("512".to_string());
    let disk = RwSignal::new("4".to_string());
    let iso = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let media = Resource::new(
        || (),
        |_| async { (list_isos().await, list_images().await) },
    );
    let error = RwSignal::new(None::<String>);
    let create = ServerAction::<CreateVm>::new();

    Effect::new(move |_| match create.value().get() {
        Some(Ok(vm)) => {
            error.set(None);
            name.set(String::new());
            store.upsert(vm);
        }
        Some(Err(failure)) => error.set(Some(failure.message)),
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parse = |field: &str, value: String| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{field} must be a whole number."))
        };
        let request = (|| {
            let cpu = parse("vCPUs", cpu.get())?;
            Ok::<_, String>(CreateVmRequest {
                name: name.get().trim().to_string(),
                cpu: u32::try_from(cpu).map_err(|_| "vCPUs is too large.".to_string())?,
                memory: parse("Memory", memory.get())?,
                disk_size: parse("Disk size", disk.get())?,
                os_type: None,
                iso: Some(iso.get()).filter(|name| !name.is_empty()),
                image: Some(image.get()).filter(|name| !name.is_empty()),
                boot_order: None,
                start: false,
            })
        })();
        let checked = request.and_then(|request| {
            validate_create(&request)
                .map(|_| request)
                .map_err(|e| e.message)
        });
        match checked {
            Ok(request) => {
                error.set(None);
                create.dispatch(CreateVm { request });
            }
            Err(message) => error.set(Some(message)),
        }
    };

    view! {
        <form class="create-form" aria-label="Create a virtual machine" on:submit=on_submit>
            <label>
                "Name"
                <input
                    type="text"
                    name="name"
                    required
                    maxlength=NAME_MAX_LEN
                    autocomplete="off"
                    bind:value=name
                />
            </label>
            <NumberField label="vCPUs" name="cpu" min=CPU_MIN.into() max=CPU_MAX.into() step=1 value=cpu/>
            <NumberField
                label="Memory (MiB)"
                name="memory"
                min=MEMORY_MIN_MIB
                max=MEMORY_MAX_MIB
                step=64
                value=memory
            />
            <NumberField
                label="Disk (GiB)"
                name="disk_size"
                min=DISK_MIN_GIB
                max=DISK_MAX_GIB
                step=1
                value=disk
            />
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let (isos, images) = media.await;
                    let names = |files: Result<Vec<crate::types::MediaFile>, _>| {
                        files.map(|files| files.into_iter().map(|f| f.name).collect::<Vec<_>>())
                            .unwrap_or_default()
                    };
                    view! {
                        <MediaSelect label="Install ISO" none="No ISO" names=names(isos) value=iso/>
                        <MediaSelect label="Base image" none="Blank disk" names=names(images) value=image/>
                    }
                })}
            </Suspense>
            <button type="submit" disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create VM" }}
            </button>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </form>
    }
}

/// A labelled whole-number input. The `value` attribute is what the server renders; the binding
/// takes over after hydration.
#[component]
fn NumberField(
    label: &'static str,
    name: &'static str,
    min: u64,
    max: u64,
    step: u64,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type="number"
                name=name
                min=min
                max=max
                step=step
                value=value.get_untracked()
                bind:value=value
            />
        </label>
    }
}

/// A choice from one of the libraries, or none.
#[component]
fn MediaSelect(
    label: &'static str,
    none: &'static str,
    names: Vec<String>,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <select on:change=move |ev| value.set(event_target_value(&ev)) prop:value=value>
                <option value="">{none}</option>
                {names
                    .into_iter()
                    .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}
