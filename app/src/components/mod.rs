pub mod create_form;
pub mod vm_card;
