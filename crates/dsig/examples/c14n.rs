//! Prints the canonical form (C14N 1.0, with comments when `--with-comments` comes first) of a
//! file, to compare by hand with `xmllint --c14n`.
fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let with_comments = args.first().is_some_and(|a| a == "--with-comments");
    if with_comments {
        args.remove(0);
    }
    let Some(path) = args.first() else {
        eprintln!("usage: c14n [--with-comments] FILE");
        std::process::exit(2);
    };
    let input = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    let result = if with_comments {
        dsig::c14n::canonicalize_with_comments(&input)
    } else {
        dsig::canonicalize(&input)
    };
    match result {
        Ok(bytes) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&bytes);
        }
        Err(e) => {
            let (en, zh) = e.messages();
            eprintln!("{en} / {zh}");
            std::process::exit(1);
        }
    }
}
