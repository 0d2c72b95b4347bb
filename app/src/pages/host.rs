//! The host page (admins): is the host full? Its capacity (vCPUs and memory given to VMs
//! against what it has, the data dir's free space, with a warning when it runs low) and its
//! CPU, memory and disk graphs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};

use crate::api::stats::read_host_capacity;
use crate::components::graphs::LazyGraphs;
use crate::stats::HostCapacity;

/// The route: this page's code is split off the main WASM and loaded when the page is visited.
pub struct HostRoute;

#[lazy_route]
impl LazyRoute for HostRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <HostPage/> }.into_any()
    }
}

#[component]
pub fn HostPage() -> impl IntoView {
    let capacity = Resource::new(|| (), |_| read_host_capacity());
    view! {
        <section class="host">
            <Title text="Host · Limen"/>
            <h1>"Host"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match capacity.await {
                        Ok(capacity) => view! { <Capacity capacity/> }.into_any(),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error.message}</p> }.into_any()
                        }
                    }
                })}
            </Suspense>
            <h2>"Usage"</h2>
            <LazyGraphs kind="host" base="/api/v1/host/stats".to_string()/>
        </section>
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}

#[component]
fn Capacity(capacity: HostCapacity) -> impl IntoView {
    let used_disk = capacity
        .disk_total_bytes
        .saturating_sub(capacity.disk_free_bytes);
    view! {
        <section aria-labelledby="capacity-heading">
            <h2 id="capacity-heading">"Capacity"</h2>
            {capacity.disk_low.then(|| view! {
                <p class="warning" role="alert">
                    {format!(
                        "The data dir has {} free: new disks, snapshots and uploads may fail. Free some space or grow its filesystem.",
                        gib(capacity.disk_free_bytes),
                    )}
                </p>
            })}
            <dl class="capacity" aria-label="Capacity">
                <dt>"vCPUs allocated"</dt>
                <dd data-field="vcpus">
                    {format!(
                        "{} of {} CPUs ({} running) · overcommit {}",
                        capacity.vcpus_allocated,
                        capacity.host_cpus,
                        capacity.vcpus_running,
                        ratio(capacity.cpu_overcommit),
                    )}
                </dd>
                <dt>"Memory allocated"</dt>
                <dd data-field="memory">
                    {format!(
                        "{} MiB of {} MiB ({} MiB running) · overcommit {}",
                        capacity.memory_allocated_mib,
                        capacity.host_memory_mib,
                        capacity.memory_running_mib,
                        ratio(capacity.memory_overcommit),
                    )}
                </dd>
                <dt>"Data dir"</dt>
                <dd data-field="disk">
                    {format!(
                        "{} free of {} ({} used)",
                        gib(capacity.disk_free_bytes),
                        gib(capacity.disk_total_bytes),
                        gib(used_disk),
                    )}
                </dd>
            </dl>
        </section>
    }
}
