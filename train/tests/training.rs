//! End-to-end training tests on the bundled data sets (the `i % 5 == 4` test split).

use mote_train::{metrics, train_classifier, train_regressor, Checkpoint, Dataset, TrainConfig};
use std::path::{Path, PathBuf};

fn load(name: &str) -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name);
    Dataset::load_csv(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mote-train-{}-{name}", std::process::id()))
}

fn test_accuracy(model: &Checkpoint, test: &Dataset) -> f64 {
    let rows: Vec<Vec<f32>> = test.features.iter().map(|x| model.forward(x)).collect();
    metrics::accuracy(&rows, &test.targets)
}

#[test]
fn digits_reaches_97_percent() {
    let (train, test) = load("digits.csv").split_mod5();
    let cfg = TrainConfig::default();
    let mut epochs_seen = 0;
    let model = train_classifier(&train, 10, &cfg, &mut |r| epochs_seen = r.epoch);
    assert_eq!(epochs_seen, cfg.epochs);
    let acc = test_accuracy(&model, &test);
    assert!(acc >= 0.97, "digits test accuracy {acc}");
    assert_eq!((model.input_len(), model.output_len()), (64, 10));
    // The checkpoint is self-contained: it survives a save/load with identical outputs.
    let path = temp_path("digits.safetensors");
    model.save(&path).unwrap();
    let loaded = Checkpoint::load(&path).unwrap();
    assert_eq!(loaded, model);
    assert_eq!(test_accuracy(&loaded, &test), acc);
    std::fs::remove_file(&path).ok();
}

#[test]
fn same_seed_gives_bit_identical_checkpoint() {
    let (train, _) = load("digits.csv").split_mod5();
    let cfg = TrainConfig {
        epochs: 3,
        ..TrainConfig::default()
    };
    let a = train_classifier(&train, 10, &cfg, &mut |_| {});
    let b = train_classifier(&train, 10, &cfg, &mut |_| {});
    let (pa, pb) = (temp_path("a.safetensors"), temp_path("b.safetensors"));
    a.save(&pa).unwrap();
    b.save(&pb).unwrap();
    assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    std::fs::remove_file(&pa).ok();
    std::fs::remove_file(&pb).ok();
    let c = train_classifier(&train, 10, &TrainConfig { seed: 1, ..cfg }, &mut |_| {});
    assert_ne!(
        c.layers, a.layers,
        "a different seed should give different weights"
    );
    assert_eq!(a.meta["train_fingerprint"], train.fingerprint());
}

#[test]
fn diabetes_regression_beats_the_mean() {
    let (train, test) = load("diabetes.csv").split_mod5();
    let cfg = TrainConfig {
        hidden: vec![16],
        ..TrainConfig::default()
    };
    let model = train_regressor(&train, &cfg, &mut |_| {});
    let predicted: Vec<f32> = test.features.iter().map(|x| model.forward(x)[0]).collect();
    let rmse = metrics::rmse(&predicted, &test.targets);
    let mean = test.targets.iter().sum::<f32>() / test.len() as f32;
    let baseline = metrics::rmse(&vec![mean; test.len()], &test.targets);
    assert!(
        rmse < 65.0 && rmse < 0.85 * baseline,
        "diabetes RMSE {rmse} (predict-the-mean {baseline})"
    );
    assert!(metrics::mean_absolute_error(&predicted, &test.targets) < rmse);
}

#[test]
fn breast_cancer_classifies() {
    let (train, test) = load("breast_cancer.csv").split_mod5();
    let model = train_classifier(
        &train,
        2,
        &TrainConfig {
            epochs: 30,
            ..TrainConfig::default()
        },
        &mut |_| {},
    );
    let acc = test_accuracy(&model, &test);
    assert!(acc >= 0.95, "breast cancer test accuracy {acc}");
}
