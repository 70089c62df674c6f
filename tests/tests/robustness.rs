//! Thousands of damaged blobs through `Model::parse` and `Model::run`: every one must give an
//! `Err` or run cleanly, never panic. Damage is re-sealed (length and CRC fixed) where that lets
//! it reach the deeper checks, since the CRC alone would catch most of it.

use mote_exporter::gp::{build_gp, GpFormat};
use mote_exporter::graph::InputTransform;
use mote_exporter::synthetic::random_gp;
use mote_exporter::{build, ProvenanceInfo};
use mote_runtime::crc32::crc32;
use mote_runtime::header::{CRC_START, HEADER_LEN};
use mote_runtime::manifest::{GpKernel, GpMeanSpec, GpSpec, Layer, Manifest, ModelKind};
use mote_runtime::{AnyModel, Error, GpModel, Model};
use mote_tests::{random_mlp, SplitMix};

/// Parses and, when that succeeds, runs with exactly the buffers the model asks for: an MLP
/// both with layers decoded during the run and decoded once beforehand (the two must agree),
/// a GP on a few inputs, near and far from its data (the variance must never be negative).
fn exercise(blob: &[u8]) -> Result<(), Error> {
    let model = match AnyModel::parse(blob)? {
        AnyModel::Mlp(model) => model,
        AnyModel::SparseGp(gp) => return exercise_gp(&gp),
    };
    let mut arena = vec![0u8; model.arena_len()];
    let input: Vec<i8> = (0..model.input_len()).map(|i| (i * 37) as i8).collect();
    let mut output = vec![0i8; model.output_len()];
    model.run(&input, &mut arena, &mut output)?;
    let mut store = vec![None; model.layer_count()];
    let decoded = model.decode_layers(&mut store)?;
    let mut again = vec![0i8; model.output_len()];
    decoded.run(&input, &mut arena, &mut again)?;
    assert_eq!(output, again, "decoded layers run differently");
    Ok(())
}

fn exercise_gp(gp: &GpModel<'_>) -> Result<(), Error> {
    let mut arena = vec![0u8; gp.arena_len()];
    let (mut mean, mut var) = (vec![0.0f32; gp.output_len()], vec![0.0f32; gp.output_len()]);
    for scale in [0.0f32, 0.7, 3.0, 1e6] {
        let input: Vec<f32> = gp
            .input_affine()
            .enumerate()
            .map(|(i, (offset, factor))| offset + scale * (i as f32 - 1.5) / factor)
            .collect();
        gp.run(&input, &mut arena, &mut mean, &mut var)?;
        assert!(
            var.iter().all(|v| v.is_nan() || *v >= 0.0),
            "negative variance {var:?}"
        );
        gp.run_latent(&input, &mut arena, &mut mean, &mut var)?;
        assert!(
            var.iter().all(|v| v.is_nan() || *v >= 0.0),
            "negative variance {var:?}"
        );
    }
    // A short arena and wrong lengths are errors, never out-of-bounds accesses.
    let input = vec![0.0f32; gp.input_len()];
    let short = gp.arena_len() - 1;
    assert_eq!(
        gp.run(&input, &mut arena[..short], &mut mean, &mut var),
        Err(Error::ArenaTooSmall)
    );
    assert_eq!(
        gp.run(&input[1..], &mut arena, &mut mean, &mut var),
        Err(Error::InputLength)
    );
    Ok(())
}

/// GP blobs: synthetic ones with padding rows (f32 RBF and Matern 5/2, fixed point) and the
/// diabetes fixture in both formats.
fn valid_gp_blobs() -> Vec<Vec<u8>> {
    let provenance = ProvenanceInfo {
        source: "robustness".into(),
        ..Default::default()
    };
    let small = random_gp(5, 3, 4);
    let mut matern = random_gp(6, 2, 5);
    if let mote_train::gp::kernels::Kernel::Rbf {
        variance,
        lengthscales,
    } = matern.kernel.clone()
    {
        matern.kernel = mote_train::gp::kernels::Kernel::Matern52 {
            variance,
            lengthscales,
        };
    }
    let path = mote_tests::fixtures().join("gp/diabetes_sgpr.gp.json");
    let diabetes = mote_train::gp::params::GpParams::load(&path).unwrap();
    vec![
        build_gp(&small, GpFormat::F32, &provenance).unwrap(),
        build_gp(&small, GpFormat::Fixed, &provenance).unwrap(),
        build_gp(&matern, GpFormat::F32, &provenance).unwrap(),
        build_gp(&diabetes, GpFormat::F32, &provenance).unwrap(),
        build_gp(&diabetes, GpFormat::Fixed, &provenance).unwrap(),
    ]
}

fn reseal(blob: &mut [u8]) {
    if blob.len() < HEADER_LEN {
        return;
    }
    let len = blob.len() as u32;
    blob[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&blob[CRC_START..]);
    blob[12..16].copy_from_slice(&crc.to_le_bytes());
}

fn valid_blobs() -> Vec<Vec<u8>> {
    let provenance = ProvenanceInfo {
        source: "robustness".into(),
        data_hash: "00".repeat(32),
        metrics: vec![("accuracy".into(), 0.5)],
    };
    let mut with_transform = random_mlp(&[7, 16, 16, 3], 2);
    with_transform.input_transform = Some(InputTransform {
        offset: vec![0.5; 7],
        scale: vec![2.0; 7],
    });
    let mut blobs = vec![
        build(&random_mlp(&[12, 9, 5], 1), &provenance).unwrap(),
        build(&with_transform, &provenance).unwrap(),
    ];
    // Imported LiteRT models add the activation layers (when their fixtures exist).
    for name in ["diabetes_tanh", "cancer_softmax", "digits_softmax_tanh"] {
        let path = mote_tests::fixtures()
            .join("litert")
            .join(format!("{name}.tflite"));
        if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(graph) = mote_exporter::tflite::import(&bytes) {
                if let Ok(blob) = build(&graph, &provenance) {
                    blobs.push(blob);
                }
            }
        }
    }
    blobs.extend(valid_gp_blobs());
    blobs
}

#[test]
fn valid_blobs_parse_and_run() {
    for blob in valid_blobs() {
        exercise(&blob).expect("an exported blob is valid");
        let Ok(model) = Model::parse(&blob) else {
            assert_eq!(
                GpModel::parse(&blob).map(|_| ()),
                Ok(()),
                "neither an MLP nor a GP"
            );
            assert_eq!(Model::parse(&blob).err(), Some(Error::ModelKindMismatch));
            continue;
        };
        assert_eq!(GpModel::parse(&blob).err(), Some(Error::ModelKindMismatch));
        let mut short = vec![None; model.layer_count() - 1];
        assert_eq!(
            model.decode_layers(&mut short).err(),
            Some(Error::TooManyLayers)
        );
    }
}

#[test]
fn bit_flips_are_rejected_by_the_crc() {
    let mut rng = SplitMix(11);
    for blob in valid_blobs() {
        for _ in 0..500 {
            let mut damaged = blob.clone();
            let at = rng.below(damaged.len());
            damaged[at] ^= 1 << rng.below(8);
            let result = exercise(&damaged);
            // Flips in bytes 0..16 hit magic/version/flags/length/CRC; the rest the CRC.
            assert!(result.is_err(), "flip at byte {at} went unnoticed");
        }
    }
}

#[test]
fn resealed_bit_flips_never_panic() {
    let mut rng = SplitMix(12);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for blob in valid_blobs() {
        for _ in 0..3000 {
            let mut damaged = blob.clone();
            for _ in 0..1 + rng.below(4) {
                let at = HEADER_LEN + rng.below(damaged.len() - HEADER_LEN);
                damaged[at] ^= 1 << rng.below(8);
            }
            reseal(&mut damaged);
            let key = match exercise(&damaged) {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("{e:?}"),
            };
            *outcomes.entry(key).or_default() += 1;
        }
    }
    // Damage must reach the deep checks, not just the decoder.
    assert!(
        outcomes.len() >= 4,
        "too few distinct outcomes: {outcomes:?}"
    );
}

#[test]
fn truncations_and_extensions_never_panic() {
    for blob in valid_blobs() {
        for cut in 0..blob.len() {
            let mut short = blob[..cut].to_vec();
            assert!(exercise(&short).is_err());
            reseal(&mut short);
            assert!(
                exercise(&short).is_err(),
                "truncated to {cut} bytes yet valid"
            );
        }
        let mut long = blob.clone();
        long.extend_from_slice(&[0; 16]);
        assert_eq!(exercise(&long), Err(Error::LengthMismatch));
    }
}

#[test]
fn header_field_edits_are_errors() {
    let blob = &valid_blobs()[0];
    let mut rng = SplitMix(13);
    for field in [4usize, 6, 8, 16] {
        for _ in 0..200 {
            let mut damaged = blob.clone();
            let value = rng.next_u64() as u32;
            let width = if field < 8 { 2 } else { 4 };
            damaged[field..field + width].copy_from_slice(&value.to_le_bytes()[..width]);
            if damaged == *blob {
                continue;
            }
            if field != 8 {
                reseal(&mut damaged);
            }
            assert!(
                exercise(&damaged).is_err(),
                "header edit at {field} = {value}"
            );
        }
    }
}

/// Re-encodes the manifest after editing a layer's sections or lengths: the edits postcard
/// would reject never get this far, so these reach the section and shape validation.
#[test]
fn section_and_shape_edits_are_errors() {
    let mut rng = SplitMix(14);
    let mut errors = std::collections::BTreeSet::new();
    for blob in valid_blobs() {
        if Model::parse(&blob).is_err() {
            continue; // GP blobs: `gp_spec_edits_are_errors`
        }
        let manifest_len = u32::from_le_bytes(blob[16..20].try_into().unwrap()) as usize;
        let (manifest, rest) = manifest_and_rest(&blob);
        let original: (Manifest<'_>, Vec<Layer>) = (manifest, postcard::from_bytes(rest).unwrap());
        for _ in 0..2000 {
            let mut edited = original.clone();
            let layer_index = rng.below(edited.1.len());
            let pick = rng.below(6) as u32;
            let value = match rng.below(4) {
                0 => rng.next_u64() as u32,
                1 => rng.below(blob.len() + 64) as u32,
                2 => 0,
                _ => u32::MAX - rng.below(64) as u32,
            };
            match &mut edited.1[layer_index] {
                Layer::FullyConnected(fc) => match pick {
                    0 => fc.weights.offset = value,
                    1 => fc.weights.len = value,
                    2 => fc.bias.offset = value,
                    3 => fc.shifts.len = value,
                    4 => fc.input_len = value,
                    _ => fc.output_len = value,
                },
                Layer::Logistic(e) | Layer::Tanh(e) => match pick {
                    0 => e.len = value,
                    1 => e.table.offset = value,
                    2 => e.table.len = value,
                    3 => e.input.zero_point = value as i32,
                    _ => e.output.scale = f32::from_bits(value),
                },
                Layer::Softmax(s) => match pick {
                    0 => s.len = value,
                    1 => s.input_beta_left_shift = value as i32,
                    2 => s.input_beta_multiplier = value as i32,
                    _ => s.diff_min = value as i32,
                },
            }
            if let (Some(t), 0) = (edited.0.input_transform.as_mut(), rng.below(8)) {
                match pick % 2 {
                    0 => t.offset = value,
                    _ => t.len = value,
                }
            }
            if edited == original {
                continue;
            }
            let encoded = postcard::to_allocvec(&edited).unwrap();
            // Rebuild the blob with the same sections after a manifest of the new length.
            let data_start = mote_runtime::header::align_up(HEADER_LEN + manifest_len);
            let new_start = mote_runtime::header::align_up(HEADER_LEN + encoded.len());
            if new_start != data_start {
                continue; // the section offsets would all shift; covered by the cases above
            }
            let mut damaged = blob.clone();
            damaged[HEADER_LEN..data_start].fill(0);
            damaged[HEADER_LEN..HEADER_LEN + encoded.len()].copy_from_slice(&encoded);
            damaged[16..20].copy_from_slice(&(encoded.len() as u32).to_le_bytes());
            reseal(&mut damaged);
            match exercise(&damaged) {
                Ok(()) => {}
                Err(e) => {
                    errors.insert(format!("{e:?}"));
                }
            }
        }
    }
    for expected in [
        "SectionOutOfBounds",
        "SectionLengthMismatch",
        "ShapeMismatch",
    ] {
        assert!(
            errors.contains(expected),
            "{expected} never seen: {errors:?}"
        );
    }
}

/// Re-encodes a GP blob's manifest and spec after editing a field, so the edits reach the GP
/// validation (sections, shapes, number formats, kernels, arena); none may panic, and a
/// misaligned blob is an error.
#[test]
fn gp_spec_edits_are_errors() {
    let mut rng = SplitMix(15);
    let mut errors = std::collections::BTreeSet::new();
    for blob in valid_gp_blobs() {
        let manifest_len = u32::from_le_bytes(blob[16..20].try_into().unwrap()) as usize;
        let (manifest, rest) = manifest_and_rest(&blob);
        let original: (Manifest<'_>, GpSpec) = (manifest, postcard::from_bytes(rest).unwrap());
        assert_eq!(original.0.kind, ModelKind::SparseGp);
        for _ in 0..3000 {
            let mut edited = original.clone();
            let value = match rng.below(4) {
                0 => rng.next_u64() as u32,
                1 => rng.below(blob.len() + 64) as u32,
                2 => rng.below(3) as u32,
                _ => u32::MAX - rng.below(64) as u32,
            };
            let (manifest, spec) = (&mut edited.0, &mut edited.1);
            let pick = rng.below(14);
            match pick {
                0..=6 => {
                    let sections = [
                        &mut spec.input_affine,
                        &mut spec.inducing_inputs,
                        &mut spec.chol,
                        &mut spec.chol_inv_diag,
                        &mut spec.mean_weights,
                        &mut spec.var_factor,
                        &mut spec.output_affine,
                    ];
                    let section = sections.into_iter().nth(pick).unwrap();
                    if rng.below(2) == 0 {
                        section.offset = value;
                    } else {
                        section.len = value;
                    }
                }
                7 => spec.inducing = value,
                8 => manifest.input.len = value,
                9 => manifest.output.len = value,
                10 => spec.input_shift = value as u8,
                11 => spec.kernel_variance = f32::from_bits(value),
                12 => {
                    spec.kernel =
                        [GpKernel::Rbf, GpKernel::Matern32, GpKernel::Matern52][rng.below(3)]
                }
                _ => manifest.arena_len = value,
            }
            if edited == original {
                continue;
            }
            let encoded = postcard::to_allocvec(&edited).unwrap();
            let data_start = mote_runtime::header::align_up(HEADER_LEN + manifest_len);
            if mote_runtime::header::align_up(HEADER_LEN + encoded.len()) != data_start {
                continue;
            }
            let mut damaged = blob.clone();
            damaged[HEADER_LEN..data_start].fill(0);
            damaged[HEADER_LEN..HEADER_LEN + encoded.len()].copy_from_slice(&encoded);
            damaged[16..20].copy_from_slice(&(encoded.len() as u32).to_le_bytes());
            reseal(&mut damaged);
            if let Err(e) = exercise(&damaged) {
                errors.insert(format!("{e:?}"));
            }
        }
        // Read from an odd address, the blob is refused rather than read misaligned.
        let mut shifted = vec![0u8; blob.len() + 1];
        shifted[1..].copy_from_slice(&blob);
        assert_eq!(
            GpModel::parse(&shifted[1..]).err(),
            Some(Error::BlobMisaligned)
        );
    }
    for expected in [
        "SectionOutOfBounds",
        "SectionLengthMismatch",
        "BadDimension",
        "ArenaLenMismatch",
        "BadGpParams",
        "UnsupportedKernel",
    ] {
        assert!(
            errors.contains(expected),
            "{expected} never seen: {errors:?}"
        );
    }
}

/// The linear-mean trailer of a GP blob: its section is checked like the others (bounds,
/// length, finite values), and bytes after it or a cut trailer are refused.
#[test]
fn gp_mean_trailer_edits_are_errors() {
    let mut params = random_gp(5, 3, 4);
    params.mean_function = Some(mote_train::gp::params::LinearMean {
        weights: vec![1.0, -2.0, 0.5],
        bias: 0.25,
    });
    let mut seen = std::collections::BTreeSet::new();
    for format in [GpFormat::F32, GpFormat::Fixed] {
        let blob = build_gp(&params, format, &ProvenanceInfo::default()).unwrap();
        let gp = GpModel::parse(&blob).unwrap();
        let trailer = *gp.mean_spec().unwrap();
        let manifest_len = u32::from_le_bytes(blob[16..20].try_into().unwrap()) as usize;
        let (manifest, rest) = manifest_and_rest(&blob);
        let (spec, rest) = postcard::take_from_bytes::<GpSpec>(rest).unwrap();
        let original: (Manifest<'_>, GpSpec, GpMeanSpec) =
            (manifest, spec, postcard::from_bytes(rest).unwrap());
        assert_eq!(original.2, trailer);
        let data_start = mote_runtime::header::align_up(HEADER_LEN + manifest_len);
        // Re-encodes the manifest region with `edit` applied to the trailer's bytes; `None`
        // when the region would change size class (the sections would move).
        let reencode = |trailer: GpMeanSpec, edit: &dyn Fn(&mut Vec<u8>)| {
            let mut encoded = postcard::to_allocvec(&(&original.0, &original.1, &trailer)).unwrap();
            edit(&mut encoded);
            if mote_runtime::header::align_up(HEADER_LEN + encoded.len()) != data_start {
                return None;
            }
            let mut damaged = blob.clone();
            damaged[HEADER_LEN..data_start].fill(0);
            damaged[HEADER_LEN..HEADER_LEN + encoded.len()].copy_from_slice(&encoded);
            damaged[16..20].copy_from_slice(&(encoded.len() as u32).to_le_bytes());
            reseal(&mut damaged);
            GpModel::parse(&damaged).err()
        };
        let mut shorter = trailer;
        shorter.linear_mean.len -= 4;
        let mut outside = trailer;
        outside.linear_mean.offset = blob.len() as u32;
        for (edited, edit) in [
            (shorter, (&|_: &mut Vec<u8>| {}) as &dyn Fn(&mut Vec<u8>)),
            (outside, &|_: &mut Vec<u8>| {}),
            (trailer, &|e: &mut Vec<u8>| e.push(0)),
            (trailer, &|e: &mut Vec<u8>| {
                e.pop();
            }),
        ] {
            if let Some(e) = reencode(edited, edit) {
                seen.insert(format!("{e:?}"));
            }
        }
        let mut non_finite = blob.clone();
        let at = trailer.linear_mean.offset as usize + 4;
        non_finite[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        reseal(&mut non_finite);
        assert_eq!(
            GpModel::parse(&non_finite).err(),
            Some(Error::NonFiniteValue)
        );
    }
    for expected in [
        "SectionLengthMismatch",
        "SectionOutOfBounds",
        "ManifestDecode",
    ] {
        assert!(seen.contains(expected), "{expected} never seen: {seen:?}");
    }
}

/// Non-finite section values and inputs are errors.
#[test]
fn gp_non_finite_values_are_errors() {
    for blob in valid_gp_blobs().into_iter().take(1) {
        let gp = GpModel::parse(&blob).unwrap();
        let spec: GpSpec = postcard::from_bytes(manifest_and_rest(&blob).1).unwrap();
        let mut input = vec![0.0f32; gp.input_len()];
        input[0] = f32::NAN;
        let mut arena = vec![0u8; gp.arena_len()];
        let (mut m, mut v) = ([0.0f32], [0.0f32]);
        assert_eq!(
            gp.run(&input, &mut arena, &mut m, &mut v),
            Err(Error::InputNotFinite)
        );
        for section in [spec.inducing_inputs, spec.chol, spec.mean_weights] {
            let mut damaged = blob.clone();
            let at = section.offset as usize;
            damaged[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
            reseal(&mut damaged);
            assert_eq!(GpModel::parse(&damaged).err(), Some(Error::NonFiniteValue));
        }
    }
}

/// `blob`'s manifest, read by the runtime's own decoder (the runtime does not deserialise a
/// `Manifest` with serde), and the bytes after it in the manifest region: the layers, a GP spec
/// and its trailer, as postcard wrote them.
fn manifest_and_rest(blob: &[u8]) -> (Manifest<'_>, &[u8]) {
    let (_, manifest, rest) = mote_runtime::manifest::decode(blob).unwrap();
    (manifest, rest)
}
