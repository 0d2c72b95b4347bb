//! The admins' pages, `/admin/{page}`: users, host, hosts, reconcile. One route and one WASM chunk
//! for the four (each route of the router is code in the dashboard's first load; admins' pages are
//! visited together and rarely).

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

use super::host::HostPage;
use super::hosts::HostsPage;
use super::not_found::NotFoundPage;
use super::reconcile::ReconcilePage;
use super::users::UsersPage;

/// The route: split off the main WASM and loaded when an admin page is visited.
pub struct AdminRoute;

#[lazy_route]
impl LazyRoute for AdminRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        let params = use_params_map();
        let page = move || params.read().get("page").unwrap_or_default();
        view! {
            {move || match page().as_str() {
                "users" => view! { <UsersPage/> }.into_any(),
                "host" => view! { <HostPage/> }.into_any(),
                "hosts" => view! { <HostsPage/> }.into_any(),
                "reconcile" => view! { <ReconcilePage/> }.into_any(),
                _ => view! { <NotFoundPage/> }.into_any(),
            }}
        }
        .into_any()
    }
}
