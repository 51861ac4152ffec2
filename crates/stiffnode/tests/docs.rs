//! The project's documents hold together: every `design.md §N` cited in the sources and the
//! README names a section of `docs/design.md`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The section numbers cited as `design.md §N`, `§N–M` (a range) or `§N, §M`.
fn citations(text: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for part in text.split("design.md §").skip(1) {
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>();
        let first = digits(part);
        let Ok(n) = first.parse::<u32>() else { continue };
        found.push(n);
        if let Some(rest) = part[first.len()..].strip_prefix('–')
            && let Ok(m) = digits(rest).parse::<u32>()
        {
            found.extend(n + 1..=m);
        }
    }
    found
}

#[test]
fn every_design_citation_names_a_section_of_docs_design_md() {
    let design = std::fs::read_to_string(root().join("docs/design.md")).unwrap();
    let sections: Vec<u32> =
        design.lines().filter_map(|l| l.strip_prefix("## ")?.split('.').next()?.parse().ok()).collect();
    assert!(sections.len() >= 9, "docs/design.md has sections {sections:?}");
    let mut files = vec![root().join("README.md")];
    sources(&root().join("crates"), &mut files);
    let (mut checked, unnamed) = (0, ["DESIGN", "§"].join(" "));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&unnamed), "{}: cites '{unnamed}', which names no file", file.display());
        for n in citations(&text) {
            assert!(
                sections.contains(&n),
                "{}: cites design.md §{n}, which docs/design.md does not have",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} citations found");
}
