//! Mass-action kinetics: reaction mechanisms as data (built in, ROBER and POLLU, or read from a
//! mechanism TOML file) and the vector field of their power-law rates with learnable `log10 k`.

pub mod field;
pub mod mechanism;
pub mod mechanism_file;
pub mod pollu;
pub mod rober;

pub use field::MassActionField;
pub use mechanism::{Mechanism, Reaction};
pub use mechanism_file::MechanismError;

use std::path::Path;

/// Names of the built-in problems.
pub const NAMES: [&str; 2] = ["robertson", "pollu"];

/// A built-in mechanism file, checked by the tests, so parsing it cannot fail.
fn builtin(text: &str, file: &str) -> Mechanism {
    mechanism_file::parse(text, file).expect("shipped mechanism files are valid (tested)")
}

/// The built-in mechanism called `name` (`rober` is accepted for `robertson`), or the mechanism
/// file at that path.
pub fn load(name_or_path: &str) -> Result<Mechanism, MechanismError> {
    let (text, file) = source(name_or_path)?;
    mechanism_file::parse(&text, &file)
}

/// Whether `name_or_path` names a mechanism file rather than a built-in mechanism.
pub fn is_file_name(name_or_path: &str) -> bool {
    !matches!(name_or_path, "robertson" | "rober" | "pollu")
}

/// Whether `s` names a file rather than a built-in problem: it has a directory part or an
/// extension.
fn looks_like_path(s: &str) -> bool {
    let p = Path::new(s);
    p.extension().is_some() || p.components().count() > 1
}

/// The TOML text of a built-in mechanism or mechanism file, and the file name errors use.
pub fn source(name_or_path: &str) -> Result<(String, String), MechanismError> {
    match name_or_path {
        "robertson" | "rober" => Ok((rober::FILE.to_string(), rober::PATH.to_string())),
        "pollu" => Ok((pollu::FILE.to_string(), pollu::PATH.to_string())),
        other if Path::new(other).is_file() || looks_like_path(other) => std::fs::read_to_string(other)
            .map(|text| (text, other.to_string()))
            .map_err(|e| MechanismError { file: other.to_string(), what: format!("cannot read: {e}") }),
        other => Err(MechanismError {
            file: other.to_string(),
            what: format!("unknown problem (built in: {}; or the path of a mechanism .toml file)", NAMES.join(", ")),
        }),
    }
}
