//! The dependency direction of ARCHITECTURE.md, enforced: the pure core has no I/O, async,
//! database or HTTP below it, does not itself depend on serde or on an edge crate, and its own
//! code (outside tests) reads no clock and does no I/O.

use std::collections::{BTreeSet, HashMap, HashSet};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};

const CORE_CRATES: [&str; 6] = ["reference", "domain", "audit", "tariff", "risk", "model"];
/// Edge crates that only translate a message format (bytes in, bytes out) onto the boundary
/// forms: they may know serde and `wire`, but like the core nothing below them does I/O, async, a
/// database or HTTP, and their own code reads no clock and does no I/O.
const PURE_EDGE_CRATES: [&str; 4] = ["wco", "edifact", "ceb", "dsig"];
/// Crates whose presence anywhere below a core crate (in the resolved build) means it gained I/O,
/// async, a database or HTTP.
const FORBIDDEN_BELOW: [&str; 15] = [
    "tokio",
    "mio",
    "futures",
    "async-trait",
    "axum",
    "hyper",
    "tower",
    "reqwest",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "tokio-postgres",
    "deadpool-postgres",
    "store",
    "clearance",
];
/// Crates a core crate must not declare itself. (serde can still appear below a core crate through
/// feature unification of a third-party crate such as rust_decimal; core code cannot `use` it
/// without declaring it, which this check forbids.)
const FORBIDDEN_DIRECT: [&str; 5] = ["serde", "serde_json", "wire", "store", "utoipa"];

fn metadata() -> Metadata {
    MetadataCommand::new().exec().expect("cargo metadata runs")
}

fn resolved_below(metadata: &Metadata, root: &PackageId) -> BTreeSet<String> {
    let resolve = metadata
        .resolve
        .as_ref()
        .expect("metadata has a resolve graph");
    let nodes: HashMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let names: HashMap<&PackageId, &str> = metadata
        .packages
        .iter()
        .map(|p| (&p.id, p.name.as_str()))
        .collect();
    let (mut seen, mut stack, mut below) = (HashSet::new(), vec![root], BTreeSet::new());
    while let Some(id) = stack.pop() {
        for dep in &nodes[id].deps {
            let normal = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind == DependencyKind::Normal);
            if normal && seen.insert(&dep.pkg) {
                below.insert(names[&dep.pkg].to_owned());
                stack.push(&dep.pkg);
            }
        }
    }
    below
}

#[test]
fn nothing_below_the_pure_core_does_io_async_database_or_http() {
    let metadata = metadata();
    for package in metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| CORE_CRATES.contains(&p.name.as_str()))
    {
        let below = resolved_below(&metadata, &package.id);
        let found: Vec<&str> = FORBIDDEN_BELOW
            .iter()
            .copied()
            .filter(|f| below.contains(*f))
            .collect();
        assert!(
            found.is_empty(),
            "core crate {} pulls in {found:?}",
            package.name
        );
    }
}

#[test]
fn core_crates_declare_only_core_and_pure_dependencies() {
    let metadata = metadata();
    let workspace: BTreeSet<&str> = metadata
        .workspace_packages()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for package in metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| CORE_CRATES.contains(&p.name.as_str()))
    {
        for dependency in package
            .dependencies
            .iter()
            .filter(|d| d.kind == DependencyKind::Normal)
        {
            let name = dependency.name.as_str();
            assert!(
                !FORBIDDEN_DIRECT.contains(&name),
                "core crate {} declares {name}",
                package.name
            );
            let internal = workspace.contains(name);
            assert!(
                !internal || CORE_CRATES.contains(&name),
                "core crate {} depends on {name}",
                package.name
            );
        }
    }
}

/// What ARCHITECTURE.md promises the pure core never does in its code (not only in its
/// dependencies): read a clock or do I/O. Found in the source with comments, string literals and
/// `#[cfg(test)]` items left out; `std::{fs, env}` groups are opened.
const FORBIDDEN_IN_CORE_SOURCE: [(&str, &str); 17] = [
    ("Utc::now", "reads the clock"),
    ("Local::now", "reads the clock"),
    ("chrono::Local", "reads the local time zone"),
    ("SystemTime", "reads the clock"),
    ("Instant::now", "reads the clock"),
    ("std::fs", "does file I/O"),
    ("std::net", "does network I/O"),
    ("std::process", "runs processes"),
    ("std::env", "reads the environment"),
    ("std::thread::sleep", "waits on the clock"),
    ("tokio", "is async"),
    ("println!", "prints"),
    ("print!", "prints"),
    ("eprintln!", "prints"),
    ("eprint!", "prints"),
    ("dbg!", "prints"),
    ("File::open", "does file I/O"),
];

/// The source without comments and without the contents of string and character literals.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let at = |i: usize, n: usize| chars.get(i + n).copied();
        match chars[i] {
            '/' if at(i, 1) == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i, 1) == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i, 1) == Some('*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i, 1) == Some('/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                code.push(' ');
            }
            'r' if (at(i, 1) == Some('"') || at(i, 1) == Some('#'))
                && !chars[..i]
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_') =>
            {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                if chars.get(i + 1 + hashes) != Some(&'"') {
                    code.push('r');
                    i += 1;
                    continue;
                }
                i += 2 + hashes;
                let closing: Vec<char> = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                while i < chars.len() && !chars[i..].starts_with(&closing) {
                    i += 1;
                }
                i += closing.len();
                code.push_str("\"\"");
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                code.push_str("\"\"");
            }
            '\'' if at(i, 1) == Some('\\') => {
                // Past the backslash and the escaped character (`'\''`, `'\n'`, `'\u{..}'`).
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                code.push_str("' '");
            }
            '\'' if at(i, 2) == Some('\'') => {
                i += 3;
                code.push_str("' '");
            }
            c => {
                code.push(c);
                i += 1;
            }
        }
    }
    code
}

/// `code` without the items under `#[cfg(test)]` (a module block, a function, or `mod tests;`).
fn without_test_items(code: &str) -> String {
    let mut kept = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..at]);
        let after = &rest[at..];
        let semicolon = after.find(';').unwrap_or(after.len());
        let brace = after.find('{').unwrap_or(after.len());
        if semicolon < brace {
            rest = &after[(semicolon + 1).min(after.len())..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (offset, c) in after[brace..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = brace + offset + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    kept.push_str(rest);
    kept
}

/// Each forbidden use in a core crate's source file, as `what (why)`.
fn core_source_violations(source: &str) -> Vec<String> {
    let code = without_test_items(&code_only(source));
    // `std::{env, fs::File}` counts as `std::env` and `std::fs`.
    let mut opened = code.clone();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("std::{") {
        let group = &rest[at + "std::{".len()..];
        let end = group.find('}').unwrap_or(group.len());
        for member in group[..end].split(',') {
            opened.push_str(&format!(" std::{} ", member.trim()));
        }
        rest = &group[end..];
    }
    let words: String = opened.split_whitespace().collect::<Vec<_>>().join(" ");
    FORBIDDEN_IN_CORE_SOURCE
        .iter()
        .filter(|(what, _)| {
            words.match_indices(what).any(|(at, _)| {
                // A whole path or macro: `eprint!` is not `print!`, `my_tokio` is not `tokio`.
                !words[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .map(|(what, why)| format!("{what} ({why})"))
        .collect()
}

/// A file of tests only (`tests.rs`, `*_tests.rs`, anything under `tests/` or `benches/`).
fn is_test_file(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || path
            .components()
            .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches")
}

fn rust_files(folder: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(folder).expect("a readable source folder") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The clock reads and I/O in the own code (outside tests) of the workspace crates `names`, and
/// how many files were scanned.
fn source_violations(metadata: &Metadata, names: &[&str]) -> (usize, Vec<String>) {
    let mut scanned = 0;
    let mut violations = Vec::new();
    for package in metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| names.contains(&p.name.as_str()))
    {
        let src = package.manifest_path.parent().unwrap().join("src");
        let mut files = Vec::new();
        rust_files(src.as_std_path(), &mut files);
        for file in files.iter().filter(|f| !is_test_file(f)) {
            let source = std::fs::read_to_string(file).unwrap();
            scanned += 1;
            for violation in core_source_violations(&source) {
                violations.push(format!("{}: {violation}", file.display()));
            }
        }
    }
    (scanned, violations)
}

#[test]
fn the_pure_core_reads_no_clock_and_does_no_io_in_its_code() {
    let (scanned, violations) = source_violations(&metadata(), &CORE_CRATES);
    assert!(scanned >= CORE_CRATES.len(), "scanned only {scanned} files");
    assert!(
        violations.is_empty(),
        "the pure core:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_pure_edge_crates_do_no_io_below_or_in_their_code() {
    let metadata = metadata();
    let (scanned, mut violations) = source_violations(&metadata, &PURE_EDGE_CRATES);
    let edges: Vec<_> = metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| PURE_EDGE_CRATES.contains(&p.name.as_str()))
        .collect();
    assert_eq!(
        edges.len(),
        PURE_EDGE_CRATES.len(),
        "every pure edge is a workspace crate"
    );
    for package in edges {
        let below = resolved_below(&metadata, &package.id);
        for forbidden in FORBIDDEN_BELOW.iter().filter(|f| below.contains(**f)) {
            violations.push(format!("{} depends on {forbidden}", package.name));
        }
    }
    assert!(
        scanned >= PURE_EDGE_CRATES.len(),
        "scanned only {scanned} files"
    );
    assert!(
        violations.is_empty(),
        "the pure edge crates:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_core_source_scanner_finds_a_planted_violation_and_ignores_comments_strings_and_tests() {
    let planted = [
        (
            "fn day() -> NaiveDate { chrono::Utc::now().date_naive() }",
            "Utc::now",
        ),
        ("fn t() { let _ = chrono::Local::now(); }", "Local::now"),
        ("use std::time::SystemTime;", "SystemTime"),
        (
            "fn t() { let started = std::time::Instant::now(); }",
            "Instant::now",
        ),
        (
            "fn read() { std::fs::read_to_string(\"x\").unwrap(); }",
            "std::fs",
        ),
        ("use std::{collections::HashMap, env};", "std::env"),
        ("use std::{\n    fs,\n    io,\n};", "std::fs"),
        ("use std::net::TcpStream;", "std::net"),
        ("fn run() { std::process::exit(1) }", "std::process"),
        ("async fn f() { tokio::time::sleep(d).await }", "tokio"),
        ("fn f() { println!(\"{}\", 1); }", "println!"),
        ("fn f() { eprintln!(\"oops\"); }", "eprintln!"),
    ];
    for (source, what) in planted {
        let found = core_source_violations(source);
        assert!(
            found.iter().any(|v| v.starts_with(what)),
            "{what} not found in {source:?}: {found:?}"
        );
    }
    let innocent = r##"
        //! Never calls Utc::now(): the day is passed in. No std::fs either.
        /* println!("nested /* comment */ std::env") */
        const NOTE: &str = "tokio and std::process are the edge's";
        const RAW: &str = r#"Instant::now() "quoted" std::net"#;
        fn quote() -> char { '"' }
        fn lifetime<'a>(s: &'a str) -> &'a str { s }
        fn my_tokio_free_name() {}
        #[cfg(test)]
        mod tests {
            fn helper() { let _ = std::time::Instant::now(); println!("in a test"); }
        }
        #[cfg(test)]
        mod more_tests;
        pub fn after_the_tests() -> u8 { 1 }
    "##;
    assert_eq!(core_source_violations(innocent), Vec::<String>::new());
    // Code after a test module is still scanned.
    let after = "#[cfg(test)]\nmod tests { fn t() {} }\nfn f() { std::env::var(\"X\"); }";
    assert_eq!(
        core_source_violations(after),
        ["std::env (reads the environment)"]
    );
}
