//! The greenledger command: parse arguments, run the library, map the outcome to an exit code.

use clap::Parser;

fn main() {
    // args_os: a path that is not UTF-8 must reach clap (which reports or accepts it), not panic
    // here. The manifest records the command as text; such an argument is written lossily.
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv: Vec<String> = raw
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = greenledger::cli::Cli::parse_from(&raw);
    let code = match greenledger::run(cli, &argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("greenledger: error: {e}");
            2
        }
    };
    std::process::exit(code);
}
