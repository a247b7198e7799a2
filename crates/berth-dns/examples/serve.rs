//! Demo: run the resolver for one network namespace until killed.
//!
//!     cargo run -p berth-dns --example serve -- /run/netns/NAME dns.json [ADDR]
//!
//! ADDR defaults to 127.0.0.11:53 inside the namespace (its `lo` must be
//! up). Query it with the `query` example under `ip netns exec NAME`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: serve NETNS CONFIG [ADDR]");
        return ExitCode::from(2);
    }
    let addr = match args.get(2).map(|a| a.parse()) {
        None => berth_dns::LISTEN,
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            eprintln!("serve: bad address {}: {e}", args[2]);
            return ExitCode::from(2);
        }
    };
    let started = berth_dns::bind_in_at(Path::new(&args[0]), addr)
        .and_then(|s| berth_dns::serve(s, PathBuf::from(&args[1])));
    if let Err(e) = started {
        eprintln!("serve: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("serving {addr} in {}", args[0]);
    loop {
        std::thread::park();
    }
}
