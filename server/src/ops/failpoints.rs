//! Test-only failure injection into saga steps, named `KIND.STEP:MODE`:
//! - `error`: the step fails before it runs (the in-process rollback tests);
//! - `error_after`: the step runs, then fails (its effect is there and must be undone);
//! - `abort`: the process aborts right after the step ran (the crash tests).
//!
//! Only a build with the `failpoints` feature can arm one: the tests' build has it (the server
//! package's dev-dependency on itself turns it on), the product's build (`cargo leptos build`)
//! has no such code, so a stray `LIMEN_FAILPOINT` in an installed service's environment is
//! ignored with a warning and can never abort it. `make test` checks the release binary.

use super::StepError;

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::Arc;

    use super::StepError;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum FailMode {
        Error,
        ErrorAfter,
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
                "error_after" => FailMode::ErrorAfter,
                "abort" => FailMode::Abort,
                other => {
                    return Err(format!(
                        "unknown failpoint mode {other:?} (error, error_after or abort)"
                    ))
                }
            };
            Ok(Self(Some(Arc::new((kind.into(), step.into(), mode)))))
        }

        fn matches(&self, kind: &str, step: &str, mode: FailMode) -> bool {
            self.0
                .as_deref()
                .is_some_and(|(k, s, m)| k == kind && s == step && *m == mode)
        }

        pub fn before(&self, kind: &str, step: &str) -> Result<(), StepError> {
            if self.matches(kind, step, FailMode::Error) {
                return Err(StepError::Injected(format!("{kind}.{step}")));
            }
            Ok(())
        }

        /// After the step ran and succeeded.
        pub fn ran(&self, kind: &str, step: &str) -> Result<(), StepError> {
            if self.matches(kind, step, FailMode::ErrorAfter) {
                return Err(StepError::Injected(format!("{kind}.{step} (after it ran)")));
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
}

#[cfg(feature = "failpoints")]
pub use armed::Failpoints;

/// Without the `failpoints` feature: nothing can be armed, every check is a no-op.
#[cfg(not(feature = "failpoints"))]
#[derive(Debug, Clone, Default)]
pub struct Failpoints;

#[cfg(not(feature = "failpoints"))]
impl Failpoints {
    pub fn none() -> Self {
        Self
    }

    pub fn parse(_spec: &str) -> Result<Self, String> {
        tracing::warn!("LIMEN_FAILPOINT is set, but this build has no failpoints: ignored");
        Ok(Self)
    }

    pub fn before(&self, _kind: &str, _step: &str) -> Result<(), StepError> {
        Ok(())
    }

    pub fn ran(&self, _kind: &str, _step: &str) -> Result<(), StepError> {
        Ok(())
    }

    pub fn after(&self, _kind: &str, _step: &str) {}
}

#[cfg(all(test, feature = "failpoints"))]
mod tests {
    use super::*;

    #[test]
    fn parses_and_fires_only_where_named() {
        let fp = Failpoints::parse("vm_create.define:error").unwrap();
        assert!(fp.before("vm_create", "define").is_err());
        assert!(fp.ran("vm_create", "define").is_ok());
        let after = Failpoints::parse("vm_create.define:error_after").unwrap();
        assert!(after.before("vm_create", "define").is_ok());
        assert!(after.ran("vm_create", "define").is_err());
        assert!(fp.before("vm_create", "disk").is_ok());
        assert!(fp.before("vm_delete", "define").is_ok());
        fp.after("vm_create", "define"); // not an abort point: returns
        assert!(Failpoints::parse("vm_create.define").is_err());
        assert!(Failpoints::parse("vm_create:error").is_err());
        assert!(Failpoints::parse("a.b:explode").is_err());
        assert!(Failpoints::none().before("vm_create", "define").is_ok());
    }
}
