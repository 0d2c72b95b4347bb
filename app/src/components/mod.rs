pub mod create_form;
pub mod fields;
pub mod vm_card;
