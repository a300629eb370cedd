//! `customs ceb keygen | sign | verify`: an enterprise's side of the CEB messages' SM2-SM3
//! enveloped signature (crate `dsig`), for tests, demos and trying the e-port's format by hand.
//! No store is opened.
//!
//! `keygen` makes an SM2 key from 32 random bytes and a self-signed certificate of it: what the
//! platform registers for an enterprise in tests. A real enterprise's certificate is issued by the
//! e-port's CA; `sign` takes it, with its key, as PEM.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Subcommand;
use rand::RngCore;

/// The files `keygen` writes into its folder.
pub const KEY_FILE: &str = "key.pem";
pub const CERTIFICATE_FILE: &str = "cert.pem";

#[derive(Subcommand)]
pub enum CebCommand {
    /// Make an SM2 key and a self-signed SM2-SM3 certificate for an enterprise: DIR/key.pem
    /// (PKCS#8, readable by its owner only) and DIR/cert.pem. Prints the certificate's serial.
    Keygen {
        /// The certificate's common name (the enterprise's name).
        #[arg(long)]
        name: String,
        /// Folder to write key.pem and cert.pem into (created; existing files are not replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Sign a CEB message (replacing a signature it has) and print the signed message.
    Sign {
        /// The private key, PKCS#8 PEM.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The key's certificate, PEM.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The CEB message (XML, UTF-8).
        file: PathBuf,
    },
    /// Verify a CEB message's signature against an enterprise's registered certificate.
    Verify {
        /// The registered certificate, PEM.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The signed CEB message.
        file: PathBuf,
    },
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    String::from_utf8(read(path, what)?)
        .map_err(|_| anyhow!("the {what} {} is not UTF-8 text", path.display()))
}

fn bilingual(en: String, zh: String) -> anyhow::Error {
    anyhow!("{en} / {zh}")
}

fn write_new(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Makes the key and certificate in `out`; gives the identity made.
pub fn keygen(name: &str, out: &Path) -> anyhow::Result<dsig::Identity> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let identity = dsig::Identity::generate(name, &seed).map_err(|e| {
        let (en, zh) = e.messages();
        bilingual(en, zh)
    })?;
    let pem = |r: Result<String, dsig::CertificateError>| {
        r.map_err(|e| {
            let (en, zh) = e.messages();
            bilingual(en, zh)
        })
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_new(
        &out.join(KEY_FILE),
        pem(identity.private_key_pem())?.as_bytes(),
        true,
    )?;
    write_new(
        &out.join(CERTIFICATE_FILE),
        pem(identity.certificate_pem())?.as_bytes(),
        false,
    )?;
    Ok(identity)
}

/// The signed message.
pub fn sign(key: &Path, cert: &Path, file: &Path) -> anyhow::Result<Vec<u8>> {
    let identity = dsig::Identity::from_pem(
        &read_text(key, "private key")?,
        &read_text(cert, "certificate")?,
    )
    .map_err(|e| {
        let (en, zh) = e.messages();
        bilingual(en, zh)
    })?;
    dsig::sign(&read(file, "message")?, &identity).map_err(|e| {
        let (en, zh) = e.messages();
        bilingual(
            format!("{}: {en}", file.display()),
            format!("{}：{zh}", file.display()),
        )
    })
}

/// Verifies; the refusal names the element and says why, in both languages.
pub fn verify(cert: &Path, file: &Path) -> anyhow::Result<dsig::Verified> {
    let registered = dsig::RegisteredKey::from_certificate_pem(&read_text(cert, "certificate")?)
        .map_err(|e| {
            let (en, zh) = e.messages();
            bilingual(en, zh)
        })?;
    registered.verify(&read(file, "message")?).map_err(|e| {
        let (en, zh) = e.messages();
        bilingual(
            format!("{} {}: {en} ({})", file.display(), e.path(), e.code()),
            format!("{} {}：{zh}", file.display(), e.path()),
        )
    })
}

pub fn run(command: CebCommand) -> anyhow::Result<()> {
    match command {
        CebCommand::Keygen { name, out } => {
            let identity = keygen(&name, &out)?;
            println!(
                "{} {} ({}, {})",
                identity.registered_key().serial(),
                identity.registered_key().subject(),
                out.join(KEY_FILE).display(),
                out.join(CERTIFICATE_FILE).display()
            );
        }
        CebCommand::Sign { key, cert, file } => {
            let signed = sign(&key, &cert, &file)?;
            std::io::stdout().write_all(&signed)?;
        }
        CebCommand::Verify { cert, file } => {
            let verified = verify(&cert, &file)?;
            println!(
                "verified / 验签通过: SM3 {} (key name {})",
                hex::encode(verified.digest),
                verified.key_name.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <ceb:CEB311Message xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" version=\"1.0\">\n\
        \t<ceb:Order><ceb:OrderHead><ceb:goodsValue>2000.00</ceb:goodsValue></ceb:OrderHead></ceb:Order>\n\
        </ceb:CEB311Message>\n";

    #[test]
    fn keygen_then_sign_then_verify_and_a_tampered_message_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let out = folder.path().join("enterprise");
        keygen("测试企业 Test Enterprise", &out).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second keygen into the same folder replaces nothing.
        assert!(keygen("other", &out).is_err());

        let message = folder.path().join("order.xml");
        std::fs::write(&message, ORDER).unwrap();
        let signed = sign(&out.join(KEY_FILE), &out.join(CERTIFICATE_FILE), &message).unwrap();
        let signed_file = folder.path().join("signed.xml");
        std::fs::write(&signed_file, &signed).unwrap();
        verify(&out.join(CERTIFICATE_FILE), &signed_file).unwrap();

        let tampered = String::from_utf8(signed)
            .unwrap()
            .replace("2000.00", "20.00");
        std::fs::write(&signed_file, tampered).unwrap();
        let error = verify(&out.join(CERTIFICATE_FILE), &signed_file)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("digest_mismatch") && error.contains("签名后被改动"),
            "{error}"
        );
    }
}
