use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::accounts::quota;
use crate::api::hosts::list_hosts;
use crate::api::media::{list_images, list_isos};
use crate::api::vms::create_vm;
use crate::auth::{QuotaReport, Role};
use crate::components::boot_order_select::BootOrderSelect;
use crate::components::iso_upload::IsoUpload;
use crate::hosts::Host;
use crate::i18n::Locale;
use crate::language::{error_sentence, use_locale};
use crate::live::use_live;
use crate::store::VmStore;
use crate::tr;
use crate::types::{BootOrder, CreateVmRequest, Vm};
use crate::use_session;
use crate::validate::{
    validate_create, CPU_MAX, CPU_MIN, DISK_MAX_GIB, DISK_MIN_GIB, MEMORY_MAX_MIB, MEMORY_MIN_MIB,
    NAME_MAX_LEN,
};

/// Tells the create form that the caller's usage changed (a VM was created or deleted), so it
/// loads the quota report again. Provided by the dashboard; a VM card bumps it after a delete.
#[derive(Clone, Copy)]
pub struct QuotaRefresh(RwSignal<u64>);

impl QuotaRefresh {
    pub fn provide() -> Self {
        let refresh = Self(RwSignal::new(0));
        provide_context(refresh);
        refresh
    }

    pub fn bump(&self) {
        self.0.update(|n| *n += 1);
    }
}

/// "Quota: 1 of 2 VMs, 2 of 4 vCPUs, 1024 of 4096 MiB, 10 of 50 GiB" ("… (no limit)" where none).
pub fn quota_line(locale: Locale, report: &QuotaReport) -> String {
    let (limits, used) = (&report.limits, &report.used);
    let vms = match limits.max_vms {
        Some(limit) => tr!(locale, dashboard.quota_vms, used = used.vms, limit).to_string(),
        None => tr!(locale, dashboard.quota_vms_unlimited, used = used.vms).to_string(),
    };
    let vcpus = match limits.max_vcpus {
        Some(limit) => tr!(locale, dashboard.quota_vcpus, used = used.vcpus, limit).to_string(),
        None => tr!(locale, dashboard.quota_vcpus_unlimited, used = used.vcpus).to_string(),
    };
    let memory = match limits.max_memory_mib {
        Some(limit) => tr!(
            locale,
            dashboard.quota_memory,
            used = used.memory_mib,
            limit
        )
        .to_string(),
        None => tr!(
            locale,
            dashboard.quota_memory_unlimited,
            used = used.memory_mib
        )
        .to_string(),
    };
    let disk = match limits.max_disk_gb {
        Some(limit) => tr!(locale, dashboard.quota_disk, used = used.disk_gb, limit).to_string(),
        None => tr!(locale, dashboard.quota_disk_unlimited, used = used.disk_gb).to_string(),
    };
    tr!(locale, dashboard.quota_line, vms, vcpus, memory, disk).to_string()
}

/// What the form's fields say, as typed.
struct CreateFormValues {
    name: String,
    cpu: String,
    memory: String,
    disk: String,
    iso: String,
    image: String,
    boot_order: String,
    /// A host's key; empty: Limen places it.
    host: String,
}

impl CreateFormValues {
    /// The request, checked as the server will check it; `Err` says what is wrong.
    fn request(
        self,
        locale: Locale,
        quota: Option<&QuotaReport>,
    ) -> Result<CreateVmRequest, String> {
        let parse = |field: &str, value: &str| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| tr!(locale, dashboard.not_whole_number, field).to_string())
        };
        let cpu = parse(tr!(locale, dashboard.vcpus), &self.cpu)?;
        let request = CreateVmRequest {
            name: self.name.trim().to_string(),
            cpu: u32::try_from(cpu)
                .map_err(|_| tr!(locale, dashboard.vcpus_too_large).to_string())?,
            memory: parse(tr!(locale, dashboard.memory), &self.memory)?,
            disk_size: parse(tr!(locale, dashboard.disk_size), &self.disk)?,
            os_type: None,
            iso: Some(self.iso).filter(|name| !name.is_empty()),
            image: Some(self.image).filter(|name| !name.is_empty()),
            boot_order: self.boot_order.parse().ok(),
            start: false,
            host: Some(self.host).filter(|key| !key.is_empty()),
        };
        validate_create(&request).map_err(|e| error_sentence(locale, &e))?;
        // The server enforces the quota; this only says it early. Unknown quota: let it decide.
        match quota
            .and_then(|report| report.refusal(request.cpu, request.memory, request.disk_size))
        {
            Some(sentence) => Err(error_sentence(
                locale,
                &crate::error::AppError::new(crate::error::ErrorCode::QuotaExceeded, sentence),
            )),
            None => Ok(request),
        }
    }
}

/// Checks and sends the form: loaded with the first create (split off the main WASM, like the
/// rules it checks).
#[leptos::lazy]
async fn create_from_form(
    locale: Locale,
    form: CreateFormValues,
    quota: Option<QuotaReport>,
) -> Result<Vm, String> {
    let request = form.request(locale, quota.as_ref())?;
    create_vm(request)
        .await
        .map_err(|failure| error_sentence(locale, &failure))
}

/// Name, vCPUs, memory, disk, install ISO or base image, boot order, and the host where there
/// are several; the server's answer (the new VM) goes straight into the store.
/// The caller's quota is shown, and a VM it would not allow is explained before it is sent.
#[component]
pub fn CreateVmForm(store: VmStore) -> impl IntoView {
    let locale = use_locale();
    let name = RwSignal::new(String::new());
    let cpu = RwSignal::new("1".to_string());
    let memory = RwSignal::new("512".to_string());
    let disk = RwSignal::new("4".to_string());
    let iso = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let boot_order = RwSignal::new(BootOrder::CdromHd.as_str().to_string());
    let host = RwSignal::new(String::new());
    // Loaded again when a library changes (an upload here or anywhere), or the hosts do.
    let live = use_live();
    let media = Resource::new(
        move || live.library.get(),
        |_| async { (list_isos().await, list_images().await) },
    );
    let hosts = Resource::new(move || live.hosts.get(), |_| list_hosts());
    let me = use_session().me;
    let error = RwSignal::new(None::<String>);
    let creating = RwSignal::new(false);
    let refresh = use_context::<QuotaRefresh>().unwrap_or_else(QuotaRefresh::provide);
    let quota_report = Resource::new(move || refresh.0.get(), |_| quota());

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = CreateFormValues {
            name: name.get_untracked(),
            cpu: cpu.get_untracked(),
            memory: memory.get_untracked(),
            disk: disk.get_untracked(),
            iso: iso.get_untracked(),
            image: image.get_untracked(),
            boot_order: boot_order.get_untracked(),
            host: host.get_untracked(),
        };
        let report = quota_report.get_untracked().and_then(Result::ok);
        creating.set(true);
        spawn_local(async move {
            let answer = create_from_form(locale, form, report).await;
            creating.set(false);
            match answer {
                Ok(vm) => {
                    error.set(None);
                    name.set(String::new());
                    store.apply(vm);
                    refresh.bump();
                }
                Err(message) => error.set(Some(message)),
            }
        });
    };

    view! {
        <form
            class="create-form"
            aria-label=tr!(locale, dashboard.create_form_label)
            on:submit=on_submit
        >
            // The line and the selects below keep their place while their data loads (a
            // client-side visit; the server renders them filled in): nothing moves when it comes.
            <p class="quota" role="status" aria-label=tr!(locale, dashboard.quota_label)>
                <Transition fallback=move || tr!(locale, dashboard.quota_loading)>
                    {move || Suspend::new(async move {
                        quota_report
                            .await
                            .map(|report| quota_line(locale, &report))
                            .unwrap_or_default()
                    })}
                </Transition>
            </p>
            <label>
                {tr!(locale, dashboard.name)}
                <input
                    type="text"
                    name="name"
                    required
                    maxlength=NAME_MAX_LEN
                    autocomplete="off"
                    bind:value=name
                />
            </label>
            <NumberField
                label=tr!(locale, dashboard.vcpus)
                name="cpu"
                min=CPU_MIN.into()
                max=CPU_MAX.into()
                step=1
                value=cpu
            />
            <NumberField
                label=tr!(locale, dashboard.memory_mib)
                name="memory"
                min=MEMORY_MIN_MIB
                max=MEMORY_MAX_MIB
                step=64
                value=memory
            />
            <NumberField
                label=tr!(locale, dashboard.disk_gib)
                name="disk_size"
                min=DISK_MIN_GIB
                max=DISK_MAX_GIB
                step=1
                value=disk
            />
            <Suspense fallback=move || {
                view! {
                    <MediaSelect
                        label=tr!(locale, dashboard.install_iso)
                        none=tr!(locale, dashboard.no_iso)
                        names=Vec::new()
                        value=iso
                    />
                    <MediaSelect
                        label=tr!(locale, dashboard.base_image)
                        none=tr!(locale, dashboard.blank_disk)
                        names=Vec::new()
                        value=image
                    />
                }
            }>
                {move || Suspend::new(async move {
                    let (isos, images) = media.await;
                    let names = |files: Result<Vec<crate::types::MediaFile>, _>| {
                        files.map(|files| files.into_iter().map(|f| f.name).collect::<Vec<_>>())
                            .unwrap_or_default()
                    };
                    view! {
                        <MediaSelect
                            label=tr!(locale, dashboard.install_iso)
                            none=tr!(locale, dashboard.no_iso)
                            names=names(isos)
                            value=iso
                        />
                        <MediaSelect
                            label=tr!(locale, dashboard.base_image)
                            none=tr!(locale, dashboard.blank_disk)
                            names=names(images)
                            value=image
                        />
                    }
                })}
            </Suspense>
            <BootOrderSelect label=tr!(locale, dashboard.boot_order) value=boot_order/>
            // A choice only where there is one: a single host looks as it always did.
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let hosts = hosts.await.unwrap_or_default();
                    (hosts.len() > 1).then(|| view! { <HostSelect hosts value=host/> })
                })}
            </Transition>
            // Admins may bring an ISO right here; it is chosen once it is in the library.
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(user)) if user.role == Role::Admin);
                    admin.then(|| view! { <IsoUpload on_uploaded=move |name| iso.set(name)/> })
                })}
            </Transition>
            <button type="submit" disabled=move || creating.get()>
                {move || {
                    if creating.get() {
                        tr!(locale, dashboard.creating)
                    } else {
                        tr!(locale, dashboard.create_button)
                    }
                }}
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

/// Where the VM goes: Limen's choice (the enabled host with the most free memory), or one of
/// the enabled hosts.
#[component]
fn HostSelect(hosts: Vec<Host>, value: RwSignal<String>) -> impl IntoView {
    let locale = use_locale();
    view! {
        <label>
            {tr!(locale, dashboard.host)}
            <select name="host" on:change=move |ev| value.set(event_target_value(&ev)) prop:value=value>
                <option value="">{tr!(locale, dashboard.host_automatic)}</option>
                {hosts
                    .into_iter()
                    .filter(|host| host.enabled)
                    .map(|host| view! { <option value=host.key>{host.name}</option> })
                    .collect_view()}
            </select>
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

#[cfg(test)]
mod tests {
    use super::quota_line;
    use crate::auth::{Quota, QuotaReport, Usage};
    use crate::i18n::Locale;

    #[test]
    fn quota_line_says_used_of_limit() {
        let report = QuotaReport {
            limits: Quota {
                max_vms: Some(2),
                max_vcpus: Some(4),
                max_memory_mib: None,
                max_disk_gb: Some(50),
            },
            used: Usage {
                vms: 1,
                vcpus: 2,
                memory_mib: 1024,
                disk_gb: 10,
            },
        };
        assert_eq!(
            quota_line(Locale::en, &report),
            "Quota: 1 of 2 VMs, 2 of 4 vCPUs, 1024 MiB (no limit), 10 of 50 GiB"
        );
        assert_eq!(
            quota_line(Locale::ko, &report),
            "할당량: 가상 머신 2개 중 1개, vCPU 4개 중 2개, 메모리 1024 MiB(제한 없음), \
             디스크 50 GiB 중 10 GiB"
        );
    }
}
