//! The modules of `transform/src` import each other without a cycle: passes
//! share helpers through modules of their own (`instrs`, `globals`, ...),
//! never through another pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name -> the sibling modules its text names as `crate::NAME` or in
/// `crate::{A, B::c}` (line comments dropped; tests count: their imports are imports).
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut texts = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            texts.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    texts.into_iter().map(|(name, text)| {
        let refs = crate_refs(&text).into_iter().filter(|r| modules.contains(r) && *r != name).collect();
        (name, refs)
    }).collect()
}

fn crate_refs(text: &str) -> BTreeSet<String> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    let mut refs = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            refs.extend(group.split(',').filter_map(|item| first_word(item.trim())));
        } else {
            refs.extend(first_word(rest));
        }
    }
    refs
}

fn first_word(s: &str) -> Option<String> {
    let word: String = s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!word.is_empty()).then_some(word)
}

/// One cycle, as the path `a -> b -> ... -> a`, if the graph has any.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(node: &str, edges: &BTreeMap<String, BTreeSet<String>>, stack: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = walk(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| walk(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn transform_src_has_no_import_cycle() {
    let edges = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(edges.len() > 10, "read the modules of transform/src: {:?}", edges.keys());
    assert!(edges["dispatch"].contains("provenance"), "the reader sees `use crate::...` imports: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle in transform/src: {} (move what both need into a module of its own)", cycle.join(" -> "));
    }
}

#[test]
fn the_reader_finds_a_cycle_through_grouped_imports() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", "use crate::{b::x, Layout};"),
        ("b", "// crate::a in a comment is not an import\nfn f() { crate::c::g() }"),
        ("c", "use crate::a;"),
    ]
    .into_iter()
    .map(|(name, text)| (name.to_string(), crate_refs(text).into_iter().filter(|r| ["a", "b", "c"].contains(&r.as_str())).collect()))
    .collect();
    assert_eq!(find_cycle(&edges).unwrap(), ["a", "b", "c", "a"]);
    let mut acyclic = edges.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&acyclic), None);
}
