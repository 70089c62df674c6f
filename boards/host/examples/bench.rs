//! `cargo run -p mote-boards --example bench -- BLOB BOARD [--json]`: what `mote bench` prints,
//! without the CLI.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(blob), Some(board)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench BLOB BOARD [--json]");
        return std::process::ExitCode::from(2);
    };
    let bytes = match std::fs::read(blob) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: {blob}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match mote_boards::bench(board, &bytes, None) {
        Ok(report) if args.iter().any(|a| a == "--json") => println!("{}", report.to_json()),
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
