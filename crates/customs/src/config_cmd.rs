//! `customs config check` and `customs config show`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Problem, Problems, Resolved, Source};

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration (file, environment and the global flags), including that the TLS
    /// certificate and key load: prints every problem and exits 1, or says it is fine.
    Check,
    /// Print the effective configuration as TOML, each value with where it came from; secrets
    /// (the metrics token) redacted.
    Show,
}

pub fn run(
    file: Option<&Path>,
    resolved: Result<Resolved, Problems>,
    command: ConfigCommand,
) -> ExitCode {
    let resolved = resolved.and_then(|resolved| {
        // What `serve` would find at start, beyond each value's own check.
        match resolved.config.tls_files() {
            Some(files) => match http_api::Tls::from_files(files) {
                Ok(_) => Ok(resolved),
                Err(error) => Err(Problems(vec![Problem {
                    key: "tls".into(),
                    value: String::new(),
                    source: tls_source(&resolved),
                    why: error.to_string(),
                    why_zh: "TLS 证书或私钥无法使用".into(),
                }])),
            },
            None => Ok(resolved),
        }
    });
    match (resolved, command) {
        (Err(problems), _) => {
            eprint!("{problems}");
            ExitCode::FAILURE
        }
        (Ok(_), ConfigCommand::Check) => {
            match file {
                Some(file) => {
                    println!("the configuration is valid ({}) / 配置有效", file.display())
                }
                None => println!(
                    "the configuration is valid (no file: environment and defaults) / 配置有效"
                ),
            }
            ExitCode::SUCCESS
        }
        (Ok(resolved), ConfigCommand::Show) => {
            print!("{}", crate::config::show(&resolved));
            ExitCode::SUCCESS
        }
    }
}

fn tls_source(resolved: &Resolved) -> Option<Source> {
    resolved
        .values
        .iter()
        .find(|(key, _, _)| key.name == "tls.certificate")
        .map(|(_, _, source)| source.clone())
}
