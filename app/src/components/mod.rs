pub mod boot_order_select;
pub mod create_form;
pub mod fields;
pub mod graphs;
pub mod iso_upload;
pub mod language_switch;
pub mod vm_card;
