//! clavitor-cli
fn main() {}
