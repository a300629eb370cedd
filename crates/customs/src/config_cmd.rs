//! `customs config check` and `customs config show`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Problem, Problems, Resolved, Source};

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration (file, environment and the global flags), including that the TLS
    /// certificate and key load, and that the client's token file is private and its CA file
    /// holds certificates: prints every problem and exits 1, or says it is fine.
    Check,
    /// Print the effective configuration as TOML, each value with where it came from; secrets
    /// (the metrics token) redacted.
    Show,
}

/// A check of a file a setting names.
type FileCheck = fn(&Path) -> anyhow::Result<()>;

pub fn run(
    file: Option<&Path>,
    resolved: Result<Resolved, Problems>,
    command: ConfigCommand,
) -> ExitCode {
    let resolved = resolved.and_then(|resolved| {
        // What `serve` and the desk commands would find, beyond each value's own check.
        let mut problems = Vec::new();
        if let Some(files) = resolved.config.tls_files()
            && let Err(error) = http_api::Tls::from_files(files)
        {
            problems.push(Problem {
                key: "tls".into(),
                value: String::new(),
                source: source_of(&resolved, "tls.certificate"),
                why: error.to_string(),
                why_zh: "TLS 证书或私钥无法使用".into(),
            });
        }
        let file_source = file.map(|file| Source::File(file.to_path_buf()));
        // A value from the chosen profile is checked with every profile below.
        let from_profile =
            |key: &str| matches!(source_of(&resolved, key), Some(Source::Profile { .. }));
        let client = &resolved.config.client;
        if let Some(path) = &client.token_file
            && !from_profile("client.token_file")
            && let Err(error) = crate::remote::read_token_file(path)
        {
            problems.push(Problem {
                key: "client.token_file".into(),
                value: path.display().to_string(),
                source: source_of(&resolved, "client.token_file"),
                why: format!("{error:#}"),
                why_zh: "令牌文件无法使用".into(),
            });
        }
        if let Some(path) = &client.ca_file
            && !from_profile("client.ca_file")
            && let Err(error) = crate::remote::read_ca_file(path)
        {
            problems.push(Problem {
                key: "client.ca_file".into(),
                value: path.display().to_string(),
                source: source_of(&resolved, "client.ca_file"),
                why: format!("{error:#}"),
                why_zh: "CA 证书文件无法使用".into(),
            });
        }
        // Every profile's files, not only the chosen one's: a broken profile is found before the
        // day it is used.
        for (name, profile) in &resolved.profiles {
            let file = |key: &str| profile.get(key).and_then(|v| v.as_str()).map(PathBuf::from);
            let checks: [(&str, Option<PathBuf>, FileCheck); 2] = [
                ("token_file", file("client.token_file"), |p| {
                    crate::remote::read_token_file(p).map(drop)
                }),
                ("ca_file", file("client.ca_file"), |p| {
                    crate::remote::read_ca_file(p).map(drop)
                }),
            ];
            for (short, path, check) in checks {
                if let Some(path) = path
                    && let Err(error) = check(&path)
                {
                    problems.push(Problem {
                        key: format!("profiles.{name}.{short}"),
                        value: path.display().to_string(),
                        source: file_source.clone(),
                        why: format!("{error:#}"),
                        why_zh: "配置档中的文件无法使用".into(),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(Problems(problems))
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

fn source_of(resolved: &Resolved, key: &str) -> Option<Source> {
    resolved
        .values
        .iter()
        .find(|(k, _, _)| k.name == key)
        .map(|(_, _, source)| source.clone())
}
