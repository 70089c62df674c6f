//! mote-train: the host-side training core of mote.
//!
//! It trains small models (today: MLPs) in f64 on the host and hands the exporter a
//! self-contained float [`Checkpoint`] whose `forward` maps raw features to raw outputs.
//!
//! - [`tape`]: reverse-mode autodiff over dense matrices (gradient-checked op by op);
//! - [`nn`], [`mlp`]: dense layers, activations and the MLP model;
//! - [`optim`]: Adam and SGD;
//! - [`data`]: CSV data sets, the `i % 5 == 4` test split and a provenance fingerprint;
//! - [`metrics`]: accuracy, RMSE, MAE;
//! - [`checkpoint`]: the float checkpoint and its safetensors file (see `CHECKPOINT.md`);
//! - [`train`]: [`train_classifier`] and [`train_regressor`];
//! - [`prng`]: the seeded generator behind reproducible runs;
//! - [`conv`], [`norm`], [`cnn`]: convolution, pooling and batch norm on the tape, and the CNN
//!   teacher built from them;
//! - [`distill`]: students trained from a teacher (KD, FitNet, Variational Information
//!   Distillation);
//! - [`gp`]: sparse Gaussian processes (SGPR, SVGP), their kernels, linear algebra on the
//!   tape, the parameter file (see `GP_PARAMS.md`) and the Friedman #1 generator;
//! - [`linear`]: least-squares linear regression, the baseline for GP regression;
//! - [`moderation`]: moderation policies, labelled messages and the text classifier.
//! - [`rec`]: recommendations: interaction logs, the platform simulator, the co-interaction
//!   graph, the heterogeneous GNN and the evaluation scaffold.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod cnn;
pub mod conv;
pub mod data;
pub mod distill;
pub mod gp;
pub mod linear;
pub mod metrics;
pub mod mlp;
pub mod moderation;
pub mod nn;
pub mod norm;
pub mod optim;
pub mod prng;
pub mod rec;
pub mod tape;
pub mod train;

pub use checkpoint::{Checkpoint, CheckpointError, DenseLayer, Task};
pub use data::{DataError, Dataset};
pub use nn::Activation;
pub use train::{train_classifier, train_regressor, EpochReport, TrainConfig};
