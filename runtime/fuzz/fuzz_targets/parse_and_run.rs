//! Any bytes through `AnyModel::parse` (MLP and sparse GP blobs), and every blob that parses
//! through `run`.
//!
//! Random bytes rarely pass the CRC, so the target also re-seals the input with a correct
//! length and CRC: that lets the fuzzer reach the manifest and section validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mote_runtime::crc32::crc32;
use mote_runtime::header::CRC_START;
use mote_runtime::{AnyModel, GpModel};

fn exercise_gp(gp: &GpModel<'_>) {
    let mut arena = vec![0u8; gp.arena_len()];
    let (mut mean, mut var) = (vec![0.0f32; gp.output_len()], vec![0.0f32; gp.output_len()]);
    let input: Vec<f32> = gp.input_affine().map(|(offset, _)| offset).collect();
    gp.run(&input, &mut arena, &mut mean, &mut var)
        .expect("a parsed GP runs with correctly sized buffers and finite inputs");
    assert!(var.iter().all(|v| v.is_nan() || *v >= 0.0), "negative variance");
}

fn exercise(blob: &[u8]) {
    let model = match AnyModel::parse(blob) {
        Ok(AnyModel::Mlp(model)) => model,
        Ok(AnyModel::SparseGp(gp)) => return exercise_gp(&gp),
        Err(_) => return,
    };
    let mut arena = vec![0u8; model.arena_len()];
    let input: Vec<i8> = (0..model.input_len()).map(|i| (i * 37) as i8).collect();
    let mut output = vec![0i8; model.output_len()];
    model
        .run(&input, &mut arena, &mut output)
        .expect("a parsed model runs with correctly sized buffers");
    let mut store = vec![None; model.layer_count()];
    let decoded = model.decode_layers(&mut store).expect("a parsed model decodes");
    let mut again = vec![0i8; model.output_len()];
    decoded
        .run(&input, &mut arena, &mut again)
        .expect("decoded layers run");
    assert_eq!(output, again);
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    if data.len() >= 32 {
        let mut sealed = data.to_vec();
        let len = sealed.len() as u32;
        sealed[8..12].copy_from_slice(&len.to_le_bytes());
        let crc = crc32(&sealed[CRC_START..]);
        sealed[12..16].copy_from_slice(&crc.to_le_bytes());
        exercise(&sealed);
    }
});
