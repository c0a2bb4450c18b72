#![allow(clippy::expect_used)] // cargo always sets the variables read here; a build script reports failure by panicking

//! Builds the XDP program (`ebpf/sensor.bpf.c`) with the rule of `ebpf/Makefile`, so that the
//! compiler flags live in one place, into `OUT_DIR/sensor.bpf.o`, which `src/xdp.rs` embeds.
//!
//! Without `clang-19` (or `make`) the object is left empty and the build goes on with a
//! warning: the sensor then says, when asked for AF_XDP, that it was built without its XDP
//! program, and `auto` capture takes AF_PACKET. `make setup` installs `clang-19` and
//! `libbpf-dev`, so release builds always carry the program.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ebpf = manifest.join("../../ebpf");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("sensor.bpf.o");
    for input in ["sensor.bpf.c", "sensor_maps.h", "Makefile"] {
        println!("cargo:rerun-if-changed={}", ebpf.join(input).display());
    }
    let built =
        Command::new("make").arg("-s").arg("-C").arg(&ebpf).arg(format!("OBJ={}", out.display())).arg(&out).status();
    match built {
        Ok(status) if status.success() => {}
        failed => {
            println!(
                "cargo:warning=the XDP program was not built ({}): this sensor will capture with AF_PACKET only; \
                 `make setup` installs clang-19 and libbpf-dev",
                match failed {
                    Ok(status) => format!("make -C ebpf: {status}"),
                    Err(e) => format!("make: {e}"),
                }
            );
            std::fs::write(&out, []).expect("OUT_DIR is writable");
        }
    }
}
