//! Input rules shared by the create form (to explain early) and the server (to enforce).

use crate::error::AppError;
use crate::types::CreateVmRequest;

pub const NAME_MAX_LEN: usize = 63;
pub const CPU_MIN: u32 = 1;
pub const CPU_MAX: u32 = 64;
pub const MEMORY_MIN_MIB: u64 = 64;
pub const MEMORY_MAX_MIB: u64 = 1024 * 1024;
pub const DISK_MIN_GIB: u64 = 1;
pub const DISK_MAX_GIB: u64 = 16 * 1024;
pub const OS_TYPE_MAX_LEN: usize = 32;

/// SPEC §4: 1–63 characters, `^[A-Za-z0-9][A-Za-z0-9._-]*$`.
pub fn validate_vm_name(name: &str) -> Result<(), AppError> {
    validate_label("The name", name)
}

/// The rule for names, owners and roles: 1–63 characters, `^[A-Za-z0-9][A-Za-z0-9._-]*$`
/// (safe in a path, in markup and in a shell). `what` starts the error sentence.
pub fn validate_label(what: &str, value: &str) -> Result<(), AppError> {
    if value.is_empty() {
        return Err(AppError::validation(format!("{what} must not be empty.")));
    }
    if value.len() > NAME_MAX_LEN {
        return Err(AppError::validation(format!(
            "{what} is {} characters long; at most {NAME_MAX_LEN} are allowed.",
            value.chars().count()
        )));
    }
    let mut chars = value.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::validation(format!(
            "{what} must start with a letter or a digit."
        )));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(AppError::validation(format!(
            "{what} may contain only letters, digits, '.', '_' and '-', not {bad:?}."
        )));
    }
    Ok(())
}

fn check_range(what: &str, value: u64, min: u64, max: u64, unit: &str) -> Result<(), AppError> {
    if value < min || value > max {
        return Err(AppError::validation(format!(
            "{what} must be between {min} and {max}{unit}; got {value}{unit}."
        )));
    }
    Ok(())
}

/// Static bounds; the server also checks what the host can actually give.
pub fn validate_create(request: &CreateVmRequest) -> Result<(), AppError> {
    validate_vm_name(&request.name)?;
    check_range(
        "vCPUs",
        request.cpu.into(),
        CPU_MIN.into(),
        CPU_MAX.into(),
        "",
    )?;
    check_range(
        "Memory",
        request.memory,
        MEMORY_MIN_MIB,
        MEMORY_MAX_MIB,
        " MiB",
    )?;
    check_range(
        "Disk size",
        request.disk_size,
        DISK_MIN_GIB,
        DISK_MAX_GIB,
        " GiB",
    )?;
    if let Some(os_type) = &request.os_type {
        let ok = !os_type.is_empty()
            && os_type.len() <= OS_TYPE_MAX_LEN
            && os_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(AppError::validation(format!(
                "The OS type must be 1–{OS_TYPE_MAX_LEN} letters, digits, '.', '_' or '-'."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn good_names_pass() {
        for name in ["a", "web-1", "db_02.internal", "X", "0", &"a".repeat(63)] {
            assert!(validate_vm_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn hostile_names_are_refused_with_a_sentence() {
        for name in [
            "",
            "../etc",
            "a/b",
            "<script>",
            "a'b",
            "a\"b",
            "a\0b",
            "a\nb",
            "-lead",
            ".hidden",
            "_x",
            "a b",
            "ünïcode",
            &"a".repeat(64),
        ] {
            let err = validate_vm_name(name).unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationFailed, "{name:?}");
            assert!(err.message.ends_with('.'), "{}", err.message);
        }
    }

    fn request(cpu: u32, memory: u64, disk_size: u64) -> CreateVmRequest {
        CreateVmRequest {
            name: "vm".into(),
            cpu,
            memory,
            disk_size,
            os_type: None,
            iso: None,
            image: None,
            boot_order: None,
            start: false,
            host: None,
        }
    }

    #[test]
    fn numbers_out_of_bounds_are_refused() {
        assert!(validate_create(&request(1, 512, 4)).is_ok());
        for bad in [
            request(0, 512, 4),
            request(CPU_MAX + 1, 512, 4),
            request(1, 0, 4),
            request(1, MEMORY_MAX_MIB + 1, 4),
            request(1, 512, 0),
            request(1, 512, u64::MAX),
        ] {
            assert_eq!(
                validate_create(&bad).unwrap_err().code,
                ErrorCode::ValidationFailed
            );
        }
    }

    #[test]
    fn os_type_is_a_plain_word() {
        let mut req = request(1, 512, 4);
        req.os_type = Some("linux".into());
        assert!(validate_create(&req).is_ok());
        req.os_type = Some("../../x".into());
        assert!(validate_create(&req).is_err());
    }
}
