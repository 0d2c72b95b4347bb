//! (ssr only) What the dashboard needs from the server, as traits the server implements.
//!
//! `app` never touches diesel or libvirt; the server puts an implementation of these ports into
//! Leptos context, and server-function bodies reach it through [`vm_port`].

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::*;

use crate::error::{AppError, ErrorCode};
use crate::report::{AdoptRequest, ReconcileReport};
use crate::types::{CreateVmRequest, DeleteReport, MediaFile, Vm, VmAction, VmId};

/// The one service layer every screen and endpoint goes through (SPEC §3).
#[async_trait]
pub trait VmPort: Send + Sync + 'static {
    async fn list_vms(&self) -> Result<Vec<Vm>, AppError>;
    /// The ISO library (`data_dir/isos`).
    async fn list_isos(&self) -> Result<Vec<MediaFile>, AppError>;
    /// The base-image library (`data_dir/images`).
    async fn list_images(&self) -> Result<Vec<MediaFile>, AppError>;
    async fn get_vm(&self, id: VmId) -> Result<Vm, AppError>;
    async fn create_vm(&self, request: CreateVmRequest) -> Result<Vm, AppError>;
    async fn act_on_vm(&self, id: VmId, action: VmAction) -> Result<Vm, AppError>;
    async fn delete_vm(&self, id: VmId) -> Result<DeleteReport, AppError>;
    /// Compares hypervisor, database and disks; fixes drift, reports the rest (SPEC §6).
    async fn reconcile(&self) -> Result<ReconcileReport, AppError>;
    /// Takes a ghost domain under management.
    async fn adopt_vm(&self, request: AdoptRequest) -> Result<Vm, AppError>;
    /// Removes the record of a missing VM (its domain is gone) and nothing else: a disk it had
    /// stays, to be found as an orphan.
    async fn forget_vm(&self, id: VmId) -> Result<(), AppError>;
}

/// Everything the server provides to server functions.
#[derive(Clone)]
pub struct Ports {
    pub vms: Arc<dyn VmPort>,
}

pub fn vm_port() -> Result<Arc<dyn VmPort>, AppError> {
    use_context::<Ports>()
        .map(|ports| ports.vms)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::Internal,
                "The server is missing its service layer.",
            )
        })
}

/// Gives a failed server function the HTTP status of its error, as REST does.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                options.set_status(status);
            }
        }
    }
    result
}
