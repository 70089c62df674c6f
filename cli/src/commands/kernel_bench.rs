//! `mote bench --kernels`: the fully connected kernels on generated layers, per core.
//!
//! For each emulated board and each size, a deterministic random int8 model is exported with
//! the weight layout of the board's kernel ([`Target::for_build`]) and run under QEMU with
//! `-icount shift=0` ([`mote_boards::bench`]); the table gives instructions per inference and per
//! MAC. On the host, the same layers run through the portable reference and the AVX2 kernel,
//! timed, for MAC/s.

use super::Result;
use mote_boards::Board;
use mote_exporter::synthetic::random_mlp;
use mote_exporter::{build_for, ProvenanceInfo, Target};
use mote_runtime::kernels::{self, FullyConnectedView};
use mote_runtime::{Layer, Model};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Boards measured when none are named.
pub const DEFAULT_BOARDS: &str = "qemu-m4,qemu-m33,qemu-m55";
/// Sizes measured when none are named: single layers `INxOUT` and MLPs `A-B-C`.
pub const DEFAULT_SIZES: &str = "64x64,256x256,784x128,32-16-4";

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    /// The size as given (`784x128`, `32-16-4`).
    pub size: String,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// The board.
    pub board: String,
    /// The kernel family the board's firmware runs (`arm-dsp`, `helium`, `portable`).
    pub kernel: String,
    /// Instructions per inference (mean over 16 rows), parse excluded.
    pub instructions: f64,
    /// `instructions / macs`.
    pub instructions_per_mac: f64,
}

/// Host throughput of one kernel on one size.
#[derive(Debug, Clone, Serialize)]
pub struct HostRow {
    /// The size as given.
    pub size: String,
    /// `portable` or `avx2`.
    pub kernel: String,
    /// Multiply-accumulates per second, over all fully connected layers of the model.
    pub macs_per_second: f64,
}

/// Parses `784x128` (one layer, no activation) or `32-16-4` (an MLP with ReLU between layers)
/// into the layer sizes.
pub fn parse_size(size: &str) -> Result<Vec<usize>> {
    let parts: Vec<&str> = if size.contains('x') {
        size.split('x').collect()
    } else {
        size.split('-').collect()
    };
    let sizes: Vec<usize> = parts
        .iter()
        .map(|p| p.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("bad size `{size}`: use IN x OUT (784x128) or an MLP (32-16-4)"))?;
    if sizes.len() < 2 {
        return Err(format!(
            "bad size `{size}`: give at least an input and an output length"
        ));
    }
    Ok(sizes)
}

/// The generated model of `sizes` for `target`.
fn blob_for(sizes: &[usize], target: Target) -> Result<Vec<u8>> {
    let provenance = ProvenanceInfo {
        source: format!("mote bench --kernels {sizes:?}"),
        ..Default::default()
    };
    build_for(&random_mlp(sizes, 7), &provenance, target).map_err(|e| e.to_string())
}

/// Runs every size on every board under QEMU; with `keep`, writes each generated blob there
/// (`<size>-<kernel>.mote`) so that `mote bench <blob> --board ...` can look at its layers.
pub fn device_table(
    boards: &[String],
    sizes: &[String],
    keep: Option<&Path>,
) -> Result<Vec<DeviceRow>> {
    let mut rows = Vec::new();
    for name in boards {
        let board = Board::load(name).map_err(|e| e.to_string())?;
        let target = Target::for_build(&board.target, &board.rustflags);
        for size in sizes {
            eprintln!("  {name}: {size} ({} kernel) ...", target.kernel_name());
            let blob = blob_for(&parse_size(size)?, target)?;
            if let Some(dir) = keep {
                let path = dir.join(format!("{size}-{}.mote", target.kernel_name()));
                super::write_file(&path, &blob)?;
            }
            let report = mote_boards::bench(name, &blob, None).map_err(|e| e.to_string())?;
            rows.push(DeviceRow {
                size: size.clone(),
                macs: report.macs,
                board: name.clone(),
                kernel: target.kernel_name().to_string(),
                instructions: report.inference_instructions,
                instructions_per_mac: report.instructions_per_mac,
            });
        }
    }
    Ok(rows)
}

/// Times the portable reference and (when the CPU has it) the AVX2 kernel on every size.
pub fn host_table(sizes: &[String]) -> Result<Vec<HostRow>> {
    let mut rows = Vec::new();
    for size in sizes {
        let blob = blob_for(&parse_size(size)?, Target::Portable)?;
        let model = Model::parse(&blob).map_err(|e| e.to_string())?;
        let layers: Vec<FullyConnectedView<'_>> = model
            .layers()
            .filter_map(|layer| match layer {
                Layer::FullyConnected(fc) => model.fully_connected_view(&fc).ok(),
                _ => None,
            })
            .collect();
        let macs: u64 = model.macs();
        let mut kernels: Vec<(&str, Kernel)> =
            vec![("portable", kernels::reference::fully_connected)];
        #[cfg(target_arch = "x86_64")]
        if kernels::x86_avx2::available() {
            kernels.push(("avx2", kernels::x86_avx2::fully_connected));
        }
        for (name, kernel) in kernels {
            let per_inference = time(&layers, kernel);
            rows.push(HostRow {
                size: size.clone(),
                kernel: name.to_string(),
                macs_per_second: macs as f64 / per_inference.as_secs_f64(),
            });
        }
    }
    Ok(rows)
}

type Kernel = fn(&FullyConnectedView<'_>, &[i8], &mut [i8]);

/// Time of one pass through `layers`, each run on a fixed input: the best of 7 trials of
/// about 40 ms each (the minimum is the figure least disturbed by other work on the machine).
fn time(layers: &[FullyConnectedView<'_>], kernel: Kernel) -> Duration {
    let widest = layers
        .iter()
        .map(|l| l.input_len.max(l.bias.len() / 4))
        .max()
        .unwrap_or(0);
    let input: Vec<i8> = (0..widest).map(|i| (i * 37 % 251) as i8).collect();
    let mut output = vec![0i8; widest];
    let mut pass = || {
        for layer in layers {
            kernel(
                layer,
                &input[..layer.input_len],
                &mut output[..layer.bias.len() / 4],
            );
            std::hint::black_box(&mut output);
        }
    };
    (0..7)
        .map(|_| {
            let start = Instant::now();
            let mut passes = 0u32;
            while start.elapsed() < Duration::from_millis(40) || passes < 3 {
                pass();
                passes += 1;
            }
            start.elapsed() / passes
        })
        .min()
        .unwrap_or_default()
}

/// The runtime's flash footprint on every board (see [`mote_boards::footprint`]), built with
/// only the weight layout the board's kernel reads, as an MLP firmware for it would be: once
/// with every MLP op (softmax included) and once without the softmax kernel (an MLP of fully
/// connected layers with fused activations, logistic and tanh, like the 32-16-4 benchmark).
pub fn footprints(boards: &[String]) -> Result<Vec<mote_boards::Footprint>> {
    let mut all = Vec::new();
    for name in boards {
        eprintln!("  {name}: footprint probe with and without the runtime ...");
        let board = Board::load(name).map_err(|e| e.to_string())?;
        let layout = match Target::for_build(&board.target, &board.rustflags).weight_layout() {
            mote_runtime::manifest::WeightLayout::RowQuads => "row-quads",
            _ => "row-major",
        };
        for features in [&[layout, "softmax"][..], &[layout][..]] {
            all.push(mote_boards::footprint(name, features).map_err(|e| e.to_string())?);
        }
    }
    Ok(all)
}

/// What a footprint's runtime build can run, from its features.
fn footprint_scope(features: &[String]) -> &'static str {
    if features.iter().any(|f| f == "softmax") {
        "every MLP op"
    } else {
        "MLP ops but softmax"
    }
}

/// The table as text.
pub fn render(
    devices: &[DeviceRow],
    host: &[HostRow],
    footprints: &[mote_boards::Footprint],
) -> String {
    let mut text = String::new();
    if !devices.is_empty() {
        text.push_str("instructions per inference (QEMU -icount shift=0, SysTick; not cycles):\n");
        text.push_str(&format!(
            "  {:<10} {:>8}  {:<9} {:<9} {:>12} {:>10}\n",
            "size", "MACs", "board", "kernel", "instructions", "instr/MAC"
        ));
        for row in devices {
            text.push_str(&format!(
                "  {:<10} {:>8}  {:<9} {:<9} {:>12.0} {:>10.3}\n",
                row.size,
                row.macs,
                row.board,
                row.kernel,
                row.instructions,
                row.instructions_per_mac
            ));
        }
    }
    if !footprints.is_empty() {
        text.push_str(
            "runtime flash for a firmware that runs an MLP blob (text + rodata, vectors and blob apart):\n",
        );
        for f in footprints {
            text.push_str(&format!(
                "  {:<9} {:>6} bytes ({:.1} KiB): parse, validation, {} ({})\n",
                f.board,
                f.runtime_bytes,
                f.runtime_bytes as f64 / 1024.0,
                footprint_scope(&f.features),
                f.features.join(", ")
            ));
        }
    }
    if !host.is_empty() {
        text.push_str("host throughput (this machine, one thread):\n");
        text.push_str(&format!(
            "  {:<10} {:<9} {:>14} {:>8}\n",
            "size", "kernel", "MAC/s", "speed-up"
        ));
        for row in host {
            let portable = host
                .iter()
                .find(|r| r.size == row.size && r.kernel == "portable")
                .map_or(row.macs_per_second, |r| r.macs_per_second);
            text.push_str(&format!(
                "  {:<10} {:<9} {:>14.3e} {:>7.1}x\n",
                row.size,
                row.kernel,
                row.macs_per_second,
                row.macs_per_second / portable
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_say_why() {
        assert_eq!(parse_size("784x128").unwrap(), vec![784, 128]);
        assert_eq!(parse_size("32-16-4").unwrap(), vec![32, 16, 4]);
        assert!(parse_size("784").unwrap_err().contains("at least"));
        assert!(parse_size("7x0").unwrap_err().contains("bad size"));
    }

    #[test]
    fn footprint_rows_say_whether_softmax_is_in() {
        let features = |list: &[&str]| list.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        assert_eq!(
            footprint_scope(&features(&["row-quads", "softmax"])),
            "every MLP op"
        );
        assert_eq!(
            footprint_scope(&features(&["row-major"])),
            "MLP ops but softmax"
        );
    }
}
