pub mod dashboard;
pub mod reconcile;
pub mod vm_detail;
