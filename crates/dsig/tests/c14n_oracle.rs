//! The C14N of this crate against libxml2's (`xmllint --c14n`, Debian's libxml2-utils, which
//! `.ci/run` installs): on every shared CEB sample and on the hand-written cases of
//! `test_data/c14n/`. xmllint prints the form with comments; the form without comments is the
//! same with the comment nodes taken out, which `without_comments` does to xmllint's output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn xmllint_c14n(file: &Path) -> Vec<u8> {
    let output = Command::new("xmllint")
        .arg("--c14n")
        .arg(file)
        .output()
        .expect("xmllint runs (Debian's libxml2-utils; .ci/run installs it)");
    assert!(
        output.status.success(),
        "xmllint --c14n {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Canonical XML with comments, less its comment nodes: inside the root a comment is
/// `<!--...-->` (a `<` of text is escaped, so `<!--` starts nothing else); outside it, it also
/// has the line feed that separates it from the root element.
fn without_comments(canonical: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(canonical.to_vec()).expect("UTF-8");
    let root_start = first_element(&text);
    let root_end = text
        .rfind("</")
        .map(|i| i + text[i..].find('>').unwrap() + 1)
        .unwrap_or(text.len());
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with("<!--") {
            let end = i + text[i..].find("-->").expect("closed") + 3;
            if end <= root_start {
                // Before the root: the comment and the line feed after it.
                i = end + 1;
                continue;
            }
            if i >= root_end {
                // After the root: the line feed before it was already copied; take it back.
                assert_eq!(out.pop(), Some('\n'));
            }
            i = end;
            continue;
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out.into_bytes()
}

fn first_element(text: &str) -> usize {
    let mut i = 0;
    while let Some(at) = text[i..].find('<') {
        let at = i + at;
        if !text[at..].starts_with("<!--") && !text[at..].starts_with("<?") {
            return at;
        }
        i = at + 1;
    }
    text.len()
}

fn cases() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = Vec::new();
    for folder in [
        manifest.join("test_data/c14n"),
        manifest.join("test_data/ceb"),
    ] {
        let entries =
            std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn canonical_xml_matches_libxml2_on_every_sample_and_tricky_case() {
    let files = cases();
    assert!(
        files.len() >= 11,
        "the cases and the 5 shared samples: {files:?}"
    );
    for file in files {
        let input = std::fs::read(&file).unwrap();
        let expected = xmllint_c14n(&file);
        let with = dsig::c14n::canonicalize_with_comments(&input)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            String::from_utf8_lossy(&with),
            String::from_utf8_lossy(&expected),
            "{} with comments",
            file.display()
        );
        let without = dsig::canonicalize(&input).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&without),
            String::from_utf8_lossy(&without_comments(&expected)),
            "{} without comments",
            file.display()
        );
    }
}
