//! The shape of the source tree, as ARCHITECTURE.md describes it: no import cycle between
//! modules (the top-level ones, and the files of one folder), and no file a newcomer cannot
//! read in one sitting (700 lines, unit tests aside).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 700;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source of `path` without its unit tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The library's files (binaries and unit-test folders aside), by path under `src/`.
fn library() -> BTreeMap<String, PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&src).ok()?.to_string_lossy().into_owned();
            let skip = rel.starts_with("bin/") || rel.split('/').any(|part| part == "tests");
            (!skip).then_some((rel, p))
        })
        .collect()
}

/// The module a file defines, as the names of its path: `rules/endpoints.rs` is
/// `[rules, endpoints]`, `rules/mod.rs` is `[rules]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Names that follow `prefix` in `text`: `crate::rules::x` gives `rules`; `super::{a, b}`
/// gives `a` and `b`.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices(prefix) {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|s| ident(s.trim())));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut found = stack[at..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                0 => {
                    if let Some(found) = visit(next, graph, state, stack) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(found) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(found);
            }
        }
    }
    None
}

#[test]
fn no_import_cycle_between_modules() {
    let files = library();
    let top: BTreeSet<String> = files
        .keys()
        .filter_map(|rel| module_of(rel).first().cloned())
        .collect();
    // The top-level modules: `crate::x` anywhere in a module's code is an edge to `x`.
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Within a folder, a file's `super::y` naming a sibling file is an edge to it.
    let mut folders: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (rel, path) in &files {
        let module = module_of(rel);
        let Some(first) = module.first() else {
            continue;
        };
        let text = code(path);
        let edges = graph.entry(first.clone()).or_default();
        for name in names_after(&text, "crate::") {
            if top.contains(&name) && name != *first {
                edges.insert(name);
            }
        }
        if module.len() >= 2 && !rel.ends_with("mod.rs") {
            let folder = module[..module.len() - 1].join("/");
            let siblings: BTreeSet<String> = files
                .keys()
                .filter(|r| {
                    let m = module_of(r);
                    m.len() == module.len() && m[..m.len() - 1] == module[..module.len() - 1]
                })
                .filter_map(|r| module_of(r).last().cloned())
                .collect();
            let me = module.last().cloned().unwrap_or_default();
            let entry = folders
                .entry(folder)
                .or_default()
                .entry(me.clone())
                .or_default();
            for name in names_after(&text, "super::") {
                if siblings.contains(&name) && name != me {
                    entry.insert(name);
                }
            }
        }
    }
    assert!(graph.len() > 10, "the walk found the modules: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!(
            "an import cycle between top-level modules: {}",
            found.join(" -> ")
        );
    }
    for (folder, graph) in &folders {
        if let Some(found) = cycle(graph) {
            panic!("an import cycle in src/{folder}/: {}", found.join(" -> "));
        }
    }
    // The edges that must never come back: the AWS edge does not reach into the function
    // or the CLI, and the pure core reaches into no edge.
    for core in [
        "model",
        "rules",
        "plan",
        "policy",
        "alert",
        "report",
        "remediation",
        "index",
    ] {
        for edge in ["aws", "lambda", "cli", "audit"] {
            assert!(
                !graph.get(core).is_some_and(|e| e.contains(edge)),
                "the core module {core} imports the edge {edge}"
            );
        }
    }
    assert!(!graph["aws"].contains("lambda"), "aws imports lambda");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        names_after(
            "use super::{flow::x, nacl, Ctx};\nlet y = crate::rules::z;",
            "super::"
        ),
        ["Ctx", "flow", "nacl"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[test]
fn no_file_is_longer_than_a_sitting() {
    let long: Vec<String> = library()
        .iter()
        .filter_map(|(rel, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            let lines = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .count();
            (lines > MAX_LINES).then(|| format!("src/{rel}: {lines} lines"))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
