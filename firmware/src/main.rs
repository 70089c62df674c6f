//! `mote-firmware`: runs the `.mote` blob stored in the board's model partition on every input
//! row stored beside it, and reports the outputs, instruction ticks, and stack use over defmt.
//! An MLP blob reads rows of int8 values and reports int8 outputs; a sparse GP blob reads rows
//! of little-endian f32 features and reports, per output, its f32 mean and variance as 8
//! little-endian bytes; a recommender blob reads rows of item-id histories and reports the top
//! 10 item ids and scores.
//!
//! One build serves any blob: the model lives in a flash partition that `memory.x` reserves
//! (`_mote_partition_start .. _mote_partition_end`) and that the host writes separately. The
//! exit status (semihosting) is 0 on success and nonzero with a `mote: error:` line otherwise;
//! a corrupt or missing partition is an error, never a fault. Codes are listed in `README.md`.
#![no_std]
#![no_main]

mod clock;
mod marker;
mod runner;
mod stack;

// Links the single-core critical-section implementation that the defmt logger uses.
use cortex_m as _;
use cortex_m_rt::entry;
// The defmt transport: semihosting (QEMU) or RTT (real boards, read by probe-rs).
#[cfg(all(feature = "rtt", not(feature = "semihosting")))]
use defmt_rtt as _;
#[cfg(feature = "semihosting")]
use defmt_semihosting as _;
// Also links the panic and HardFault handlers (its feature `cortex-m`).
use mote_firmware_common::{
    check_gp_model, check_model, exit, partition::Partition, partition_region, read_partition,
    reject_blob, Capacity, EXIT_FIT, EXIT_OK, EXIT_RUN,
};
use mote_runtime::manifest::ModelKind;
use mote_runtime::moderation::Moderation;
use mote_runtime::recommend::{Recommendation, Recommender, MAX_REC_OUTPUT};
use mote_runtime::{AnyModel, GpModel, Model};

#[cfg(all(feature = "rtt", feature = "semihosting"))]
compile_error!("choose one defmt transport: feature `rtt` needs `--no-default-features`");
#[cfg(not(any(feature = "rtt", feature = "semihosting")))]
compile_error!("choose a defmt transport: feature `semihosting` (default) or `rtt`");

/// The RP2040 boot ROM loads these 256 bytes first; they set up execute-in-place flash.
#[cfg(feature = "rp2040-boot2")]
#[link_section = ".boot2"]
#[used]
static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// Scratch memory the firmware offers a model (its `arena_len` must fit).
pub const ARENA_CAPACITY: usize = 64 * 1024;
/// Largest model output the firmware holds.
pub const OUTPUT_CAPACITY: usize = 4096;

/// Most outputs of a GP blob the firmware holds (a mean and a variance each).
const GP_OUTPUTS: usize = 64;

/// Layers whose time `layer-timing` reports (deeper ones still run, untimed).
#[cfg(feature = "layer-timing")]
const TIMED_LAYERS: usize = 64;

/// The model's working memory and one output row.
/// The host reads this symbol's size from the ELF to report RAM without the unused capacity.
#[repr(C)]
struct Buffers {
    arena: [u8; ARENA_CAPACITY],
    output: [i8; OUTPUT_CAPACITY],
}

#[no_mangle]
static mut MOTE_BUFFERS: Buffers = Buffers {
    arena: [0; ARENA_CAPACITY],
    output: [0; OUTPUT_CAPACITY],
};

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => EXIT_OK,
        Err(status) => status,
    };
    exit(status)
}

/// Room for the misaligned copy of a blob (feature `misaligned-blob`).
#[cfg(feature = "misaligned-blob")]
const MISALIGNED_CAPACITY: usize = 256 * 1024;

/// Copies `blob` to one byte past a 4-byte boundary in RAM (feature `misaligned-blob`).
#[cfg(feature = "misaligned-blob")]
fn misaligned_copy(blob: &[u8]) -> Result<&'static [u8], i32> {
    #[repr(C, align(4))]
    struct Room([u8; MISALIGNED_CAPACITY + 1]);
    static mut ROOM: Room = Room([0; MISALIGNED_CAPACITY + 1]);
    // SAFETY: called once, from `run`; nothing else touches `ROOM`.
    let room = unsafe { &mut (*core::ptr::addr_of_mut!(ROOM)).0 };
    let Some(slot) = room.get_mut(1..1 + blob.len()) else {
        defmt::error!("mote: error: blob larger than the misaligned copy's room");
        return Err(EXIT_RUN);
    };
    slot.copy_from_slice(blob);
    Ok(slot)
}

/// Runs every row; Err is the exit status, after a `mote: error:` line.
fn run() -> Result<(), i32> {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        defmt::error!("mote: error: core peripherals already taken");
        return Err(EXIT_RUN);
    };
    clock::start(peripherals.SYST);

    // SAFETY: `run` is called once, from `main`, and nothing else (no interrupt handler) touches
    // `MOTE_BUFFERS`, so this is the only reference to it for the rest of the program.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(MOTE_BUFFERS) };

    let region = partition_region();
    let address = region.as_ptr() as u32;
    defmt::println!(
        "mote: board={=str} partition={=u32:#x} capacity={=u32}",
        env!("MOTE_BOARD"),
        address,
        region.len() as u32
    );
    let partition = read_partition(region, address)?;
    #[cfg(feature = "misaligned-blob")]
    let partition = {
        let mut partition = partition;
        partition.blob = misaligned_copy(partition.blob)?;
        partition
    };

    let start = clock::now();
    let parsed = AnyModel::parse(partition.blob);
    let parse_ticks = clock::now().wrapping_sub(start);
    let model = parsed.map_err(reject_blob)?;
    defmt::println!("mote: parse ticks={=u64}", parse_ticks);
    let capacity = Capacity {
        arena: ARENA_CAPACITY,
        output: OUTPUT_CAPACITY,
    };
    match model {
        AnyModel::Mlp(model) if model.manifest().kind == ModelKind::Moderation => {
            run_moderation(partition.blob, &partition, capacity, buffers)
        }
        AnyModel::Mlp(model) if model.manifest().kind == ModelKind::Recommender => {
            run_recommender(partition.blob, &partition, capacity, buffers)
        }
        AnyModel::Mlp(model) => run_mlp(&model, &partition, capacity, buffers),
        AnyModel::SparseGp(model) => run_gp(&model, &partition, capacity, buffers),
    }
}

/// Runs every row of an MLP blob.
fn run_mlp(
    model: &Model<'_>,
    partition: &Partition<'_>,
    capacity: Capacity,
    buffers: &mut Buffers,
) -> Result<(), i32> {
    check_model(model, partition, capacity)?;

    let mut layer_store: runner::LayerStore = [None; runner::DECODED_LAYERS];
    let runner = runner::Runner::new(model, &mut layer_store);
    let output = &mut buffers.output[..model.output_len()];
    #[cfg(feature = "layer-timing")]
    let mut layer_ticks = [0u64; TIMED_LAYERS];
    let mut run_ticks = 0u64;
    let rows = partition
        .rows
        .chunks_exact(partition.row_len as usize)
        .map(mote_runtime::kernels::bytes_as_i8);
    for (index, row) in rows.enumerate() {
        // With `layer-timing`, a clock read after each layer attributes ticks to layers (the
        // reads add a few instructions, so totals come from the build without it).
        let ((), ticks) = timed_row(index, |_start| {
            #[cfg(feature = "layer-timing")]
            {
                let mut previous = _start;
                runner.run_observed(row, &mut buffers.arena, output, |layer| {
                    let now = clock::now();
                    if let Some(slot) = layer_ticks.get_mut(layer) {
                        *slot = slot.wrapping_add(now.wrapping_sub(previous));
                    }
                    previous = now;
                })
            }
            #[cfg(not(feature = "layer-timing"))]
            runner.run_observed(row, &mut buffers.arena, output, |_| {})
        })?;
        run_ticks = run_ticks.wrapping_add(ticks);
        report_row(index, ticks, output);
    }
    #[cfg(feature = "layer-timing")]
    {
        for (index, layer) in model.layers().enumerate() {
            defmt::println!(
                "mote: layer={=u32} op={=str} ticks={=u64}",
                index as u32,
                layer.op_name(),
                layer_ticks.get(index).copied().unwrap_or(0)
            );
        }
    }
    finish(partition, run_ticks);
    Ok(())
}

/// Runs every row of a sparse GP blob: f32 features in, per output the mean and the variance
/// out as little-endian f32 bytes.
fn run_gp(
    model: &GpModel<'_>,
    partition: &Partition<'_>,
    capacity: Capacity,
    buffers: &mut Buffers,
) -> Result<(), i32> {
    check_gp_model(model, partition, capacity, GP_OUTPUTS)?;
    let outputs = model.output_len();
    let mut mean = [0.0f32; GP_OUTPUTS];
    let mut variance = [0.0f32; GP_OUTPUTS];
    let (Some(mean), Some(variance)) = (mean.get_mut(..outputs), variance.get_mut(..outputs))
    else {
        return Err(EXIT_FIT);
    };
    let Some(output) = buffers.output.get_mut(..8 * outputs) else {
        return Err(EXIT_FIT);
    };
    let mut run_ticks = 0u64;
    #[cfg(feature = "layer-timing")]
    let mut gp_ticks = 0u64;
    let rows = partition.rows.chunks_exact(partition.row_len as usize);
    for (index, row) in rows.enumerate() {
        let Some(input) = mote_runtime::kernels::bytes_as::<f32>(row) else {
            defmt::error!("mote: error: GP rows are not 4-byte aligned f32 values");
            return Err(EXIT_FIT);
        };
        let ((), ticks) = timed_row(index, |_| {
            model.run(input, &mut buffers.arena, mean, variance)
        })?;
        run_ticks = run_ticks.wrapping_add(ticks);
        #[cfg(feature = "layer-timing")]
        {
            gp_ticks = gp_ticks.wrapping_add(ticks);
        }
        for ((bytes, m), v) in output
            .chunks_exact_mut(8)
            .zip(mean.iter())
            .zip(variance.iter())
        {
            let (m_bytes, v_bytes) = bytes.split_at_mut(4);
            for (b, x) in m_bytes.iter_mut().zip(m.to_le_bytes()) {
                *b = x as i8;
            }
            for (b, x) in v_bytes.iter_mut().zip(v.to_le_bytes()) {
                *b = x as i8;
            }
        }
        report_row(index, ticks, output);
    }
    #[cfg(feature = "layer-timing")]
    defmt::println!("mote: layer=0 op=SPARSE_GP ticks={=u64}", gp_ticks);
    finish(partition, run_ticks);
    Ok(())
}

/// The stack and result lines that end a successful run.
/// Runs a moderation blob on every row: each row is one message, its bytes up to the first
/// zero (the host pads rows to one length). The reported output is one int8 score per category,
/// then the verdict: its action (0 allow, 1 flag, 2 block) and the category bits, low byte first.
fn run_moderation(
    blob: &[u8],
    partition: &Partition<'_>,
    capacity: Capacity,
    buffers: &mut Buffers,
) -> Result<(), i32> {
    let moderation = Moderation::parse(blob).map_err(reject_blob)?;
    let categories = moderation.categories();
    let model = moderation.model();
    // The same line as for an MLP (the host reads arena and output sizes from it); the input
    // is text, `row_len` bytes per message.
    defmt::println!(
        "mote: model layers={=u32} input={=u32} output={=u32} arena={=u32} macs={=u64} rows={=u32} blob={=u32}",
        model.layer_count() as u32,
        partition.row_len,
        (categories + 3) as u32,
        moderation.arena_len() as u32,
        model.macs(),
        partition.row_count,
        blob.len() as u32
    );
    if moderation.arena_len() > capacity.arena || categories + 3 > capacity.output {
        defmt::error!("mote: error: moderation model does not fit the firmware's buffers");
        return Err(EXIT_FIT);
    }
    let Some(output) = buffers.output.get_mut(..categories + 3) else {
        return Err(EXIT_FIT);
    };
    let mut run_ticks = 0u64;
    let rows = partition.rows.chunks_exact(partition.row_len as usize);
    for (index, row) in rows.enumerate() {
        let text = row.split(|&b| b == 0).next().unwrap_or(&[]);
        let (scores, verdict_bytes) = output.split_at_mut(categories);
        let (verdict, ticks) = timed_row(index, |_| {
            moderation.moderate(text, &mut buffers.arena, scores)
        })?;
        run_ticks = run_ticks.wrapping_add(ticks);
        let [low, high] = verdict.categories.to_le_bytes();
        for (slot, value) in verdict_bytes
            .iter_mut()
            .zip([verdict.action as u8, low, high])
        {
            *slot = value as i8;
        }
        report_row(index, ticks, output);
    }
    finish(partition, run_ticks);
    Ok(())
}

/// Items a recommender blob's rows get back (the top-k kept on the device).
pub const REC_TOP_K: usize = 10;
/// Longest item history a recommender row may hold.
const REC_HISTORY: usize = 256;

/// Runs a recommender blob on every row: each row is one user's history, a little-endian u32
/// count `n` then `n` u32 item ids (oldest first), zero-padded to `row_len`. The history is
/// also the exclusion list. The reported output is the top [`REC_TOP_K`] items, best first, as
/// the little-endian bytes of the item id (u32) then the score (i32); slots beyond the items
/// found hold id `u32::MAX` and score `i32::MIN`.
fn run_recommender(
    blob: &[u8],
    partition: &Partition<'_>,
    capacity: Capacity,
    buffers: &mut Buffers,
) -> Result<(), i32> {
    let recommender = Recommender::parse(blob).map_err(reject_blob)?;
    let model = recommender.model();
    let output_len = 8 * REC_TOP_K;
    let scoring_macs = recommender.items() as u64 * model.output_len() as u64;
    // The same line as for an MLP (the host reads arena and output sizes from it); the input
    // is a history, `row_len` bytes per user.
    defmt::println!(
        "mote: model layers=2 input={=u32} output={=u32} arena={=u32} macs={=u64} rows={=u32} blob={=u32}",
        partition.row_len,
        output_len as u32,
        recommender.arena_len() as u32,
        model.macs() + scoring_macs,
        partition.row_count,
        blob.len() as u32
    );
    if recommender.arena_len() > capacity.arena || output_len > capacity.output {
        defmt::error!("mote: error: recommender does not fit the firmware's buffers");
        return Err(EXIT_FIT);
    }
    let Some(output) = buffers.output.get_mut(..output_len) else {
        return Err(EXIT_FIT);
    };
    let mut history = [0u32; REC_HISTORY];
    let mut user = [0i8; MAX_REC_OUTPUT];
    let Some(user) = user.get_mut(..model.output_len()) else {
        return Err(EXIT_FIT);
    };
    let mut top = heapless::Vec::<Recommendation, REC_TOP_K>::new();
    let mut run_ticks = 0u64;
    #[cfg(feature = "layer-timing")]
    let mut phase_ticks = [0u64; 2];
    let rows = partition.rows.chunks_exact(partition.row_len as usize);
    for (index, row) in rows.enumerate() {
        let Some(history) = read_history(row, &mut history) else {
            defmt::error!(
                "mote: error: row {=u32} is not a history (u32 count, then that many u32 ids, at most {=u32})",
                index as u32,
                REC_HISTORY as u32
            );
            return Err(EXIT_FIT);
        };
        let ((), ticks) = timed_row(index, |_start| {
            recommender.user_vector(history, &mut buffers.arena, user)?;
            #[cfg(feature = "layer-timing")]
            let middle = clock::now();
            recommender.top_k(user, history, &mut top)?;
            #[cfg(feature = "layer-timing")]
            {
                let end = clock::now();
                phase_ticks[0] = phase_ticks[0].wrapping_add(middle.wrapping_sub(_start));
                phase_ticks[1] = phase_ticks[1].wrapping_add(end.wrapping_sub(middle));
            }
            Ok(())
        })?;
        run_ticks = run_ticks.wrapping_add(ticks);
        let mut slots = top.iter().map(|r| (r.item, r.score));
        for slot in output.chunks_exact_mut(8) {
            let (item, score) = slots.next().unwrap_or((u32::MAX, i32::MIN));
            let bytes = item.to_le_bytes().into_iter().chain(score.to_le_bytes());
            for (b, x) in slot.iter_mut().zip(bytes) {
                *b = x as i8;
            }
        }
        report_row(index, ticks, output);
    }
    #[cfg(feature = "layer-timing")]
    {
        defmt::println!("mote: layer=0 op=USER_TOWER ticks={=u64}", phase_ticks[0]);
        defmt::println!("mote: layer=1 op=SCORE_TOP_K ticks={=u64}", phase_ticks[1]);
    }
    finish(partition, run_ticks);
    Ok(())
}

/// The item ids of a recommender row into `room`; `None` if the count does not fit the row or
/// the room.
fn read_history<'r>(row: &[u8], room: &'r mut [u32; REC_HISTORY]) -> Option<&'r [u32]> {
    let mut words = row
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let count = words.next()? as usize;
    let ids = room.get_mut(..count)?;
    for id in ids.iter_mut() {
        *id = words.next()?;
    }
    Some(ids)
}

/// Runs one row's work between the clock reads and the profiling markers; Err is the exit
/// status, after the row's error line. Returns the result and the ticks it took.
fn timed_row<T>(
    index: usize,
    work: impl FnOnce(u64) -> Result<T, mote_runtime::Error>,
) -> Result<(T, u64), i32> {
    let start = clock::now();
    marker::start();
    let result = work(start);
    marker::stop();
    let ticks = clock::now().wrapping_sub(start);
    match result {
        Ok(value) => Ok((value, ticks)),
        Err(e) => {
            defmt::error!("mote: error: row {=u32} failed: {}", index as u32, e);
            Err(EXIT_RUN)
        }
    }
}

/// The line the host reads each row's output and ticks from.
fn report_row(index: usize, ticks: u64, output: &[i8]) {
    defmt::println!(
        "mote: row={=u32} ticks={=u64} out={=[?]}",
        index as u32,
        ticks,
        output
    );
}

fn finish(partition: &Partition<'_>, run_ticks: u64) {
    defmt::println!("mote: stack={=u32}", stack::high_water_mark());
    defmt::println!(
        "mote: result=ok rows={=u32} run_ticks={=u64}",
        partition.row_count,
        run_ticks
    );
}
