//! The dependency direction of ARCHITECTURE.md, enforced: the pure core has no I/O, async,
//! database or HTTP below it, and does not itself depend on serde or on an edge crate.

use std::collections::{BTreeSet, HashMap, HashSet};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};

const CORE_CRATES: [&str; 6] = ["reference", "domain", "audit", "tariff", "risk", "model"];
/// Crates whose presence anywhere below a core crate (in the resolved build) means it gained I/O,
/// async, a database or HTTP.
const FORBIDDEN_BELOW: [&str; 13] = [
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
