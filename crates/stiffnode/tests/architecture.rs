//! Dependencies point one way (design.md §9): each crate's library depends only on the crates
//! below it (solvers; chemistry and models; train; the program); within each crate no two
//! sibling modules use each other, directly or around a circle; and the solver crate's modules
//! use only their own layer and those below, as design.md §9 draws them. A module's uses are the
//! `crate::…` and `super::…` paths in its code (comments and unit tests left out), each taken to
//! the sibling modules of the level where the two paths part.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every module of the crate at `src` by its path (`["engine", "newton"]`), with its code.
fn modules(src: &Path) -> BTreeMap<Vec<String>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // A module's unit tests (at its end, by the house style) are not its dependencies.
            let code: String = text
                .lines()
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{}\n", l.split(" // ").next().unwrap_or(l)))
                .collect();
            out.insert(parts, code);
        }
    }
    out
}

/// The module paths `code` (of module `at`) names through `crate::` and `super::`, including
/// the names inside a `use …::{a, b}` group.
fn uses(at: &[String], code: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", at[..at.len().saturating_sub(1)].to_vec())] {
        for part in code.split(prefix).skip(1) {
            let mut path = base.clone();
            let mut rest = part;
            // `super::super::x`
            while let Some(r) = rest.strip_prefix("super::") {
                path.pop();
                rest = r;
            }
            loop {
                if let Some(r) = rest.strip_prefix('{') {
                    // A group: each name in it that is a module below `path`.
                    for item in r[..r.find('}').unwrap_or(r.len())].split(',') {
                        let mut sub = path.clone();
                        sub.push(ident(item.trim()));
                        if known.contains(&sub) {
                            found.insert(sub);
                        }
                    }
                    break;
                }
                let name = ident(rest);
                if name.is_empty() {
                    break;
                }
                let mut next = path.clone();
                next.push(name.clone());
                if !known.contains(&next) {
                    break;
                }
                path = next;
                rest = &rest[name.len()..];
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            if !path.is_empty() && path != base {
                found.insert(path);
            }
        }
    }
    found
}

/// Sibling-level edges `(parent, from, to)`: `from` and `to` are children of `parent` on the
/// using and the used module's paths.
fn edges(src: &Path) -> BTreeSet<(String, String, String)> {
    let all = modules(src);
    let known: BTreeSet<Vec<String>> = all.keys().cloned().collect();
    let mut out = BTreeSet::new();
    for (at, code) in &all {
        for used in uses(at, code, &known) {
            let common = at.iter().zip(&used).take_while(|(a, b)| a == b).count();
            if common < at.len() && common < used.len() {
                out.insert((at[..common].join("::"), at[common].clone(), used[common].clone()));
            }
        }
    }
    out
}

/// The edges among siblings of one parent that lie on a circle.
fn circles(edges: &BTreeSet<(String, String, String)>) -> BTreeSet<(String, String, String)> {
    let reaches = |parent: &str, from: &str, to: &str| {
        let mut seen = BTreeSet::from([from.to_string()]);
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for (p, a, b) in edges {
                if p == parent && *a == m && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen.contains(to)
    };
    edges.iter().filter(|(p, a, b)| reaches(p, b, a)).cloned().collect()
}

#[test]
fn no_two_sibling_modules_use_each_other() {
    for krate in ["solvers", "chemistry", "models", "train", "stiffnode"] {
        let found = circles(&edges(&root().join("crates").join(krate).join("src")));
        assert!(found.is_empty(), "{krate}: module circles (parent, from, to): {found:?}");
    }
}

/// The reading of uses itself: a circle made of `use super::{…}` groups and `crate::` paths is
/// found, and a one-way chain is not.
#[test]
fn circles_are_found_through_groups_and_crate_paths() {
    let dir = std::env::temp_dir().join(format!("stiffnode-architecture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "pub mod x;\nuse super::{b, c::Thing};\n").unwrap();
    std::fs::write(dir.join("a/x.rs"), "// use crate::c; (a comment)\nfn f() {}\n").unwrap();
    std::fs::write(dir.join("b.rs"), "use crate::c::Other;\n").unwrap();
    std::fs::write(dir.join("c.rs"), "fn g() { crate::a::x::f(); }\n").unwrap();
    let found = circles(&edges(&dir));
    let pair = |a: &str, b: &str| (String::new(), a.to_string(), b.to_string());
    assert_eq!(found, BTreeSet::from([pair("a", "b"), pair("a", "c"), pair("b", "c"), pair("c", "a")]));
    std::fs::write(dir.join("c.rs"), "fn g() {}\n").unwrap();
    assert!(circles(&edges(&dir)).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The crates from the bottom up: a library may depend on those before it only (chemistry and
/// models are side by side: neither uses the other).
const LAYERS: &[&[&str]] = &[&["solvers"], &["chemistry", "models"], &["train"], &["stiffnode"]];

#[test]
fn each_crate_depends_only_on_the_crates_below_it() {
    for (level, crates) in LAYERS.iter().enumerate() {
        let below: BTreeSet<&str> = LAYERS[..level].iter().flat_map(|l| l.iter().copied()).collect();
        for krate in *crates {
            let text = std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
            let manifest: toml::Table = text.parse().unwrap();
            let deps = manifest.get("dependencies").and_then(|d| d.as_table()).unwrap();
            for name in deps.keys().filter_map(|k| k.strip_prefix("stiffnode-")) {
                assert!(below.contains(name), "{krate} depends on {name}, which is not below it: {LAYERS:?}");
            }
        }
    }
}

/// The solver crate's layers as `docs/design.md` §9 draws them: the module names of each line of
/// its first `text` block (a line's first column; `dir/{a, b}` names `dir`), bottom line first.
fn drawn_layers(design: &str) -> Vec<Vec<String>> {
    let section = &design[design.find("## 9.").expect("design.md has §9")..];
    let block = section.split("```text\n").nth(1).and_then(|b| b.split("```").next()).expect("§9 has a text block");
    let mut layers = Vec::new();
    for line in block.lines().filter(|l| !l.starts_with(' ') && !l.is_empty()) {
        let column = line.split("  ").next().unwrap();
        let mut names = Vec::new();
        let mut depth = 0;
        let mut item = String::new();
        for c in column.chars().chain([',']) {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.push(item.trim().split('/').next().unwrap().to_string());
                    item.clear();
                    continue;
                }
                _ => {}
            }
            if depth == 0 && c != '}' {
                item.push(c);
            }
        }
        layers.push(names);
    }
    layers
}

/// The top-level edges `from → to` of `edges` where `to` sits on a later line than `from` (or on
/// none), given the drawn `layers`: the back-edges.
fn back_edges(edges: &BTreeSet<(String, String, String)>, layers: &[Vec<String>]) -> Vec<String> {
    let line = |m: &str| layers.iter().position(|l| l.iter().any(|n| n == m));
    edges
        .iter()
        .filter(|(parent, ..)| parent.is_empty())
        .filter(|(_, from, to)| match (line(from), line(to)) {
            (Some(a), Some(b)) => b > a,
            _ => true,
        })
        .map(|(_, from, to)| format!("{from} → {to}"))
        .collect()
}

/// Every module of the solver crate uses only modules on its own line of design.md §9's drawing
/// or on lines above it, and the drawing names every module there is.
#[test]
fn solver_modules_use_only_the_layers_below_them_as_design_md_draws_them() {
    let design = std::fs::read_to_string(root().join("docs/design.md")).unwrap();
    let layers = drawn_layers(&design);
    let src = root().join("crates/solvers/src");
    let drawn: BTreeSet<&String> = layers.iter().flatten().collect();
    let all = modules(&src);
    let top: BTreeSet<&String> = all.keys().filter(|p| p.len() == 1).map(|p| &p[0]).collect();
    assert_eq!(top, drawn, "design.md §9's drawing (right) against the crate's modules (left)");
    let back = back_edges(&edges(&src), &layers);
    assert!(back.is_empty(), "uses of a module drawn above the user in design.md §9: {back:?}");
}

/// The layer check can fail: a module that uses one drawn above it is named.
#[test]
fn a_use_of_a_higher_layer_is_named() {
    let layers = drawn_layers("## 9. x\n```text\na, b    low\nc/{x, y}  mid\n           more\nd\n```\n");
    assert_eq!(layers, [vec!["a", "b"], vec!["c"], vec!["d"]]);
    let edge = |from: &str, to: &str| (String::new(), from.to_string(), to.to_string());
    let edges = BTreeSet::from([edge("c", "a"), edge("d", "c"), edge("a", "b"), edge("b", "d")]);
    assert_eq!(back_edges(&edges, &layers), ["b → d"]);
}
