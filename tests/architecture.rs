//! The source's shape, checked: dependencies run one way (no file imports one that imports it
//! back, directly or around a circle), only `ui`, `commands` and `main` know terminals or
//! print, nothing below `commands` uses `ui`, and platform code stays in `host/`; and no file
//! of another project (those in ../shared) is committed here.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every source file as its module path (`driver::kind`, `main`) and its text without
/// comments, string contents and unit tests.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    support::files_below(&src, &[])
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (module_of(&src, &path), code(&text))
        })
        .collect()
}

fn module_of(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code alone: comments and the contents of string and char literals removed, and the
/// unit tests at the end left out.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let rest = |n: usize| chars[i..].iter().take(n).collect::<String>();
        if rest(2) == "//" {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if rest(2) == "r#" || rest(2) == "r\"" {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let body: String = chars[i + 2 + hashes..].iter().collect();
            i += 2 + hashes + body.find(&close).map_or(body.len(), |e| e + close.len());
            out.push_str("\"\"");
        } else if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if chars[i] == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else if chars[i] == '\'' && chars.get(i + 1) == Some(&'\\') {
            i += chars[i..]
                .iter()
                .skip(1)
                .position(|c| *c == '\'')
                .map_or(1, |p| p + 2);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The modules `module` names by path: `crate::a::b`, `super::x`, or a child `kind::Kind`.
fn imports(module: &str, text: &str, all: &BTreeSet<String>) -> BTreeSet<String> {
    let base: Vec<&str> = match module {
        "lib" | "main" => Vec::new(),
        m => m.split("::").collect(),
    };
    let mut found = BTreeSet::new();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == ','))
        .collect();
    for word in words {
        for path in expand(word) {
            let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let (mut cur, rest): (Vec<&str>, &[&str]) = match segs.first() {
                Some(&"crate") | Some(&"korthbox") => (Vec::new(), &segs[1..]),
                Some(&"super") => {
                    let ups = segs.iter().take_while(|s| **s == "super").count();
                    (
                        base[..base.len().saturating_sub(ups)].to_vec(),
                        &segs[ups..],
                    )
                }
                Some(&"self") => (base.clone(), &segs[1..]),
                Some(first) if all.contains(&[&base[..], &[*first]].concat().join("::")) => {
                    (base.clone(), &segs[..])
                }
                _ => continue,
            };
            let mut best = None;
            for seg in rest {
                cur.push(seg);
                let candidate = cur.join("::");
                if all.contains(&candidate) {
                    best = Some(candidate);
                }
            }
            if let Some(b) = best.filter(|b| b != module) {
                found.insert(b);
            }
        }
    }
    found
}

/// `a::{b, c::d}` as `a::b`, `a::c::d`.
fn expand(word: &str) -> Vec<String> {
    match word.find('{') {
        None => vec![word.trim_end_matches(',').to_string()],
        Some(i) => {
            let (prefix, inner) = (&word[..i], word[i + 1..].trim_end_matches('}'));
            inner
                .split(',')
                .filter(|s| !s.is_empty())
                .flat_map(|s| expand(&format!("{prefix}{s}")))
                .collect()
        }
    }
}

/// The files in a circle of imports, if any.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // A file is in a circle when it can reach itself.
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[from].iter().collect();
        while let Some(next) = todo.pop() {
            if seen.insert(next.clone()) {
                todo.extend(graph.get(next).into_iter().flatten());
            }
        }
        seen
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    for module in graph.keys() {
        let reached = reach(module);
        if reached.contains(module) {
            let circle: Vec<String> = reached
                .into_iter()
                .filter(|m| reach(m).contains(module))
                .collect();
            if !out.contains(&circle) {
                out.push(circle);
            }
        }
    }
    out
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let modules = modules();
    let all: BTreeSet<String> = modules.keys().cloned().collect();
    let graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|(m, text)| (m.clone(), imports(m, text, &all)))
        .collect();
    assert!(
        graph["sandbox::up"].contains("sandbox::steps"),
        "the reader works"
    );
    assert!(graph["driver"].contains("driver::kind"), "children count");
    assert_eq!(circles(&graph), Vec::<Vec<String>>::new());
}

#[test]
fn only_the_cli_edge_knows_terminals() {
    for (module, text) in modules() {
        let edge = module == "main"
            || module.starts_with("cli::ui")
            || module.starts_with("cli::commands");
        if edge {
            continue;
        }
        for word in [
            "println!",
            "eprintln!",
            "eprint!",
            "print!(",
            "indicatif",
            "console::",
            "crate::cli::ui",
            "std::io::stdin",
        ] {
            assert!(
                !text.contains(word),
                "{module} uses {word}: library code reports through report::Reporter"
            );
        }
    }
}

#[test]
fn only_commands_use_the_ui() {
    for (module, text) in modules() {
        if module == "main" || module.starts_with("cli::ui") || module.starts_with("cli::commands")
        {
            continue;
        }
        assert!(!text.contains("ui::"), "{module} uses ui");
    }
}

#[test]
fn platform_code_stays_in_host() {
    for (module, text) in modules() {
        if module.starts_with("host") {
            continue;
        }
        for word in [
            "cfg(unix)",
            "cfg(windows)",
            "cfg(not(unix))",
            "cfg(not(windows))",
            "cfg!(windows)",
            "cfg!(unix)",
            "target_os",
        ] {
            assert!(
                !text.contains(word),
                "{module} has platform code ({word}); it belongs in src/host/"
            );
        }
    }
}

#[test]
fn no_file_of_another_project_is_committed() {
    needs_shared!();
    let shared = support::shared_path("fixtures")
        .parent()
        .unwrap()
        .to_path_buf();
    // Small files (an empty list, a one-line version) could match by chance.
    let theirs: BTreeMap<Vec<u8>, std::path::PathBuf> = support::files_below(&shared, &[])
        .into_iter()
        .filter_map(|path| Some((std::fs::read(&path).ok()?, path)))
        .filter(|(bytes, _)| bytes.len() >= 200)
        .collect();
    assert!(!theirs.is_empty(), "the shared directory holds no files");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copies: Vec<String> = support::files_below(root, &["target", ".git"])
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            let original = theirs.get(&bytes)?;
            Some(format!("{} is {}", path.display(), original.display()))
        })
        .collect();
    assert!(
        copies.is_empty(),
        "read these from ../shared instead: {copies:#?}"
    );
}

/// Every 64-hex-digit image digest in `text`, with the reference it ends (`name:tag@sha256:…`,
/// as far back as the quote or space before it).
fn pinned_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("@sha256:") {
        let start = text[..at]
            .rfind(|c: char| c == '"' || c == '\'' || c == '`' || c.is_whitespace())
            .map_or(0, |i| i + 1);
        let end = at + "@sha256:".len();
        let hex: String = text[end..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        out.push(format!("{}{hex}", &text[start..end]));
    }
    out
}

// Issue 23: every image comes from the pins. The manifests and cluster templates name images only
// through placeholders; a digest appears only in src/base/pins.rs, and each pin there is
// `name:tag@sha256:` and 64 hex digits.
#[test]
fn every_image_comes_from_the_pins() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["assets", "drivers"] {
        for path in support::files_below(&root.join(dir), &[]) {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("image:"))
            {
                assert!(
                    line.contains("\"{{") && line.contains("}}\""),
                    "{}: an image literal, not a pin: {line}",
                    path.display()
                );
            }
        }
    }
    const PIN_FILES: [&str; 1] = ["src/base/pins.rs"];
    let mut pins = 0;
    for path in support::files_below(&root.join("src"), &[]) {
        let text = std::fs::read_to_string(&path).unwrap();
        // Comments and unit tests aside.
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text,
        };
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let found = pinned_references(&code);
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if !PIN_FILES.contains(&rel.as_str()) {
            assert!(
                found.is_empty(),
                "{rel} pins an image outside the pins: {found:?}"
            );
            continue;
        }
        for reference in found {
            let (name_tag, hex) = reference.split_once("@sha256:").unwrap();
            let tagged = name_tag.rsplit('/').next().unwrap().contains(':');
            assert!(
                tagged && hex.len() == 64,
                "{rel}: {reference} is not name:tag@sha256:<64 hex>"
            );
            pins += 1;
        }
    }
    assert!(pins >= 9, "the pins were not found ({pins})");
}

// Issue 26: src/ shows the architecture at a glance — a folder per layer or domain, and few
// entries beside them.
#[test]
fn src_shows_the_layers_at_a_glance() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut entries: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    entries.sort();
    assert!(
        entries.len() <= 12,
        "src/ has {} entries: {entries:?}",
        entries.len()
    );
    let files: Vec<&String> = entries.iter().filter(|e| e.ends_with(".rs")).collect();
    assert!(
        files.len() <= 3,
        "files at src/'s top level belong in a layer's folder: {files:?}"
    );
    // lib.rs names each folder, in the order of the layers.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for entry in entries.iter().filter(|e| !e.ends_with(".rs")) {
        assert!(
            lib.contains(&format!("`{entry}`")),
            "lib.rs does not describe {entry}/"
        );
    }
}
