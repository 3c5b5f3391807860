//! Substituting `clavitor://` references in text — the engine of
//! `clavitor-cli render` and of the proxy's header injection.
//!
//! # References
//!
//! The grammar lives in [`clavitor_core::reference`]: bare `clavitor://Prod%20DB/password`
//! (unreserved characters and `%XX` escapes, ending at the first other character) or
//! braced `{{ clavitor://Prod DB/password }}` (raw name, field after the last `/`). A
//! field is always required.
//!
//! # Rendering
//!
//! [`render`] finds every reference, works out where each one stands in the
//! template's syntax ([`Format`], usually from [`detect_format`]), resolves each
//! distinct reference once through a [`Resolver`] (no I/O here) and writes the value
//! escaped so that the format's standard parser reads back exactly the secret —
//! quotes, backslashes, newlines (PEM keys), `#`, `$`, `: `, `%`, `;`, tabs, control
//! characters, non-ASCII text, leading and trailing spaces, the empty string.
//!
//! If anything fails — a malformed reference, a reference where no value can go, a
//! refusal by the resolver, a value the position cannot represent — every failure is
//! collected into one [`RenderError`] (line, column, the reference as written, why) and
//! no output is produced. Failures never contain a value.
//!
//! References inside comments (YAML, TOML, `.env`, INI) are left as written and not
//! resolved.
//!
//! | format | position | what is written |
//! |---|---|---|
//! | JSON | inside `"…"` | JSON escapes |
//! | JSON | alone as a value/key/array item | a `"…"` string |
//! | JSON | glued to other text outside a string | error |
//! | YAML | inside `"…"` | YAML escapes (`\n`, `\xHH`, `\L`…; spaces at folded line ends as `\x20`) |
//! | YAML | inside one-line `'…'` | kept (`'` doubled) if printable and one line, else the scalar becomes `"…"` |
//! | YAML | inside multi-line `'…'` | kept if printable and one line, else error |
//! | YAML | plain scalar (alone or with text) | the whole scalar becomes `"…"`; a multi-line plain scalar is an error |
//! | YAML | alone in a block scalar (`\|`, `>`) | the block becomes `"…"` holding exactly the value |
//! | YAML | among other block-scalar text | raw if one printable line, else error |
//! | TOML | inside `"…"` / `"""…"""` | TOML escapes |
//! | TOML | inside `'…'` / `'''…'''` | kept literal if it fits, else the string becomes `"…"` |
//! | TOML | alone as a value/key/array item | a `"…"` string |
//! | .env | inside `"…"` | dotenvy escapes (`\\ \" \$ \n`) |
//! | .env | inside `'…'` | kept if no `'` or `\`, else the part becomes `"…"` |
//! | .env | unquoted value | the whole value becomes `"…"` (error if it also holds quotes, `\` or `$`) |
//! | .env | any | a NUL is an error (no environment variable can hold one); keys are errors |
//! | INI | inside `"…"`/`'…'` | rust-ini escapes (`\n`, `\t`, `\xHHHH`…) |
//! | INI | the whole unquoted value | a `"…"` value |
//! | INI | unquoted among other text | escaped; error if edge whitespace would be trimmed |
//! | INI | section names, keys | error |
//! | Raw | anywhere | verbatim |
//!
//! The standard parsers are `serde_json`, `serde_yaml_ng` (libyaml), `toml`, `dotenvy`
//! and `rust-ini` (default options); the tests render adversarial values in every
//! position and parse them back with these.
//!
//! # Headers
//!
//! [`substitute_header_value`] substitutes raw and refuses any value with a control
//! character (CR, LF, NUL, tab, DEL, C1) with [`HeaderError::UnsafeValue`].

mod format;
mod header;
mod plan;
mod render;
mod resolve;

pub use clavitor_core::Reference;
pub use clavitor_core::reference::{Found, ReferenceError, find_references};
pub use format::{Format, UnknownFormat, detect_format};
pub use header::{HeaderError, contains_reference, substitute_header_value};
pub use render::{Failure, FailureKind, RenderError, render};
pub use resolve::{ResolveError, Resolver};
