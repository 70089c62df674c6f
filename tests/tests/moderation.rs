//! Moderation blobs: any text moderates without panicking, damaged blobs are errors, the spec
//! after the layers is validated, and MLP blobs are not moderation blobs.

use mote_exporter::moderation::{export_moderation, ModerationExportOptions};
use mote_exporter::{build, ProvenanceInfo};
use mote_runtime::crc32::crc32;
use mote_runtime::header::{CRC_START, HEADER_LEN};
use mote_runtime::manifest::{Layer, Manifest};
use mote_runtime::moderation::ModerationSpec;
use mote_runtime::text::Shape;
use mote_runtime::{Error, Moderation};
use mote_tests::{random_mlp, SplitMix};
use mote_train::moderation::{ModerationModel, Policy};
use mote_train::{Activation, DenseLayer};

fn policy() -> (Policy, String) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/moderation/policy.toml"),
    )
    .unwrap();
    (Policy::parse(&text).unwrap(), text)
}

/// The shapes the random model reads beside its mean embedding.
const SHAPES: u8 = Shape::Bang.bit() | Shape::Email.bit();

/// An untrained but valid model (random weights): enough to exercise the format.
fn random_model(rng: &mut SplitMix) -> ModerationModel {
    let (policy, policy_text) = policy();
    let (bits, dim, hidden) = (6u8, 5usize, 7usize);
    let mut values = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| (rng.below(2001) as f32 - 1000.0) / 1000.0)
            .collect()
    };
    ModerationModel {
        policy,
        policy_text,
        bucket_bits: bits,
        embedding_dim: dim,
        shapes: SHAPES,
        embedding: values((1 << bits) * dim),
        layers: vec![
            DenseLayer {
                input_len: dim + 2,
                output_len: hidden,
                weight: values((dim + 2) * hidden),
                bias: values(hidden),
                activation: Activation::Relu,
            },
            DenseLayer {
                input_len: hidden,
                output_len: 4,
                weight: values(hidden * 4),
                bias: values(4),
                activation: Activation::Identity,
            },
        ],
        thresholds: vec![0.5, 0.3, 0.8, 0.999],
        meta: Default::default(),
    }
}

fn blob() -> Vec<u8> {
    let mut rng = SplitMix(21);
    let model = random_model(&mut rng);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/moderation");
    let messages =
        mote_train::moderation::Messages::load(&root.join("messages.csv"), &model.policy).unwrap();
    let options = ModerationExportOptions {
        source: "robustness".into(),
        ..Default::default()
    };
    export_moderation(&model, &messages, &options).unwrap().0
}

fn exercise(blob: &[u8], text: &[u8]) -> Result<(), Error> {
    let m = Moderation::parse(blob)?;
    let mut arena = vec![0u8; m.arena_len()];
    let mut scores = vec![0i8; m.categories()];
    m.moderate(text, &mut arena, &mut scores)?;
    Ok(())
}

fn reseal(blob: &mut [u8]) {
    let len = blob.len() as u32;
    blob[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&blob[CRC_START..]);
    blob[12..16].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn any_text_moderates() {
    let blob = blob();
    let m = Moderation::parse(&blob).unwrap();
    let mut rng = SplitMix(22);
    let mut arena = vec![0u8; m.arena_len()];
    let mut scores = vec![0i8; 4];
    for len in [0usize, 1, 2, 3, 17, 280, 5000] {
        for _ in 0..20 {
            let text: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let verdict = m.moderate(&text, &mut arena, &mut scores).unwrap();
            assert!(verdict.categories < 16);
        }
    }
    // A very long message is cut at the feature limit, not an error.
    let long = "spam ".repeat(40_000);
    let verdict = m
        .moderate(long.as_bytes(), &mut arena, &mut scores)
        .unwrap();
    assert_eq!(verdict.features, mote_runtime::moderation::MAX_FEATURES);
    // Wrongly sized buffers are errors.
    assert_eq!(
        m.moderate(b"hi", &mut arena, &mut [0i8; 3]).unwrap_err(),
        Error::OutputLength
    );
    if m.arena_len() > 0 {
        assert_eq!(
            m.moderate(b"hi", &mut [], &mut scores).unwrap_err(),
            Error::ArenaTooSmall
        );
    }
}

#[test]
fn damaged_moderation_blobs_never_panic() {
    let blob = blob();
    let mut rng = SplitMix(23);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..3000 {
        let mut damaged = blob.clone();
        for _ in 0..1 + rng.below(4) {
            let at = HEADER_LEN + rng.below(damaged.len() - HEADER_LEN);
            damaged[at] ^= 1 << rng.below(8);
        }
        reseal(&mut damaged);
        let key = match exercise(&damaged, b"Win a FREE prize at bit.ly/x, idiot!!") {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("{e:?}"),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    assert!(outcomes.len() >= 3, "{outcomes:?}");
    for cut in (0..blob.len()).step_by(7) {
        let mut short = blob[..cut].to_vec();
        if short.len() >= HEADER_LEN {
            reseal(&mut short);
        }
        assert!(exercise(&short, b"x").is_err(), "cut at {cut}");
    }
}

#[test]
fn spec_edits_are_errors() {
    let blob = blob();
    let manifest_len = u32::from_le_bytes(blob[16..20].try_into().unwrap()) as usize;
    // The runtime reads a `Manifest` with its own decoder, not serde; the rest is postcard.
    let (_, manifest, rest) = mote_runtime::manifest::decode(&blob).unwrap();
    let (layers, rest) = postcard::take_from_bytes::<Vec<Layer>>(rest).unwrap();
    let original: (Manifest<'_>, Vec<Layer>, ModerationSpec<'_>) =
        (manifest, layers, postcard::from_bytes(rest).unwrap());
    type Edit = fn(&mut ModerationSpec<'_>);
    let edits: [(Edit, Error); 10] = [
        (|s| s.shapes |= 0x20, Error::BadModerationSpec),
        // One shape fewer or more: the table no longer has `input.len - shapes` columns.
        (
            |s| s.shapes = Shape::Email.bit(),
            Error::SectionLengthMismatch,
        ),
        (|s| s.shapes = 0x0F, Error::SectionLengthMismatch),
        (|s| s.bucket_bits = 3, Error::BadDimension),
        (|s| s.bucket_bits = 7, Error::SectionLengthMismatch),
        (|s| s.embedding.len -= 1, Error::SectionLengthMismatch),
        (|s| s.embedding.offset += 1, Error::SectionMisaligned),
        (
            |s| s.categories[1].threshold = 129,
            Error::BadModerationSpec,
        ),
        (|s| s.categories[2].name = "", Error::BadModerationSpec),
        (
            |s| {
                s.categories.pop();
            },
            Error::BadModerationSpec,
        ),
    ];
    let mut checked = 0;
    for (edit, expected) in edits {
        let mut edited = original.clone();
        edit(&mut edited.2);
        let encoded = postcard::to_allocvec(&edited).unwrap();
        // Keep the data where it was: pad the manifest region back to its length.
        if encoded.len() > manifest_len {
            continue;
        }
        let mut damaged = blob.clone();
        damaged[HEADER_LEN..HEADER_LEN + encoded.len()].copy_from_slice(&encoded);
        damaged[16..20].copy_from_slice(&(encoded.len() as u32).to_le_bytes());
        for b in &mut damaged[HEADER_LEN + encoded.len()..HEADER_LEN + manifest_len] {
            *b = 0;
        }
        reseal(&mut damaged);
        assert_eq!(exercise(&damaged, b"x"), Err(expected));
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} edits fit the manifest");
}

#[test]
fn mlp_blobs_are_not_moderation_blobs() {
    let mlp = build(&random_mlp(&[6, 4], 3), &ProvenanceInfo::default()).unwrap();
    assert_eq!(
        Moderation::parse(&mlp).unwrap_err(),
        Error::UnsupportedModelKind
    );
    assert!(mote_runtime::Model::parse(&mlp)
        .unwrap()
        .moderation_spec()
        .unwrap()
        .is_none());
}
