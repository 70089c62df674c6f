//! Host throughput of the int8 fully connected kernels (`cargo bench -p mote-runtime`).
//!
//! Every kernel the host can run, on the sizes of the kernel issue: single layers 64x64,
//! 256x256 and 784x128, and the 32-16-4 MLP. Criterion reports elements per second, where an
//! element is one multiply-accumulate, so "Melem/s" reads as million MACs per second. The Arm
//! DSP kernels run here with their instructions emulated (a correctness aid, not a speed
//! figure); their real speed is `mote bench --kernels` under QEMU.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_runtime::kernels::layout::{pack_row_quads, packed_len};
use mote_runtime::kernels::{self, FullyConnectedView};
use mote_runtime::manifest::WeightLayout;
use std::hint::black_box;

type Kernel = fn(&FullyConnectedView<'_>, &[i8], &mut [i8]);

/// One random layer's tensors (deterministic), in both layouts.
struct Layer {
    rows: usize,
    cols: usize,
    row_major: Vec<i8>,
    row_quads: Vec<i8>,
    bias: Vec<u8>,
    multipliers: Vec<u8>,
    shifts: Vec<u8>,
}

impl Layer {
    fn new(cols: usize, rows: usize, seed: u64) -> Layer {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let row_major: Vec<i8> = (0..rows * cols)
            .map(|_| ((next() % 255) as i32 - 127) as i8)
            .collect();
        let mut row_quads = vec![0i8; packed_len(WeightLayout::RowQuads, rows, cols).unwrap_or(0)];
        pack_row_quads(&row_major, rows, cols, &mut row_quads);
        let le = |v: i32| v.to_le_bytes();
        Layer {
            rows,
            cols,
            row_major,
            row_quads,
            bias: (0..rows)
                .flat_map(|_| le((next() % 20_000) as i32 - 10_000))
                .collect(),
            multipliers: (0..rows)
                .flat_map(|_| le((1 << 30) + (next() % (1 << 29)) as i32))
                .collect(),
            shifts: (0..rows)
                .map(|_| (-(8 + (next() % 4) as i8)) as u8)
                .collect(),
        }
    }

    fn view(&self, layout: WeightLayout) -> FullyConnectedView<'_> {
        FullyConnectedView {
            weights: match layout {
                WeightLayout::RowQuads => &self.row_quads,
                _ => &self.row_major,
            },
            layout,
            symmetric_weights: true,
            small_scales: mote_runtime::kernels::small_scales(&self.shifts),
            bias: &self.bias,
            multipliers: &self.multipliers,
            shifts: &self.shifts,
            input_len: self.cols,
            output_offset: -128,
            activation_min: -128,
            activation_max: 127,
        }
    }
}

fn kernels() -> Vec<(&'static str, Kernel, WeightLayout)> {
    let mut all: Vec<(&'static str, Kernel, WeightLayout)> = vec![
        (
            "portable",
            kernels::reference::fully_connected,
            WeightLayout::RowMajor,
        ),
        (
            "portable-row-quads",
            kernels::reference::fully_connected_row_quads,
            WeightLayout::RowQuads,
        ),
        (
            "helium-source",
            kernels::helium::fully_connected,
            WeightLayout::RowMajor,
        ),
    ];
    #[cfg(target_arch = "x86_64")]
    if kernels::x86_avx2::available() {
        all.push((
            "avx2",
            kernels::x86_avx2::fully_connected,
            WeightLayout::RowMajor,
        ));
    }
    all
}

fn fully_connected(c: &mut Criterion) {
    let sizes: [(&str, &[usize]); 4] = [
        ("64x64", &[64, 64]),
        ("256x256", &[256, 256]),
        ("784x128", &[784, 128]),
        ("32-16-4", &[32, 16, 4]),
    ];
    let mut group = c.benchmark_group("fully_connected");
    for (name, sizes) in sizes {
        let layers: Vec<Layer> = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| Layer::new(pair[0], pair[1], 7 + i as u64))
            .collect();
        let macs: usize = layers.iter().map(|l| l.rows * l.cols).sum();
        let widest = sizes.iter().copied().max().unwrap_or(0);
        let input: Vec<i8> = (0..widest).map(|i| (i * 37 % 251) as i8).collect();
        group.throughput(Throughput::Elements(macs as u64));
        for (kernel_name, kernel, layout) in kernels() {
            let views: Vec<FullyConnectedView<'_>> =
                layers.iter().map(|l| l.view(layout)).collect();
            group.bench_function(BenchmarkId::new(kernel_name, name), |b| {
                let (mut a, mut z) = (input.clone(), vec![0i8; widest]);
                b.iter(|| {
                    for view in &views {
                        let rows = view.bias.len() / 4;
                        kernel(view, &a[..view.input_len], &mut z[..rows]);
                        std::mem::swap(&mut a, &mut z);
                    }
                    black_box(&a);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, fully_connected);
criterion_main!(benches);
