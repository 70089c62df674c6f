//! The moderation model file: a safetensors file, like the float checkpoint (`CHECKPOINT.md`).
//!
//! Tensors, all `F32`: `embedding` `[2^bucket_bits, embedding_dim]` (row `b` is bucket `b`'s
//! vector), and per MLP layer `i` `layers.{i}.weight` `[output_len, input_len]` and
//! `layers.{i}.bias` `[output_len]`. `__metadata__` (strings): `format` = `mote-moderation`,
//! `format_version` = `1`, `bucket_bits`, `embedding_dim`, optional `shapes` (the shapes whose
//! presence follows the mean embedding in the MLP's input, e.g. `email,phone`), `layers`, `activations` (one name per
//! layer, comma-separated), `thresholds` (one per category, comma-separated), `policy` (the
//! policy file's text, verbatim), `policy_hash` (its content hash, checked on load) and
//! `meta.{key}` provenance entries. Written deterministically (sorted keys, fixed tensor order).

use super::classifier::ModerationModel;
use super::policy::Policy;
use crate::checkpoint::{
    bad_metadata, read_f32_tensor, read_safetensors, write_safetensors, CheckpointError,
    DenseLayer, META_PREFIX,
};
use mote_runtime::text::Shape;
use std::path::Path;

/// The `format` metadata value of a moderation model file.
pub const FORMAT_NAME: &str = "mote-moderation";
/// The version of the file layout this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

fn invalid(message: impl Into<String>) -> CheckpointError {
    CheckpointError::InvalidModel(message.into())
}

/// `email,phone`: the names of the shapes of a mask, in bit order.
pub fn shape_names(mask: u8) -> String {
    let names: Vec<&str> = Shape::in_mask(mask).map(Shape::name).collect();
    names.join(",")
}

/// The mask of comma-separated shape names (each at most once); `None` for an unknown name.
pub fn parse_shapes(names: &str) -> Option<u8> {
    let mut mask = 0u8;
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let shape = Shape::ALL.iter().find(|s| s.name() == name)?;
        if mask & shape.bit() != 0 {
            return None;
        }
        mask |= shape.bit();
    }
    Some(mask)
}

impl ModerationModel {
    /// Checks shapes, finiteness and that the outputs match the policy's categories.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        let buckets = 1usize
            .checked_shl(u32::from(self.bucket_bits))
            .filter(|_| {
                (mote_runtime::text::MIN_BUCKET_BITS..=mote_runtime::text::MAX_BUCKET_BITS)
                    .contains(&self.bucket_bits)
            })
            .ok_or_else(|| invalid(format!("bucket bits {} out of range", self.bucket_bits)))?;
        if self.embedding_dim == 0
            || Some(self.embedding.len()) != buckets.checked_mul(self.embedding_dim)
        {
            return Err(invalid(
                "the embedding table does not hold 2^bits rows of embedding_dim",
            ));
        }
        if !self.embedding.iter().all(|v| v.is_finite()) {
            return Err(invalid("the embedding table has non-finite values"));
        }
        if self.shapes >> Shape::ALL.len() != 0 {
            return Err(invalid(format!("unknown shape bits {:#x}", self.shapes)));
        }
        let mut previous = self.embedding_dim + self.shapes.count_ones() as usize;
        for (i, l) in self.layers.iter().enumerate() {
            if l.input_len != previous
                || l.output_len == 0
                || l.weight.len() != l.input_len * l.output_len
                || l.bias.len() != l.output_len
            {
                return Err(invalid(format!("layer {i} has inconsistent shapes")));
            }
            if !l.weight.iter().chain(&l.bias).all(|v| v.is_finite()) {
                return Err(invalid(format!("layer {i} has non-finite values")));
            }
            previous = l.output_len;
        }
        let categories = self.policy.categories.len();
        if self.layers.is_empty() || previous != categories {
            return Err(invalid(format!(
                "the model has {previous} outputs but the policy {categories} categories"
            )));
        }
        if self.thresholds.len() != categories || !self.thresholds.iter().all(|t| t.is_finite()) {
            return Err(invalid("need one finite threshold per category"));
        }
        Ok(())
    }

    /// Serialises to safetensors bytes (layout in the module docs); deterministic.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        self.validate()?;
        let mut metadata = serde_json::Map::new();
        let mut put =
            |k: &str, v: String| metadata.insert(k.to_string(), serde_json::Value::String(v));
        put("format", FORMAT_NAME.into());
        put("format_version", FORMAT_VERSION.to_string());
        put("bucket_bits", self.bucket_bits.to_string());
        put("embedding_dim", self.embedding_dim.to_string());
        if self.shapes != 0 {
            put("shapes", shape_names(self.shapes));
        }
        put("layers", self.layers.len().to_string());
        let activations: Vec<&str> = self.layers.iter().map(|l| l.activation.name()).collect();
        put("activations", activations.join(","));
        let thresholds: Vec<String> = self.thresholds.iter().map(f32::to_string).collect();
        put("thresholds", thresholds.join(","));
        put("policy", self.policy_text.clone());
        put("policy_hash", self.policy.content_hash());
        for (k, v) in &self.meta {
            put(&format!("{META_PREFIX}{k}"), v.clone());
        }
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::Value::Object(metadata));
        let mut body = Vec::new();
        let mut tensor = |name: String, values: &[f32], shape: Vec<usize>| {
            let start = body.len();
            body.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            let info = serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [start, body.len()] });
            header.insert(name, info);
        };
        tensor(
            "embedding".into(),
            &self.embedding,
            vec![
                self.embedding.len() / self.embedding_dim,
                self.embedding_dim,
            ],
        );
        for (i, l) in self.layers.iter().enumerate() {
            tensor(
                format!("layers.{i}.weight"),
                &l.weight,
                vec![l.output_len, l.input_len],
            );
            tensor(format!("layers.{i}.bias"), &l.bias, vec![l.output_len]);
        }
        write_safetensors(header, body)
    }

    /// Parses bytes written by [`ModerationModel::to_bytes`]; never panics on bad input.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModerationModel, CheckpointError> {
        let (tensors, metadata) = read_safetensors(bytes)?;
        metadata.check_format(FORMAT_NAME, FORMAT_VERSION)?;
        let bucket_bits = u8::try_from(metadata.parse::<usize>("bucket_bits")?)
            .map_err(|_| bad_metadata("bucket_bits", metadata.get("bucket_bits").unwrap_or("")))?;
        let embedding_dim = metadata.parse("embedding_dim")?;
        let shapes = match metadata.get("shapes") {
            Ok(names) => parse_shapes(names).ok_or_else(|| bad_metadata("shapes", names))?,
            Err(_) => 0,
        };
        let n_layers: usize = metadata.parse("layers")?;
        if n_layers == 0 || n_layers > 64 {
            return Err(invalid(format!("{n_layers} layers")));
        }
        let activations = metadata.activations(n_layers)?;
        let thresholds_text = metadata.get("thresholds")?;
        let thresholds = thresholds_text
            .split(',')
            .map(|t| t.parse::<f32>().ok())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad_metadata("thresholds", thresholds_text))?;
        let policy_text = metadata.get("policy")?;
        let policy = Policy::parse(policy_text)
            .map_err(|e| invalid(format!("the embedded policy does not parse: {e}")))?;
        let stored_hash = metadata.get("policy_hash")?;
        if stored_hash != policy.content_hash() {
            return Err(bad_metadata("policy_hash", stored_hash));
        }
        let read = |name: String, rank: usize| read_f32_tensor(&tensors, name, rank);
        let (_, embedding) = read("embedding".into(), 2)?;
        let mut layers = Vec::with_capacity(n_layers);
        for (i, activation) in activations.into_iter().enumerate() {
            let (shape, weight) = read(format!("layers.{i}.weight"), 2)?;
            let (_, bias) = read(format!("layers.{i}.bias"), 1)?;
            layers.push(DenseLayer {
                input_len: shape[1],
                output_len: shape[0],
                weight,
                bias,
                activation,
            });
        }
        if tensors.len() != 1 + 2 * n_layers {
            return Err(invalid(format!(
                "the file holds {} tensors; expected {}",
                tensors.len(),
                1 + 2 * n_layers
            )));
        }
        let meta = metadata.user_entries();
        let model = ModerationModel {
            policy,
            policy_text: policy_text.to_string(),
            bucket_bits,
            embedding_dim,
            shapes,
            embedding,
            layers,
            thresholds,
            meta,
        };
        model.validate()?;
        Ok(model)
    }

    /// Writes the model to `path`.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let bytes = self.to_bytes()?;
        let io = |e: std::io::Error| CheckpointError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        // Create the folder, as every other writer of the CLI does.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, bytes).map_err(io)
    }

    /// Reads and validates a model file.
    pub fn load(path: &Path) -> Result<ModerationModel, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|e| CheckpointError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        ModerationModel::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use std::collections::BTreeMap;

    fn tiny() -> ModerationModel {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/moderation/policy.toml"),
        )
        .unwrap();
        let policy = Policy::parse(&text).unwrap();
        ModerationModel {
            policy,
            policy_text: text,
            bucket_bits: 4,
            embedding_dim: 2,
            shapes: 0,
            embedding: (0..32).map(|i| i as f32 * 0.1 - 1.0).collect(),
            layers: vec![DenseLayer {
                input_len: 2,
                output_len: 4,
                weight: vec![0.5, -0.25, 1.0, 0.0, -1.0, 2.0, 0.125, 0.75],
                bias: vec![0.0, 0.1, -0.1, 0.2],
                activation: Activation::Identity,
            }],
            thresholds: vec![0.5, 0.625, 0.25, 0.9],
            meta: [("seed".to_string(), "3".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let m = tiny();
        let bytes = m.to_bytes().unwrap();
        let back = ModerationModel::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_bytes().unwrap(), bytes);
        assert_eq!(back.probabilities("hello there").len(), 4);
    }

    #[test]
    fn shapes_round_trip_and_widen_the_input() {
        let mut m = tiny();
        m.shapes = Shape::Email.bit() | Shape::Phone.bit();
        assert!(m.to_bytes().is_err(), "the layer still takes 2 inputs");
        m.layers[0].input_len = 4;
        m.layers[0].weight.extend([0.5; 8]);
        let back = ModerationModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.bag_vector("mail jane.doe@example.com").len(), 4);
        assert_eq!(
            &back.bag_vector("mail jane.doe@example.com")[2..],
            &[1.0, 0.0]
        );
        assert_eq!(shape_names(m.shapes), "email,phone");
        assert_eq!(parse_shapes("phone, email"), Some(m.shapes));
        assert_eq!(parse_shapes(""), Some(0));
        assert_eq!(parse_shapes("email,email"), None);
        assert_eq!(parse_shapes("address"), Some(Shape::Address.bit()));
        assert_eq!(parse_shapes("postcode"), None);
    }

    #[test]
    fn damaged_files_are_errors() {
        let m = tiny();
        let bytes = m.to_bytes().unwrap();
        for cut in [0, 7, 8, 100, bytes.len() - 1] {
            assert!(ModerationModel::from_bytes(&bytes[..cut]).is_err());
        }
        let mut wrong = m.clone();
        wrong.thresholds.pop();
        assert!(wrong.to_bytes().is_err());
        let mut wrong = m.clone();
        wrong.embedding.pop();
        assert!(wrong.to_bytes().is_err());
        // A policy text edited after training no longer matches the recorded hash.
        let mut edited = m.clone();
        edited.policy_text = edited.policy_text.replace("Unsolicited", "Unwanted");
        let e = ModerationModel::from_bytes(&edited.to_bytes().unwrap()).unwrap_err();
        assert!(
            matches!(&e, CheckpointError::BadMetadata { key, .. } if key == "policy_hash"),
            "{e}"
        );
        let checkpoint = crate::Checkpoint {
            layers: m.layers.clone(),
            task: crate::Task::Regression,
            meta: BTreeMap::new(),
        };
        assert_eq!(
            ModerationModel::from_bytes(&checkpoint.to_bytes().unwrap()).unwrap_err(),
            CheckpointError::NotACheckpoint
        );
    }
}
