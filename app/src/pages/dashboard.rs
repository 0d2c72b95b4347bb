use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::vms::list_vms;
use crate::components::create_form::{CreateVmForm, QuotaRefresh};
use crate::components::vm_card::VmCard;
use crate::live::use_live;
use crate::store::VmStore;

/// The VM list: rendered on the server with the current state, then kept current in the browser
/// by the live event stream.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let store = use_live().store;
    // Deleting a VM (on its card) frees quota the create form shows.
    QuotaRefresh::provide();
    let initial = Resource::new(|| (), |_| list_vms());

    view! {
        <section class="dashboard">
            <div class="dashboard-head">
                <Title text="Virtual machines · Limen"/>
                <h1>"Virtual machines"</h1>
            </div>
            <CreateVmForm store/>
            <Suspense fallback=|| view! { <p class="muted">"Loading virtual machines…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(vms) => {
                            store.apply_all(vms);
                            view! { <VmList store/> }.into_any()
                        }
                        Err(error) => {
                            view! { <p class="error" role="alert">{error.message}</p> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn VmList(store: VmStore) -> impl IntoView {
    view! {
        <Show
            when=move || !store.is_empty()
            fallback=|| view! { <p class="muted">"No virtual machines yet. Create one above."</p> }
        >
            <ul class="vm-grid" aria-label="Virtual machines">
                <For each=move || store.ids() key=|id| *id let:id>
                    <VmCard id store/>
                </For>
            </ul>
        </Show>
    }
}
