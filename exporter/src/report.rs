//! The accuracy and memory report of an export: float checkpoint against its int8 blob on
//! held-out data, and what the blob costs on a device.

use crate::evaluate::Runner;
use mote_train::data::Dataset;
use mote_train::metrics::{accuracy, rmse};
use mote_train::{Checkpoint, Task};
use std::fmt;

/// Float and int8 quality of one model on one data set, plus its footprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `accuracy` for classifiers, `rmse` for regressors.
    pub metric: &'static str,
    /// The float checkpoint's value of `metric`.
    pub float: f64,
    /// The int8 blob's value of `metric`, run through the runtime.
    pub int8: f64,
    /// Rows evaluated.
    pub rows: usize,
    /// Bytes of the blob (flash).
    pub blob_bytes: usize,
    /// Bytes of scratch memory one inference needs (RAM).
    pub arena_bytes: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
}

/// Runs `checkpoint` in float and `blob` in int8 on every row of `data`.
pub fn compare(
    checkpoint: &Checkpoint,
    blob: &[u8],
    data: &Dataset,
) -> Result<Report, mote_runtime::Error> {
    let mut runner = Runner::new(blob)?;
    let mut float_out = Vec::with_capacity(data.features.len());
    let mut int8_out = Vec::with_capacity(data.features.len());
    for row in &data.features {
        float_out.push(checkpoint.forward(row));
        int8_out.push(runner.run_real(row)?);
    }
    let (metric, float, int8) = match checkpoint.task {
        Task::Classification { .. } => (
            "accuracy",
            accuracy(&float_out, &data.targets),
            accuracy(&int8_out, &data.targets),
        ),
        Task::Regression => {
            let first = |rows: &[Vec<f32>]| -> Vec<f32> {
                rows.iter()
                    .map(|r| r.first().copied().unwrap_or(0.0))
                    .collect()
            };
            (
                "rmse",
                rmse(&first(&float_out), &data.targets),
                rmse(&first(&int8_out), &data.targets),
            )
        }
    };
    let model = runner.model();
    Ok(Report {
        metric,
        float,
        int8,
        rows: data.features.len(),
        blob_bytes: blob.len(),
        arena_bytes: model.arena_len(),
        macs: model.macs(),
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "held-out rows     {}", self.rows)?;
        writeln!(f, "float {:<11} {:.4}", self.metric, self.float)?;
        writeln!(f, "int8  {:<11} {:.4}", self.metric, self.int8)?;
        writeln!(f, "blob bytes        {}", self.blob_bytes)?;
        writeln!(f, "arena bytes       {}", self.arena_bytes)?;
        write!(f, "MACs/inference    {}", self.macs)
    }
}
