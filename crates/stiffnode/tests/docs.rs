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

/// The section numbers cited as `design.md §N`, `§N–M` (a range), or a list of those after one
/// `design.md` (`§3, §8, §11`, `§3 and §8`).
fn citations(text: &str) -> Vec<u32> {
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>();
    let mut found = Vec::new();
    for part in text.split("design.md §").skip(1) {
        let mut rest = part;
        loop {
            let first = digits(rest);
            let Ok(n) = first.parse::<u32>() else { break };
            found.push(n);
            rest = &rest[first.len()..];
            if let Some(after) = rest.strip_prefix('–') {
                let last = digits(after);
                if let Ok(m) = last.parse::<u32>() {
                    found.extend(n + 1..=m);
                }
                rest = &after[last.len()..];
            }
            match [", §", " and §", ", and §"].iter().find_map(|sep| rest.strip_prefix(sep)) {
                Some(next) => rest = next,
                None => break,
            }
        }
    }
    found
}

#[test]
fn citations_are_read_singly_as_ranges_and_as_lists() {
    assert_eq!(citations("see design.md §4."), [4]);
    assert_eq!(citations("design.md §3–5 and design.md §9"), [3, 4, 5, 9]);
    assert_eq!(citations("(design.md §3, §8, §11)"), [3, 8, 11]);
    assert_eq!(citations("design.md §2 and §7–8, §10"), [2, 7, 8, 10]);
    assert_eq!(citations("design.md §x"), Vec::<u32>::new());
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
