//! The vocabulary shared by every Clavitor crate.
//!
//! Nothing here performs I/O. The crate defines how names are matched ([`name`]),
//! the `clavitor://` reference grammar ([`reference`]), field tiers and kinds
//! ([`field`]), the stable `CV-xxxx` error table ([`error`]) and the redacting
//! secret wrapper ([`secret`]).

pub mod api;
pub mod error;
pub mod field;
pub mod name;
pub mod reference;
pub mod secret;

pub use error::ErrorCode;
pub use field::{FieldKind, Tier, default_tier};
pub use name::{NameKey, normalize_name};
pub use reference::Reference;
pub use secret::Secret;
