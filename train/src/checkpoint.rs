//! The float checkpoint: what training produces and the exporter quantises.
//!
//! A checkpoint is self-contained: input standardisation (and, for regression, target
//! de-standardisation) is folded into the first and last layers, so [`Checkpoint::forward`]
//! maps raw features to raw outputs. On disk it is a safetensors file; the exact layout is
//! specified in `train/CHECKPOINT.md`. Files are written with sorted JSON keys and a fixed
//! tensor order, so the same model always produces the same bytes.

use crate::nn::Activation;
use core::fmt;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::Path;

/// The `format` metadata value that identifies a mote checkpoint.
pub const FORMAT_NAME: &str = "mote-checkpoint";
/// The checkpoint format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Prefix of metadata keys that carry [`Checkpoint::meta`] entries.
pub const META_PREFIX: &str = "meta.";

/// A trained float model: dense layers run in order, plus task and provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Layers run in order; layer `i + 1`'s input length is layer `i`'s output length.
    pub layers: Vec<DenseLayer>,
    /// What the outputs mean.
    pub task: Task,
    /// Provenance: data fingerprint, seed, epochs, hyperparameters, metrics, ...
    pub meta: BTreeMap<String, String>,
}

/// One fully connected layer `y = activation(W x + b)` in f32.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseLayer {
    /// Length of `x`.
    pub input_len: usize,
    /// Length of `y`.
    pub output_len: usize,
    /// `W`, row-major `output_len x input_len` (one row per output channel, as int8 kernels
    /// and per-channel quantisation want it).
    pub weight: Vec<f32>,
    /// `b`, `output_len` long.
    pub bias: Vec<f32>,
    /// Applied elementwise after the affine map.
    pub activation: Activation,
}

/// What the model's outputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `classes` logits; the prediction is their argmax.
    Classification {
        /// Number of classes (equals the output length).
        classes: usize,
    },
    /// One value per output, in the target's original units.
    Regression,
}

/// Why a checkpoint could not be saved, loaded or validated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The bytes are not a valid safetensors file.
    Safetensors(String),
    /// The file is safetensors but not a mote checkpoint (missing or foreign `format`).
    NotACheckpoint,
    /// A mote checkpoint of a version this build does not read.
    UnsupportedVersion(String),
    /// A required `__metadata__` key is absent.
    MissingMetadata(String),
    /// A `__metadata__` value cannot be understood.
    BadMetadata {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// A required tensor is absent.
    MissingTensor(String),
    /// A tensor has the wrong dtype, shape, or non-finite values.
    BadTensor {
        /// The tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The layers do not form a valid model (empty, mismatched lengths, wrong task size).
    InvalidModel(String),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { path, message } => write!(f, "{path}: {message}"),
            CheckpointError::Safetensors(m) => write!(f, "not a valid safetensors file: {m}"),
            CheckpointError::NotACheckpoint => {
                write!(
                    f,
                    "not a mote checkpoint (metadata \"format\" is not \"{FORMAT_NAME}\")"
                )
            }
            CheckpointError::UnsupportedVersion(v) => {
                write!(f, "checkpoint format version {v} is not supported (this build reads {FORMAT_VERSION})")
            }
            CheckpointError::MissingMetadata(k) => write!(f, "checkpoint metadata lacks \"{k}\""),
            CheckpointError::BadMetadata { key, value } => {
                write!(
                    f,
                    "checkpoint metadata \"{key}\" has an invalid value {value:?}"
                )
            }
            CheckpointError::MissingTensor(n) => write!(f, "checkpoint lacks tensor \"{n}\""),
            CheckpointError::BadTensor { name, reason } => {
                write!(f, "checkpoint tensor \"{name}\": {reason}")
            }
            CheckpointError::InvalidModel(m) => write!(f, "invalid model: {m}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

impl DenseLayer {
    /// Runs the layer on one input vector (f64 accumulation, f32 result).
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(
            x.len(),
            self.input_len,
            "DenseLayer::forward: wrong input length"
        );
        self.weight
            .chunks_exact(self.input_len.max(1))
            .take(self.output_len)
            .zip(&self.bias)
            .map(|(w, &b)| {
                let z = w.iter().zip(x).fold(f64::from(b), |acc, (&w, &x)| {
                    acc + f64::from(w) * f64::from(x)
                });
                self.activation.apply_f64(z) as f32
            })
            .collect()
    }
}

fn tensor_name(layer: usize, what: &str) -> String {
    format!("layers.{layer}.{what}")
}

impl Checkpoint {
    /// Input length of the first layer (the number of raw features). 0 for an empty model.
    pub fn input_len(&self) -> usize {
        self.layers.first().map_or(0, |l| l.input_len)
    }

    /// Output length of the last layer (classes or regression outputs). 0 for an empty model.
    pub fn output_len(&self) -> usize {
        self.layers.last().map_or(0, |l| l.output_len)
    }

    /// Raw features in, raw outputs out (logits for classification, target units for regression).
    ///
    /// Panics if `features.len() != self.input_len()` or the model is invalid
    /// (see [`Checkpoint::validate`]; loaded checkpoints are always valid).
    pub fn forward(&self, features: &[f32]) -> Vec<f32> {
        self.layers
            .iter()
            .fold(features.to_vec(), |x, layer| layer.forward(&x))
    }

    /// Predicted class (argmax of [`Checkpoint::forward`]), for classification models.
    pub fn predict_class(&self, features: &[f32]) -> usize {
        crate::metrics::argmax(&self.forward(features))
    }

    /// Checks the structure: non-empty, consistent lengths, finite values, task size matches.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        let invalid = |m: String| Err(CheckpointError::InvalidModel(m));
        if self.layers.is_empty() {
            return invalid("no layers".into());
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.input_len == 0 || l.output_len == 0 {
                return invalid(format!("layer {i} has a zero length"));
            }
            if Some(l.weight.len()) != l.input_len.checked_mul(l.output_len)
                || l.bias.len() != l.output_len
            {
                return invalid(format!(
                    "layer {i}: weight/bias lengths do not match {}x{}",
                    l.output_len, l.input_len
                ));
            }
            if !l.weight.iter().chain(&l.bias).all(|v| v.is_finite()) {
                return invalid(format!("layer {i} has non-finite values"));
            }
            if i > 0 && self.layers[i - 1].output_len != l.input_len {
                return invalid(format!(
                    "layer {i} input length {} != previous output length",
                    l.input_len
                ));
            }
        }
        if let Task::Classification { classes } = self.task {
            if classes != self.output_len() {
                return invalid(format!(
                    "{classes} classes but {} outputs",
                    self.output_len()
                ));
            }
        }
        Ok(())
    }

    /// Serialises to safetensors bytes (layout in `train/CHECKPOINT.md`); deterministic.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        self.validate()?;
        let mut metadata = serde_json::Map::new();
        let mut put =
            |k: &str, v: String| metadata.insert(k.to_string(), serde_json::Value::String(v));
        put("format", FORMAT_NAME.into());
        put("format_version", FORMAT_VERSION.to_string());
        put("layers", self.layers.len().to_string());
        put(
            "activations",
            self.layers
                .iter()
                .map(|l| l.activation.name())
                .collect::<Vec<_>>()
                .join(","),
        );
        match self.task {
            Task::Classification { classes } => {
                put("task", "classification".into());
                put("classes", classes.to_string());
            }
            Task::Regression => {
                put("task", "regression".into());
            }
        }
        for (k, v) in &self.meta {
            put(&format!("{META_PREFIX}{k}"), v.clone());
        }

        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::Value::Object(metadata));
        let mut body = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            for (what, values, shape) in [
                ("weight", &l.weight, vec![l.output_len, l.input_len]),
                ("bias", &l.bias, vec![l.output_len]),
            ] {
                let start = body.len();
                body.extend(values.iter().flat_map(|v| v.to_le_bytes()));
                let info = serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [start, body.len()] });
                header.insert(tensor_name(i, what), info);
            }
        }
        write_safetensors(header, body)
    }

    /// Parses safetensors bytes written by [`Checkpoint::to_bytes`]; never panics on bad input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let (tensors, metadata) = read_safetensors(bytes)?;
        metadata.check_format(FORMAT_NAME, FORMAT_VERSION)?;
        let n_layers: usize = metadata.parse("layers")?;
        if n_layers == 0 || n_layers.checked_mul(2) != Some(tensors.len()) {
            return Err(CheckpointError::InvalidModel(format!(
                "metadata says {n_layers} layers but the file holds {} tensors (expected 2 per layer)",
                tensors.len()
            )));
        }
        let activations = metadata.activations(n_layers)?;
        let task = match metadata.get("task")? {
            "regression" => Task::Regression,
            "classification" => Task::Classification {
                classes: metadata.parse("classes")?,
            },
            other => return Err(bad_metadata("task", other)),
        };

        let read = |name: String, rank: usize| read_f32_tensor(&tensors, name, rank);
        let mut layers = Vec::with_capacity(n_layers);
        for (i, activation) in activations.into_iter().enumerate() {
            let (wshape, weight) = read(tensor_name(i, "weight"), 2)?;
            let (bshape, bias) = read(tensor_name(i, "bias"), 1)?;
            if bshape[0] != wshape[0] {
                return Err(CheckpointError::BadTensor {
                    name: tensor_name(i, "bias"),
                    reason: format!("length {} but the weight has {} rows", bshape[0], wshape[0]),
                });
            }
            layers.push(DenseLayer {
                input_len: wshape[1],
                output_len: wshape[0],
                weight,
                bias,
                activation,
            });
        }
        let meta = metadata.user_entries();
        let checkpoint = Checkpoint { layers, task, meta };
        checkpoint.validate()?;
        Ok(checkpoint)
    }

    /// Writes the checkpoint to `path` (see [`Checkpoint::to_bytes`]).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|e| CheckpointError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Reads and validates a checkpoint from `path`.
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|e| CheckpointError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Checkpoint::from_bytes(&bytes)
    }
}

/// A safetensors file from its JSON header (tensor entries and `__metadata__`) and the tensor
/// bytes: the header padded with spaces so the data starts 8-byte aligned, as writers do.
pub(crate) fn write_safetensors(
    header: serde_json::Map<String, serde_json::Value>,
    body: Vec<u8>,
) -> Result<Vec<u8>, CheckpointError> {
    let mut header_bytes = serde_json::to_vec(&serde_json::Value::Object(header))
        .map_err(|e| CheckpointError::Safetensors(e.to_string()))?;
    while header_bytes.len() % 8 != 0 {
        header_bytes.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header_bytes.len() + body.len());
    out.extend((header_bytes.len() as u64).to_le_bytes());
    out.extend(header_bytes);
    out.extend(body);
    Ok(out)
}

/// The tensors and the string metadata of safetensors `bytes`; never panics on bad input.
pub(crate) fn read_safetensors(
    bytes: &[u8],
) -> Result<(SafeTensors<'_>, Metadata), CheckpointError> {
    let st_err = |e: safetensors::SafeTensorError| CheckpointError::Safetensors(e.to_string());
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(st_err)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(st_err)?;
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok((tensors, Metadata(metadata)))
}

/// The string metadata of a mote safetensors file, read with errors that name the key.
pub(crate) struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Checks that `format` is `name` (else [`CheckpointError::NotACheckpoint`]) and that
    /// `format_version` is `version`.
    pub(crate) fn check_format(&self, name: &str, version: u32) -> Result<(), CheckpointError> {
        if self.0.get("format").map(String::as_str) != Some(name) {
            return Err(CheckpointError::NotACheckpoint);
        }
        let found = self.get("format_version")?;
        if found.parse::<u32>() != Ok(version) {
            return Err(CheckpointError::UnsupportedVersion(found.to_string()));
        }
        Ok(())
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &str) -> Result<&str, CheckpointError> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| CheckpointError::MissingMetadata(key.to_string()))
    }

    /// The value of `key` parsed as a `T`.
    pub(crate) fn parse<T: std::str::FromStr>(&self, key: &str) -> Result<T, CheckpointError> {
        let value = self.get(key)?;
        value.parse().map_err(|_| bad_metadata(key, value))
    }

    /// The comma-separated activation names under `activations`, one per layer.
    pub(crate) fn activations(&self, n_layers: usize) -> Result<Vec<Activation>, CheckpointError> {
        let text = self.get("activations")?;
        text.split(',')
            .map(Activation::from_name)
            .collect::<Option<Vec<_>>>()
            .filter(|a| a.len() == n_layers)
            .ok_or_else(|| bad_metadata("activations", text))
    }

    /// The free-form entries (keys under [`META_PREFIX`], prefix stripped).
    pub(crate) fn user_entries<C: FromIterator<(String, String)>>(&self) -> C {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(META_PREFIX)
                    .map(|k| (k.to_string(), v.clone()))
            })
            .collect()
    }
}

/// The error for metadata `key` holding a `value` that cannot be understood.
pub(crate) fn bad_metadata(key: &str, value: &str) -> CheckpointError {
    CheckpointError::BadMetadata {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// The F32 tensor `name` of rank `rank`: its shape and values.
pub(crate) fn read_f32_tensor(
    tensors: &SafeTensors<'_>,
    name: String,
    rank: usize,
) -> Result<(Vec<usize>, Vec<f32>), CheckpointError> {
    let view = tensors
        .tensor(&name)
        .map_err(|_| CheckpointError::MissingTensor(name.clone()))?;
    let fail = |reason: String| CheckpointError::BadTensor {
        name: name.clone(),
        reason,
    };
    if view.dtype() != Dtype::F32 {
        return Err(fail(format!("dtype is {:?}, expected F32", view.dtype())));
    }
    if view.shape().len() != rank {
        return Err(fail(format!(
            "shape {:?} should have rank {rank}",
            view.shape()
        )));
    }
    let values = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((view.shape().to_vec(), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let layers = vec![
            DenseLayer {
                input_len: 3,
                output_len: 2,
                weight: vec![0.5, -1.0, 0.25, 2.0, 0.0, -0.5],
                bias: vec![0.1, -0.2],
                activation: Activation::Relu,
            },
            DenseLayer {
                input_len: 2,
                output_len: 2,
                weight: vec![1.0, -1.0, 0.5, 0.5],
                bias: vec![0.0, 1.0],
                activation: Activation::Identity,
            },
        ];
        let mut meta = BTreeMap::new();
        meta.insert("seed".to_string(), "42".to_string());
        meta.insert("note".to_string(), "quotes \" and, commas".to_string());
        Checkpoint {
            layers,
            task: Task::Classification { classes: 2 },
            meta,
        }
    }

    #[test]
    fn forward_computes_dense_layers() {
        let c = sample();
        // Layer 0: [0.5 - 2 + 0.75 + 0.1, 2 - 1.5 - 0.2] = [-0.65 -> 0, 0.3]
        let y = c.forward(&[1.0, 2.0, 3.0]);
        assert!(
            (y[0] - -0.3).abs() < 1e-6 && (y[1] - 1.15).abs() < 1e-6,
            "{y:?}"
        );
        assert_eq!((c.input_len(), c.output_len()), (3, 2));
    }

    #[test]
    fn round_trip_through_a_file() {
        let c = sample();
        let dir = std::env::temp_dir().join(format!("mote-train-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        c.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, c);
        // Deterministic bytes, and the official safetensors reader agrees on the tensors.
        assert_eq!(std::fs::read(&path).unwrap(), c.to_bytes().unwrap());
        let bytes = c.to_bytes().unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("layers.0.weight").unwrap().shape(), &[2, 3]);
        let mut r = c.clone();
        r.task = Task::Regression;
        r.layers
            .iter_mut()
            .for_each(|l| l.activation = Activation::Sigmoid);
        assert_eq!(Checkpoint::from_bytes(&r.to_bytes().unwrap()).unwrap(), r);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        let good = sample().to_bytes().unwrap();
        // Every truncation and many single-byte corruptions must fail cleanly (or, rarely,
        // still decode to a valid checkpoint), never panic.
        for len in 0..good.len() {
            let _ = Checkpoint::from_bytes(&good[..len]);
        }
        for i in 0..good.len() {
            for flip in [0x01u8, 0x20, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= flip;
                let _ = Checkpoint::from_bytes(&b);
            }
        }
        assert!(matches!(
            Checkpoint::from_bytes(b"nonsense"),
            Err(CheckpointError::Safetensors(_))
        ));
        let err = Checkpoint::load(Path::new("/nonexistent/model.safetensors")).unwrap_err();
        assert!(matches!(err, CheckpointError::Io { .. }));
    }

    #[test]
    fn metadata_errors_are_specific() {
        let bytes = sample().to_bytes().unwrap();
        // Replace a same-length piece of the JSON header, so offsets stay valid.
        let swap = |from: &str, to: &str| {
            assert_eq!(from.len(), to.len(), "keep the header length");
            let start = bytes
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .expect("pattern in header");
            let mut b = bytes.clone();
            b[start..start + to.len()].copy_from_slice(to.as_bytes());
            Checkpoint::from_bytes(&b).unwrap_err()
        };
        assert_eq!(
            swap("mote-checkpoint", "xote-checkpoint"),
            CheckpointError::NotACheckpoint
        );
        assert_eq!(
            swap("\"format_version\":\"1\"", "\"format_version\":\"9\""),
            CheckpointError::UnsupportedVersion("9".into())
        );
        assert!(matches!(
            swap("relu,identity", "relu,identitx"),
            CheckpointError::BadMetadata { .. }
        ));
        assert!(matches!(
            swap("\"classes\":\"2\"", "\"classes\":\"3\""),
            CheckpointError::InvalidModel(_)
        ));
        assert!(matches!(
            swap("\"F32\"", "\"I32\""),
            CheckpointError::BadTensor { .. }
        ));
    }

    #[test]
    fn invalid_models_are_not_saved() {
        let mut c = sample();
        c.layers[1].input_len = 3;
        assert!(matches!(
            c.to_bytes(),
            Err(CheckpointError::InvalidModel(_))
        ));
        let mut c = sample();
        c.layers[0].bias[0] = f32::NAN;
        assert!(c.to_bytes().is_err());
        let empty = Checkpoint {
            layers: vec![],
            task: Task::Regression,
            meta: BTreeMap::new(),
        };
        assert!(empty.validate().is_err());
    }
}
