//! This crate's SM2-SM3 against an independent implementation, OpenSSL 3's (the `openssl`
//! command of Debian's openssl package, on this machine and CI's), both ways: OpenSSL checks the
//! self-signed certificate and a SignatureValue made here; a signature OpenSSL makes over a
//! message's canonical SignedInfo verifies here, in a whole message (as DER).

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const DISTID: &str = "distid:1234567812345678";

fn openssl(args: &[&str], folder: &Path) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(folder)
        .output()
        .expect("openssl runs (Debian's openssl package)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// r‖s as DER, as OpenSSL reads an SM2 signature.
fn der(raw: &[u8]) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let bytes: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0x02];
        if bytes[0] & 0x80 != 0 {
            out.extend([bytes.len() as u8 + 1, 0]);
        } else {
            out.push(bytes.len() as u8);
        }
        out.extend(bytes);
        out
    };
    let mut body = integer(&raw[..32]);
    body.extend(integer(&raw[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn openssl_and_dsig_accept_each_others_sm2_sm3_signatures() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let identity = dsig::Identity::generate("OpenSSL 交叉验证", b"openssl").unwrap();
    std::fs::write(dir.join("cert.pem"), identity.certificate_pem().unwrap()).unwrap();
    std::fs::write(dir.join("key.pem"), identity.private_key_pem().unwrap()).unwrap();

    // The certificate: SM2-SM3 self-signature with the default distinguishing identifier.
    let (ok, said) = openssl(&["verify", "-CAfile", "cert.pem", "cert.pem"], dir);
    assert!(ok, "openssl verify: {said}");
    let (ok, said) = openssl(
        &[
            "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem",
        ],
        dir,
    );
    assert!(ok, "{said}");

    // A signed CEB message: OpenSSL checks its SignatureValue over the canonical SignedInfo.
    let signed = dsig::sign(
        include_bytes!("../test_data/ceb/CEB311Message.xml"),
        &identity,
    )
    .unwrap();
    let text = String::from_utf8(signed.clone()).unwrap();
    let value = text
        .split("<ds:SignatureValue>")
        .nth(1)
        .and_then(|rest| rest.split("</ds:SignatureValue>").next())
        .unwrap();
    let signed_info = dsig::c14n::signed_info(&signed).unwrap().unwrap();
    std::fs::write(dir.join("signed_info"), &signed_info).unwrap();
    std::fs::write(dir.join("ours.der"), der(&STANDARD.decode(value).unwrap())).unwrap();
    let verify = |message: &str, signature: &str| {
        openssl(
            &[
                "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-digest", "sm3",
                "-pkeyopt", DISTID, "-in", message, "-sigfile", signature,
            ],
            dir,
        )
    };
    let (ok, said) = verify("signed_info", "ours.der");
    assert!(ok, "openssl refuses dsig's signature: {said}");
    let mut changed = signed_info.clone();
    changed.push(b' ');
    std::fs::write(dir.join("changed"), &changed).unwrap();
    assert!(
        !verify("changed", "ours.der").0,
        "openssl accepts a changed SignedInfo"
    );

    // OpenSSL signs the same SignedInfo: dsig verifies it in the message.
    let (ok, said) = openssl(
        &[
            "pkeyutl",
            "-sign",
            "-inkey",
            "key.pem",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            DISTID,
            "-in",
            "signed_info",
            "-out",
            "theirs.der",
        ],
        dir,
    );
    assert!(ok, "openssl sign: {said}");
    let theirs = std::fs::read(dir.join("theirs.der")).unwrap();
    let public = identity.registered_key().public_key_sec1();
    assert_eq!(dsig::verify_sm2(&public, &signed_info, &theirs), Some(true));
    assert_eq!(dsig::verify_sm2(&public, &changed, &theirs), Some(false));
    let document = text.replacen(value, &STANDARD.encode(&theirs), 1);
    let verified = identity
        .registered_key()
        .verify(document.as_bytes())
        .unwrap();
    assert_eq!(verified.encoding, dsig::SignatureEncoding::Der);
}
