//! The ISO and base-image libraries (SPEC §8): files an admin put in `data_dir`; every caller
//! may list them.

use app::error::AppError;
use app::types::MediaFile;

use super::VmService;
use crate::error::report;

impl VmService {
    pub(super) async fn isos(&self) -> Result<Vec<MediaFile>, AppError> {
        self.isos.list().await.map_err(report)
    }

    pub(super) async fn images(&self) -> Result<Vec<MediaFile>, AppError> {
        self.images.list().await.map_err(report)
    }
}
