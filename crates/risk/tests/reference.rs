//! `docs/rule-reference.md` is generated from the catalogue (`risk::reference::markdown`): this
//! test fails when the committed file differs, so the analysts' reference cannot drift from what a
//! rule is checked against. `UPDATE_RULE_REFERENCE=1 cargo test -p risk --test reference` writes
//! it anew.

use std::path::PathBuf;

#[test]
fn the_committed_rule_reference_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rule-reference.md");
    let generated = risk::reference::markdown();
    if std::env::var_os("UPDATE_RULE_REFERENCE").is_some() {
        std::fs::write(&path, &generated).expect("docs/rule-reference.md is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(generated.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "docs/rule-reference.md differs from the catalogue (first at line {line}): run \
             `UPDATE_RULE_REFERENCE=1 cargo test -p risk --test reference` and commit the file"
        );
    }
}
