//! SM2 vectors for a cross-check with an independent implementation (PyPI's `gmssl`, by
//! `tools/gmssl_cross_check.py`):
//!
//! - no argument: signs a CEB sample with a test identity and prints, one per line, the private
//!   key, the public key (x‖y), the canonical SignedInfo and its SignatureValue (r‖s), in hex;
//! - `verify PUBLIC MESSAGE SIGNATURE` (hex): verifies an SM2-SM3 signature (distinguishing
//!   identifier 1234567812345678) made elsewhere, with this crate's table-driven verification,
//!   and prints `valid` or `invalid`.
use sm2::pkcs8::DecodePrivateKey;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("verify") {
        let decode =
            |i: usize| hex::decode(args.get(i).map_or("", String::as_str)).unwrap_or_default();
        let (public, message, signature) = (decode(1), decode(2), decode(3));
        let valid = dsig::verify_sm2(&public, &message, &signature).unwrap_or(false);
        println!("{}", if valid { "valid" } else { "invalid" });
        return;
    }
    let identity = dsig::Identity::generate("Cross-check 交叉验证", b"gmssl").expect("identity");
    let document = include_bytes!("../test_data/ceb/CEB411Message.xml");
    let signed = dsig::sign(document, &identity).expect("signs");
    let signed_info = dsig::c14n::signed_info(&signed)
        .expect("reads")
        .expect("has SignedInfo");
    let text = String::from_utf8_lossy(&signed);
    let value = text
        .split("<ds:SignatureValue>")
        .nth(1)
        .and_then(|rest| rest.split("</ds:SignatureValue>").next())
        .expect("a SignatureValue");
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("base64");
    let secret =
        sm2::SecretKey::from_pkcs8_der(&identity.private_key_der().expect("key")).expect("PKCS#8");
    let public = identity.registered_key().public_key_sec1();
    println!("{}", hex::encode(secret.to_bytes()));
    println!("{}", hex::encode(&public[1..]));
    println!("{}", hex::encode(&signed_info));
    println!("{}", hex::encode(signature));
}
