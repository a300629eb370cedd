use super::*;

const EXAMPLE: &str = include_str!("../../../examples/declaration-import.json");

#[test]
fn the_example_round_trips() {
    let dto: DeclarationDto = serde_json::from_str(EXAMPLE).unwrap();
    let xml = render_declaration(&dto, Some("LRN-1"));
    let back = parse_declaration(xml.as_bytes()).unwrap();
    assert_eq!(back.problems, vec![], "{xml}");
    assert_eq!(back.declaration, dto, "{xml}");
    assert_eq!(back.functional_reference.as_deref(), Some("LRN-1"));
}
