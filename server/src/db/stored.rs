//! States stored as checked TEXT columns, read and written as their enums.
//!
//! Each column has a CHECK constraint listing its values, and every row field is the enum
//! itself: a value the code does not know is an error when it is read, never a silent default.
//! The wire enums live in `app` (which never depends on diesel), so the mapping goes through
//! [`Stored`], named in the row structs with `deserialize_as` / `serialize_as`.

use std::fmt::Debug;
use std::str::FromStr;

use app::auth::{Outcome, Role};
use app::types::{BootOrder, InstallationStatus, VmStatus};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// An enum with one stored name per value.
pub trait Named: Copy + Debug + FromStr + Send + 'static {
    fn name(self) -> &'static str;
}

/// A [`Named`] value in a TEXT column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Stored<T: Named>(pub T);

impl<T: Named> ToSql<Text, Pg> for Stored<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(self.0.name(), &mut out.reborrow())
    }
}

impl<T: Named> FromSql<Text, Pg> for Stored<T> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let text = std::str::from_utf8(value.as_bytes())?;
        text.parse().map(Stored).map_err(|_| {
            format!(
                "the stored value {text:?} is not a {}",
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

impl<T: Named> From<T> for Stored<T> {
    fn from(value: T) -> Self {
        Stored(value)
    }
}

/// `Stored<T>` → `T` for the enums read from rows (a generic impl would break the orphan rule).
macro_rules! named {
    ($($ty:ty => $name:expr),* $(,)?) => {$(
        impl Named for $ty {
            fn name(self) -> &'static str {
                $name(self)
            }
        }
        impl From<Stored<$ty>> for $ty {
            fn from(stored: Stored<$ty>) -> Self {
                stored.0
            }
        }
    )*};
}

named! {
    VmStatus => VmStatus::as_str,
    BootOrder => BootOrder::as_str,
    InstallationStatus => InstallationStatus::as_str,
    Role => Role::as_str,
    Outcome => Outcome::as_str,
    OperationState => OperationState::as_str,
}

/// Where a multi-step operation stands (`operations.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    /// Carrying out its steps (or cut off while it was).
    Running,
    /// Undoing its started steps (or cut off while it was).
    Unwinding,
    Done,
    Undone,
    /// Finished, leaving something it could not do (named in `error`).
    Failed,
}

impl OperationState {
    pub const ALL: [OperationState; 5] = [
        OperationState::Running,
        OperationState::Unwinding,
        OperationState::Done,
        OperationState::Undone,
        OperationState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Unwinding => "unwinding",
            OperationState::Done => "done",
            OperationState::Undone => "undone",
            OperationState::Failed => "failed",
        }
    }

    /// Cut off if no process is carrying it out: `recover` finishes or undoes it.
    pub fn is_unfinished(self) -> bool {
        matches!(self, OperationState::Running | OperationState::Unwinding)
    }
}

impl FromStr for OperationState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OperationState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown operation state {s:?}"))
    }
}

/// The stored names of the values of `T` for which `keep` holds (for `IN (…)` filters).
pub fn names_where<T: Named>(all: &[T], keep: impl Fn(T) -> bool) -> Vec<&'static str> {
    all.iter()
        .copied()
        .filter(|value| keep(*value))
        .map(Named::name)
        .collect()
}
