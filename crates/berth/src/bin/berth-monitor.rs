//! `berth-monitor`: see the `berth-monitor` crate. Kept a separate, small
//! executable because one runs per container.
fn main() {
    std::process::exit(berth_monitor::main());
}
