//! Species names that survive a dataset: a mechanism's species are the columns of the CSV
//! header `trajectory,t,<species>` that `generate` writes and `train` reads back, so a name that
//! header would break is refused where the mechanism is loaded.

/// Why `name` cannot be a species (a column of the CSV header `trajectory,t,<species>`, which
/// the dataset reader splits at commas and trims), if it cannot: empty, a comma, a quote, a control
/// character (a newline, a tab) or whitespace at either end. Mechanism loaders refuse such names
/// so that a dataset generated from the mechanism reads back.
pub fn species_name_defect(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an empty name")
    } else if name.contains(',') {
        Some("a comma in the name breaks the dataset's CSV header")
    } else if name.contains('"') {
        Some("a quote in the name breaks the dataset's CSV header")
    } else if name.contains(char::is_control) {
        Some("a control character (newline, tab) in the name breaks the dataset's CSV header")
    } else if name.trim() != name {
        Some("whitespace at the start or end of the name is lost in the dataset's CSV header")
    } else {
        None
    }
}
