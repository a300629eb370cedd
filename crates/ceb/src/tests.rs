use super::*;

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/test_data/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

#[test]
fn debug_samples() {
    for name in ["CEB311Message.xml", "CEB411Message.xml", "CEB511Message.xml", "CEB621Message.xml"] {
        match parse(&sample(name)) {
            Ok(m) => println!("{name}: ok {:?} {}", m.message_type(), m.guid()),
            Err(r) => {
                println!("{name}: refused schema_valid={} {}", r.schema_valid, r.errors.len());
                for e in r.errors.iter().take(8) {
                    println!("  {e}");
                }
            }
        }
    }
}
