//! Test-only failure injection into saga steps, named `KIND.STEP:MODE`:
//! - `error`: the step fails before it runs (the in-process rollback tests);
//! - `abort`: the process aborts right after the step ran (the crash tests).
//!
//! Set with `LIMEN_FAILPOINT` (crash tests start the real binary with it) or in the config.
//! Unset in production, where every check is one `Option` test.

use std::sync::Arc;

use app::error::{AppError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    Error,
    Abort,
}

#[derive(Debug, Clone, Default)]
pub struct Failpoints(Option<Arc<(String, String, FailMode)>>);

impl Failpoints {
    pub fn none() -> Self {
        Self(None)
    }

    /// Parses `KIND.STEP:MODE`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (point, mode) = spec
            .split_once(':')
            .ok_or_else(|| format!("{spec:?} is not KIND.STEP:MODE"))?;
        let (kind, step) = point
            .split_once('.')
            .ok_or_else(|| format!("{point:?} is not KIND.STEP"))?;
        let mode = match mode {
            "error" => FailMode::Error,
            "abort" => FailMode::Abort,
            other => return Err(format!("unknown failpoint mode {other:?} (error or abort)")),
        };
        Ok(Self(Some(Arc::new((kind.into(), step.into(), mode)))))
    }

    fn matches(&self, kind: &str, step: &str, mode: FailMode) -> bool {
        self.0
            .as_deref()
            .is_some_and(|(k, s, m)| k == kind && s == step && *m == mode)
    }

    pub fn before(&self, kind: &str, step: &str) -> Result<(), AppError> {
        if self.matches(kind, step, FailMode::Error) {
            return Err(AppError::new(
                ErrorCode::Internal,
                format!("injected failure at {kind}.{step}"),
            ));
        }
        Ok(())
    }

    pub fn after(&self, kind: &str, step: &str) {
        if self.matches(kind, step, FailMode::Abort) {
            eprintln!("limen: failpoint {kind}.{step}: aborting");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_fires_only_where_named() {
        let fp = Failpoints::parse("vm_create.define:error").unwrap();
        assert!(fp.before("vm_create", "define").is_err());
        assert!(fp.before("vm_create", "disk").is_ok());
        assert!(fp.before("vm_delete", "define").is_ok());
        fp.after("vm_create", "define"); // not an abort point: returns
        assert!(Failpoints::parse("vm_create.define").is_err());
        assert!(Failpoints::parse("vm_create:error").is_err());
        assert!(Failpoints::parse("a.b:explode").is_err());
        assert!(Failpoints::none().before("vm_create", "define").is_ok());
    }
}
