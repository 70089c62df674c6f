//! Bit-exactness on emulated Cortex-M cores: the firmware is built for qemu-m4 (Cortex-M4F), qemu-m7,
//! qemu-m33 (Cortex-M33) and qemu-m55 (Cortex-M55 with Helium), each blob runs on every input
//! row under `qemu-system-arm`, and every output byte must equal the host runtime's.
//!
//! Models: the LiteRT fixtures (`tests/fixtures/litert/*.tflite`, imported by the exporter, with
//! their `*.input.csv` rows), random multi-layer FullyConnected graphs (one with odd sizes, so
//! every kernel tail runs), and the quickstart model (trained and quantised exactly as
//! `mote quickstart` does), and the distilled VID+KD student (`tests/fixtures/distilled`,
//! quantised as `mote train distill` does). Each is built twice: with portable row-major weights and with the
//! weight layout the board's own kernel reads (`Target::for_build`), so both the portable and
//! the SIMD paths (Armv7E-M DSP on m4/m7/m33, Helium on m55) are checked on every board. Also checked: a corrupt or
//! missing model partition gives an error line and a nonzero exit status, never a fault.
//!
//! Sparse GP blobs (the diabetes fixture, a synthetic GP with 64 inducing points and 8
//! inputs, and a two-output GP with 13 inducing points over 3 inputs), each in f32 and in
//! fixed point, run on every board too: f32 features in, the mean
//! and variance bytes out, which must equal the host runtime's bit for bit (the f32 kernels use
//! no fused multiply-add and a fixed operation order, so IEEE arithmetic gives the same bits).
//!
//! Recommender blobs (a two-tower model trained on a small simulated platform, and a synthetic
//! one with odd sizes) run on every board too: rows of item histories in, the top 10 item ids
//! and scores out, equal to the host runtime's (the item table is scored by the DSP kernel on
//! m4/m7/m33 and the Helium one on m55, `runtime/src/kernels/dot/`).
//!
//! Without `qemu-system-arm` the tests fail when `CI` is set and are skipped loudly otherwise.

use mote_boards::device::{self, DeviceRun};
use mote_boards::{firmware, partition, qemu, Board, BoardError};
use mote_exporter::blob::{build, build_for, ProvenanceInfo};
use mote_exporter::gp::{build_gp, build_gp_outputs, GpFormat};
use mote_exporter::{QuantGraph, Target};
use mote_runtime::{GpModel, Model};
use mote_tests::{random_mlp, read_i8_rows as read_rows};
use mote_train::gp::params::GpParams;
use std::path::PathBuf;

/// True when QEMU is there; panics in CI without it; otherwise prints why the test is skipped.
fn qemu_present() -> bool {
    if qemu::available() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("qemu-system-arm is missing and CI is set: install it (apt-get install qemu-system-arm)");
    }
    eprintln!();
    eprintln!("**************************************************************************");
    eprintln!("* SKIPPED: qemu-system-arm is not installed, so no firmware ran.        *");
    eprintln!("* Install it (apt-get install qemu-system-arm) to check bit-exactness.  *");
    eprintln!("**************************************************************************");
    false
}

struct Case {
    name: String,
    graph: QuantGraph,
    rows: Vec<Vec<i8>>,
}

fn repo() -> PathBuf {
    mote_boards::repo_root()
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let litert = repo().join("tests/fixtures/litert");
    let mut names: Vec<String> = std::fs::read_dir(&litert)
        .unwrap_or_else(|e| panic!("{}: {e}", litert.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".tflite").map(str::to_string))
        .filter(|n| litert.join(format!("{n}.input.csv")).is_file())
        .collect();
    names.sort();
    assert!(names.len() >= 4, "LiteRT fixtures missing: {names:?}");
    for name in names {
        let bytes = std::fs::read(litert.join(format!("{name}.tflite"))).unwrap();
        let graph = mote_exporter::tflite::import(&bytes)
            .unwrap_or_else(|e| panic!("{name}: import failed: {e}"));
        let rows = read_rows(&litert.join(format!("{name}.input.csv")));
        cases.push(Case { name, graph, rows });
    }
    for sizes in [&[40, 64, 48, 9][..], &[37, 13, 6], &[3, 5]] {
        cases.push(Case {
            name: format!("random_mlp {sizes:?}"),
            graph: random_mlp(sizes, 7),
            rows: mote_boards::bench::pseudo_random_rows(24, sizes[0]),
        });
    }
    // Two digits models trained as the CLI trains them, on real held-out digits: the quickstart
    // MLP, and the distilled VID+KD student (tests/fixtures/distilled/README.md).
    let (train, test) = mote_train::data::digits().split_mod5();
    let made = mote_exporter::pipeline::quickstart(None, &mut |_| {}).expect("quickstart");
    let path = repo().join("tests/fixtures/distilled/digits_vid_kd.safetensors");
    let student = mote_train::Checkpoint::load(&path).expect("distilled student fixture");
    for (name, checkpoint) in [
        ("quickstart digits", &made.checkpoint),
        ("distilled student (VID+KD)", &student),
    ] {
        let range = mote_exporter::ptq::RangeMethod::MinMax;
        let graph = mote_exporter::ptq::quantize_checkpoint(checkpoint, &train.features, range)
            .unwrap_or_else(|e| panic!("{name}: quantisation failed: {e}"));
        let blob = build(&graph, &ProvenanceInfo::default()).expect("digits model builds");
        let model = Model::parse(&blob).expect("digits blob parses");
        let rows = test.features[..40]
            .iter()
            .map(|features| {
                let mut row = vec![0i8; model.input_len()];
                model
                    .quantize_input(features, &mut row)
                    .expect("digits row");
                row
            })
            .collect();
        cases.push(Case {
            name: name.into(),
            rows,
            graph,
        });
    }
    cases
}

fn host_outputs(blob: &[u8], rows: &[Vec<i8>]) -> Vec<Vec<i8>> {
    let model = Model::parse(blob).expect("host parses the blob");
    let mut arena = vec![0u8; model.arena_len()];
    rows.iter()
        .map(|row| {
            let mut out = vec![0i8; model.output_len()];
            model.run(row, &mut arena, &mut out).expect("host run");
            out
        })
        .collect()
}

/// The GP models and their rows of raw features.
fn gp_cases() -> Vec<(String, GpParams, Vec<Vec<f32>>)> {
    let path = repo().join("tests/fixtures/gp/diabetes_sgpr.gp.json");
    let diabetes = GpParams::load(&path).expect("diabetes GP fixture");
    let data = mote_train::data::Dataset::load_csv(&repo().join("data/diabetes.csv"))
        .expect("diabetes data");
    let rows = data.split_mod5().1.features[..40].to_vec();
    let synthetic = mote_exporter::synthetic::random_gp(64, 8, 1);
    let blob = build_gp(&synthetic, GpFormat::F32, &ProvenanceInfo::default()).unwrap();
    let model = GpModel::parse(&blob).unwrap();
    let synthetic_rows = mote_boards::bench::gp_rows(&model, 24)
        .iter()
        .map(|bytes| {
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]))
                .collect()
        })
        .collect();
    let path = repo().join("tests/fixtures/gp/friedman1_sgpr.gp.json");
    let friedman = GpParams::load(&path).expect("Friedman #1 GP fixture");
    let friedman_rows = mote_train::gp::friedman::benchmark().1.features[..40].to_vec();
    vec![
        ("diabetes GP (SGPR, 32 inducing)".into(), diabetes, rows),
        ("synthetic GP 64x8".into(), synthetic, synthetic_rows),
        (
            "Friedman #1 GP (linear mean, 16 inducing)".into(),
            friedman,
            friedman_rows,
        ),
    ]
}

/// The host runtime's GP outputs as the firmware reports them: per output the mean's and the
/// variance's little-endian f32 bytes.
fn host_gp_outputs(blob: &[u8], rows: &[Vec<f32>]) -> Vec<Vec<i8>> {
    let model = GpModel::parse(blob).expect("host parses the GP blob");
    let mut arena = vec![0u8; model.arena_len()];
    let (mut mean, mut var) = (
        vec![0.0f32; model.output_len()],
        vec![0.0f32; model.output_len()],
    );
    rows.iter()
        .map(|row| {
            model
                .run(row, &mut arena, &mut mean, &mut var)
                .expect("host run");
            mean.iter()
                .zip(&var)
                .flat_map(|(m, v)| m.to_le_bytes().into_iter().chain(v.to_le_bytes()))
                .map(|b| b as i8)
                .collect()
        })
        .collect()
}

/// Two outputs sharing 13 inducing points (padding rows) over 3 inputs (no whole group of 4).
fn two_output_gp() -> Vec<GpParams> {
    let first = mote_exporter::synthetic::random_gp(13, 3, 5);
    let mut second = mote_exporter::synthetic::random_gp(13, 3, 6);
    second.kernel = first.kernel.clone();
    second.inducing_inputs = first.inducing_inputs.clone();
    second.input_standardisation = first.input_standardisation.clone();
    // A linear prior mean on the second output only (the first's is written as zeros).
    second.mean_function = Some(mote_train::gp::params::LinearMean {
        weights: vec![0.5, -1.25, 2.0],
        bias: 0.75,
    });
    vec![first, second]
}

fn check_gp(board: &Board, options: qemu::Options) {
    let two = two_output_gp();
    let two_rows: Vec<Vec<f32>> = (0..12)
        .map(|i| {
            (0..3)
                .map(|k| ((i * 7 + k * 3) % 11) as f32 - 5.0)
                .collect()
        })
        .collect();
    let cases = gp_cases()
        .into_iter()
        .map(|(name, params, rows)| (name, vec![params], rows))
        .chain([("two-output GP 13x3".to_string(), two, two_rows)]);
    for (name, outputs, rows) in cases {
        for format in [GpFormat::F32, GpFormat::Fixed] {
            let name = format!("{name} ({format})");
            let blob = build_gp_outputs(&outputs, format, &ProvenanceInfo::default())
                .unwrap_or_else(|e| panic!("{name}: build failed: {e}"));
            let byte_rows: Vec<Vec<i8>> = rows
                .iter()
                .map(|r| mote_boards::bench::f32_row_bytes(r))
                .collect();
            let expected = host_gp_outputs(&blob, &rows);
            compare(board, &name, &blob, &byte_rows, &expected, options);
        }
    }
}

/// A moderation model trained on the bundled messages (as `mote train moderation` trains it,
/// fewer epochs) and exported; rows are held-out messages, zero-padded to one length.
fn moderation_case() -> &'static (Vec<u8>, Vec<Vec<i8>>) {
    static CASE: std::sync::OnceLock<(Vec<u8>, Vec<Vec<i8>>)> = std::sync::OnceLock::new();
    CASE.get_or_init(train_moderation_case)
}

fn train_moderation_case() -> (Vec<u8>, Vec<Vec<i8>>) {
    use mote_train::moderation::{classifier, Messages, Policy};
    let root = repo().join("data/moderation");
    let policy_text = std::fs::read_to_string(root.join("policy.toml")).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let messages = Messages::load(&root.join("messages.csv"), &policy).unwrap();
    let cfg = classifier::ClassifierConfig {
        epochs: 4,
        ..Default::default()
    };
    let trained = classifier::train(&policy, &policy_text, &messages, &cfg, &mut |_| {}).unwrap();
    let options = mote_exporter::moderation::ModerationExportOptions::default();
    let (blob, _) =
        mote_exporter::moderation::export_moderation(&trained.model, &messages, &options).unwrap();
    let held_out = messages.folds(&[4]);
    let texts: Vec<&str> = held_out
        .iter()
        .take(30)
        .map(|&i| messages.texts[i].as_str())
        .collect();
    let width = texts.iter().map(|t| t.len()).max().unwrap_or(1);
    let rows = texts
        .iter()
        .map(|t| {
            let mut row: Vec<i8> = t.bytes().map(|b| b as i8).collect();
            row.resize(width, 0);
            row
        })
        .collect();
    (blob, rows)
}

/// What the firmware reports for a moderation row, computed on the host: the scores, then the
/// verdict's action and category bits (low byte first).
fn host_moderation_outputs(blob: &[u8], rows: &[Vec<i8>]) -> Vec<Vec<i8>> {
    let moderation = mote_runtime::moderation::Moderation::parse(blob).unwrap();
    let mut arena = vec![0u8; moderation.arena_len()];
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = row
                .iter()
                .map(|&b| b as u8)
                .take_while(|&b| b != 0)
                .collect();
            let mut scores = vec![0i8; moderation.categories()];
            let verdict = moderation
                .moderate(&bytes, &mut arena, &mut scores)
                .unwrap();
            let [low, high] = verdict.categories.to_le_bytes();
            scores.extend([verdict.action as u8, low, high].map(|b| b as i8));
            scores
        })
        .collect()
}

/// A two-tower recommender trained on a small simulated platform (400 users, three item types,
/// as `mote eval rec` trains it but smaller and shorter) and exported as `mote rec export`
/// does, for `target`.
fn trained_recommender(target: Target) -> Vec<u8> {
    use mote_exporter::rec::{export_recommender, RecExportOptions};
    use mote_train::rec::eval::TimeSplit;
    use mote_train::rec::graph::text_features;
    use mote_train::rec::simulate::{SimConfig, Simulator};
    use mote_train::rec::two_tower::{TwoTower, TwoTowerConfig};
    static MODEL: std::sync::OnceLock<(TwoTower, TimeSplit)> = std::sync::OnceLock::new();
    let (model, split) = MODEL.get_or_init(|| {
        let data = Simulator::new(SimConfig::for_users(400, 3))
            .unwrap()
            .generate();
        let split = TimeSplit::last_fraction(&data, 0.2).unwrap();
        let features = text_features(&data.catalog, 16);
        let config = TwoTowerConfig {
            hidden: vec![16],
            output: 16,
            batch: 32,
            steps: 60,
            ..TwoTowerConfig::default()
        };
        let model = TwoTower::train(
            &data.catalog,
            &split,
            &features,
            &features,
            &config,
            |_, _| {},
        )
        .unwrap();
        (model, split)
    });
    let options = RecExportOptions {
        source: "qemu bit-exactness".into(),
        target,
        max_users: 50,
        ..Default::default()
    };
    export_recommender(model, split, &options).unwrap().0
}

/// Recommender blobs (a trained one and a synthetic one whose 301 items and 22-wide vectors
/// leave a partial block of rows and a partial group of values), in the board's layout and the
/// portable one: rows of item histories in, the top 10 ids and scores out, equal to the host's.
fn check_recommenders(board: &Board, options: qemu::Options) {
    let target = Target::for_build(&board.target, &board.rustflags);
    let mut targets = vec![target];
    if target.weight_layout() != Target::Portable.weight_layout() {
        targets.push(Target::Portable);
    }
    for target in targets {
        let blobs = [
            (
                "trained recommender (simulator, 400 users)",
                trained_recommender(target),
            ),
            (
                "synthetic recommender 301x22",
                mote_exporter::synthetic::random_recommender(301, 22, 3, target).unwrap(),
            ),
        ];
        for (name, blob) in blobs {
            let name = format!("{name} ({})", target.kernel_name());
            let recommender = mote_runtime::Recommender::parse(&blob).unwrap();
            let rows = mote_boards::rec::history_rows(&recommender, 16, 12);
            let expected = mote_boards::rec::host_outputs(&recommender, &rows).unwrap();
            // The host ranking is not degenerate: most rows get a full top 10.
            let full = expected
                .iter()
                .filter(|o| mote_boards::rec::read_recommendation_bytes(o).len() == 10)
                .count();
            assert!(full >= 15, "{name}: {full} full rows");
            compare(board, &name, &blob, &rows, &expected, options);
        }
    }
}

fn check_board(board_name: &str) {
    if !qemu_present() {
        return;
    }
    let board = Board::load(board_name).unwrap();
    let options = qemu::Options {
        icount: false,
        ..qemu::Options::default()
    };
    check_recommenders(&board, options);
    check_gp(&board, options);
    let (blob, rows) = moderation_case();
    let expected = host_moderation_outputs(blob, rows);
    compare(
        &board,
        "moderation (held-out messages)",
        blob,
        rows,
        &expected,
        options,
    );
    let target = Target::for_build(&board.target, &board.rustflags);
    for case in cases() {
        let name = format!("{} ({})", case.name, target.kernel_name());
        let blob = build_for(&case.graph, &ProvenanceInfo::default(), target)
            .unwrap_or_else(|e| panic!("{name}: build failed: {e}"));
        check_blob(&board, &name, &blob, &case.rows, options);
        if target.weight_layout() != Target::Portable.weight_layout() {
            let name = format!("{} (portable layout)", case.name);
            let blob = build(&case.graph, &ProvenanceInfo::default()).expect("portable build");
            check_blob(&board, &name, &blob, &case.rows, options);
        }
    }
}

/// Runs `blob` on the board and compares every output byte with the host's.
fn check_blob(board: &Board, name: &str, blob: &[u8], rows: &[Vec<i8>], options: qemu::Options) {
    compare(board, name, blob, rows, &host_outputs(blob, rows), options);
}

/// Runs `blob` on the board and compares every output byte with `expected`.
fn compare(
    board: &Board,
    name: &str,
    blob: &[u8],
    rows: &[Vec<i8>],
    expected: &[Vec<i8>],
    options: qemu::Options,
) {
    compare_with(
        board,
        firmware::Features::default(),
        name,
        blob,
        rows,
        expected,
        options,
    )
}

/// [`compare`] with a firmware built with `features`.
fn compare_with(
    board: &Board,
    features: firmware::Features,
    name: &str,
    blob: &[u8],
    rows: &[Vec<i8>],
    expected: &[Vec<i8>],
    options: qemu::Options,
) {
    let board_name = &board.name;
    {
        let run: DeviceRun = device::run_rows_with(board, features, blob, rows, options)
            .unwrap_or_else(|e| panic!("{board_name} / {name}: {e}"));
        assert_eq!(
            run.outputs.len(),
            rows.len(),
            "{board_name} / {name}: row count"
        );
        for (i, (device, host)) in run.outputs.iter().zip(expected).enumerate() {
            assert_eq!(
                device, host,
                "{board_name} / {name}: row {i}: device output differs from the host runtime"
            );
        }
        eprintln!("{board_name}: {name} — {} rows bit-exact", rows.len());
    }
}

#[test]
fn bit_exact_on_qemu_m4() {
    check_board("qemu-m4");
}

#[test]
fn bit_exact_on_qemu_m7() {
    check_board("qemu-m7");
}

#[test]
fn bit_exact_on_qemu_m33() {
    check_board("qemu-m33");
}

#[test]
fn bit_exact_on_qemu_m55() {
    check_board("qemu-m55");
}

/// A blob at an address that is not 4-byte aligned (as `include_bytes!` may place it) takes the
/// DSP kernel's unaligned loads: the firmware copies it to such an address first.
#[test]
fn bit_exact_with_a_misaligned_blob_on_qemu_m4() {
    if !qemu_present() {
        return;
    }
    let board = Board::load("qemu-m4").unwrap();
    let features = firmware::Features {
        misaligned_blob: true,
        ..Default::default()
    };
    let options = qemu::Options {
        icount: false,
        ..qemu::Options::default()
    };
    for sizes in [&[40, 64, 48, 9][..], &[37, 13, 6]] {
        let graph = random_mlp(sizes, 7);
        let blob = build_for(&graph, &ProvenanceInfo::default(), Target::ArmDsp).unwrap();
        let rows = mote_boards::bench::pseudo_random_rows(12, sizes[0]);
        let name = format!("random_mlp {sizes:?} (arm-dsp, misaligned blob)");
        let expected = host_outputs(&blob, &rows);
        compare_with(&board, features, &name, &blob, &rows, &expected, options);
    }
}

/// Runs the qemu-m4 firmware on a raw partition image; returns the error it must report.
fn device_error(image: &[u8]) -> (Option<i32>, String) {
    let board = Board::load("qemu-m4").unwrap();
    let elf = firmware::build(&board).unwrap();
    let machine = board.qemu().unwrap().machine.clone();
    let options = qemu::Options {
        icount: false,
        ..qemu::Options::default()
    };
    match device::run_image(&board, &machine, &elf, image, options) {
        Err(BoardError::Device { status, message }) => (status, message),
        other => panic!("expected a device error, got {other:?}"),
    }
}

#[test]
fn corrupt_or_missing_partitions_are_reported_not_faults() {
    if !qemu_present() {
        return;
    }
    let graph = random_mlp(&[8, 6, 3], 3);
    let blob = build(&graph, &ProvenanceInfo::default()).unwrap();
    let rows = mote_boards::bench::pseudo_random_rows(3, 8);
    let good = partition::write(&blob, &rows, 8).unwrap();
    let rows_at = u32::from_le_bytes(good[16..20].try_into().unwrap()) as usize;

    let mut cases: Vec<(&str, Vec<u8>, i32, &str)> = Vec::new();
    cases.push(("zeroed flash", vec![0; 64], 2, "Missing"));
    cases.push(("erased flash", vec![0xFF; 64], 2, "Missing"));
    let mut bad_version = good.clone();
    bad_version[4] = 9;
    cases.push(("unknown version", bad_version, 2, "UnsupportedVersion"));
    let mut huge_blob = good.clone();
    huge_blob[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("blob length overflows", huge_blob, 2, "OutOfBounds"));
    let mut many_rows = good.clone();
    many_rows[20..24].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    cases.push((
        "row count beyond the partition",
        many_rows,
        2,
        "OutOfBounds",
    ));
    let mut flipped_row = good.clone();
    flipped_row[rows_at] ^= 0x10;
    cases.push(("flipped row bit", flipped_row, 2, "ChecksumMismatch"));
    let mut flipped_blob = good.clone();
    flipped_blob[32 + blob.len() - 1] ^= 0x01;
    cases.push(("flipped blob bit", flipped_blob, 3, "ChecksumMismatch"));
    let mut bad_magic_blob = good.clone();
    bad_magic_blob[32] = b'X';
    cases.push(("blob without magic", bad_magic_blob, 3, "BadMagic"));
    // Rows of 4 values for a model taking 8: rewrite the header and its CRC.
    let short_rows = partition::write(&blob, &[vec![1, 2, 3, 4]], 4).unwrap();
    cases.push(("rows of the wrong length", short_rows, 4, "take"));

    for (what, image, status, needle) in cases {
        let (got_status, message) = device_error(&image);
        assert_eq!(got_status, Some(status), "{what}: {message}");
        assert!(message.starts_with("mote: error:"), "{what}: {message}");
        assert!(
            message.contains(needle),
            "{what}: `{needle}` not in {message}"
        );
        assert!(
            !message.contains("fault") && !message.contains("panic"),
            "{what}: {message}"
        );
    }
    // And the good image runs.
    let board = Board::load("qemu-m4").unwrap();
    let run = device::run_rows(&board, &blob, &rows, qemu::Options::default()).unwrap();
    assert_eq!(run.outputs, host_outputs(&blob, &rows));
}
