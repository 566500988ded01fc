//! The greenledger command: parse arguments, run the library, map the outcome to an exit code.

use clap::Parser;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let cli = greenledger::cli::Cli::parse();
    let code = match greenledger::run(cli, &argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("greenledger: error: {e}");
            2
        }
    };
    std::process::exit(code);
}
