//! `mote train teacher`, `mote train distill` and `mote eval distill`: a CNN teacher, MLP
//! students distilled from it and exported to int8, and the comparison table of the losses.

use super::train::progress_bar;
use super::{write_file, Result};
use indicatif::{ProgressBar, ProgressStyle};
use mote_exporter::pipeline::export_checkpoint;
use mote_exporter::ptq::RangeMethod;
use mote_exporter::report::Report;
use mote_train::cnn::{train_teacher, CnnTeacher, TeacherConfig, TeacherFeature, TeacherOutputs};
use mote_train::conv::ImageShape;
use mote_train::data::Dataset;
use mote_train::distill::{epochs_for, per_class_subset, train_student, DistillConfig, LossSpec};
use mote_train::{Checkpoint, TrainConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `mote train teacher`.
#[derive(clap::Args)]
pub struct TeacherArgs {
    /// CSV of images, one per row, pixels row-major, label last [default: the bundled digits].
    /// Rows with index % 5 == 4 are held out.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Image size HxW (one channel).
    #[arg(long, default_value = "8x8")]
    image: String,
    /// Where to write the teacher (safetensors, format mote-cnn-teacher).
    #[arg(long, short)]
    out: PathBuf,
    /// Passes over the training rows.
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Arguments of `mote train distill`.
#[derive(clap::Args)]
pub struct DistillArgs {
    /// A teacher file from `mote train teacher`, or `train` to train one first (about 10 s).
    #[arg(long, default_value = "train")]
    teacher: String,
    /// The student's layer widths, input first: `64-32-10` is 64 pixels, a ReLU hidden layer
    /// of 32 and 10 classes.
    #[arg(long, default_value = "64-32-10")]
    student: String,
    /// Loss: `ce`, or terms joined by `+` among `kd`, `fitnet`, `vid` (e.g. `vid+kd`).
    #[arg(long, default_value = "vid+kd")]
    loss: String,
    /// Labelled training rows per class, drawn reproducibly from the training split by the
    /// seed [default: every training row].
    #[arg(long)]
    per_class: Option<usize>,
    /// CSV of images [default: the bundled digits]; rows with index % 5 == 4 are held out.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Image size HxW of the data (for `--teacher train`).
    #[arg(long, default_value = "8x8")]
    image: String,
    /// Where to write the float student checkpoint.
    #[arg(long, short)]
    out: PathBuf,
    /// Where to write the int8 blob [default: --out with extension .mote].
    #[arg(long)]
    blob: Option<PathBuf>,
    /// With `--teacher train`: also save the trained teacher here.
    #[arg(long)]
    save_teacher: Option<PathBuf>,
    /// Seed of the subset, the student's initialisation and its shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Student epochs [default: enough for about 2,700 Adam steps].
    #[arg(long)]
    epochs: Option<usize>,
    /// KD temperature T.
    #[arg(long)]
    temperature: Option<f64>,
    /// Weight of the T²-scaled KD term.
    #[arg(long)]
    kd_weight: Option<f64>,
    /// Weight of each VID term.
    #[arg(long)]
    vid_weight: Option<f64>,
    /// Weight of the FitNet hint term.
    #[arg(long)]
    hint_weight: Option<f64>,
    /// Teacher features paired with student hidden layers (block1, block2, hidden), shallowest
    /// first; the last pairs with the student's last hidden layer.
    #[arg(long, value_delimiter = ',')]
    pairs: Option<Vec<String>>,
}

/// Arguments of `mote eval distill`.
#[derive(clap::Args)]
pub struct EvalDistillArgs {
    /// Where to write the Markdown table.
    #[arg(long, short, default_value = "docs/distillation.md")]
    out: PathBuf,
    /// Seeds per cell (seeds 0, 1, ...).
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Labelled rows per class, comma-separated; `all` for the whole training split.
    #[arg(long, value_delimiter = ',', default_value = "5,10,50,all")]
    per_class: Vec<String>,
    /// A teacher file, or `train` to train the default teacher (seed 0) first.
    #[arg(long, default_value = "train")]
    teacher: String,
    /// The students' layer widths.
    #[arg(long, default_value = "64-32-10")]
    student: String,
}

/// Parses `HxW` into a one-channel image shape.
fn parse_image(text: &str) -> Result<ImageShape> {
    let bad = || format!("--image {text:?}: expected HxW, e.g. 8x8");
    let (h, w) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let h: usize = h.trim().parse().map_err(|_| bad())?;
    let w: usize = w.trim().parse().map_err(|_| bad())?;
    if h == 0 || w == 0 {
        return Err(bad());
    }
    Ok(ImageShape {
        channels: 1,
        height: h,
        width: w,
    })
}

/// Parses `64-32-10` into (inputs, hidden widths, classes).
fn parse_student(text: &str) -> Result<(usize, Vec<usize>, usize)> {
    let widths: Vec<usize> = text
        .split('-')
        .map(|w| w.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("--student {text:?}: expected widths like 64-32-10"))?;
    if widths.len() < 2 {
        return Err(format!(
            "--student {text:?}: give at least the input and output widths"
        ));
    }
    let n = widths.len();
    Ok((widths[0], widths[1..n - 1].to_vec(), widths[n - 1]))
}

fn load_data(path: Option<&Path>) -> Result<Dataset> {
    match path {
        Some(p) => super::load_csv(p),
        None => Ok(mote_train::data::digits()),
    }
}

/// Trains the default teacher with a progress bar and reports its held-out accuracy.
fn fit_teacher(train: &Dataset, test: &Dataset, cfg: &TeacherConfig) -> Result<(CnnTeacher, f64)> {
    let classes = train.num_classes();
    let (bar, mut on_epoch) = progress_bar(cfg.epochs);
    let teacher = train_teacher(train, classes, cfg, &mut on_epoch).map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let acc = teacher.accuracy(test).map_err(|e| e.to_string())?;
    Ok((teacher, acc))
}

fn teacher_meta(train: &Dataset, cfg: &TeacherConfig, acc: f64) -> BTreeMap<String, String> {
    [
        (
            "trainer",
            format!("mote-train {}", env!("CARGO_PKG_VERSION")),
        ),
        ("epochs", cfg.epochs.to_string()),
        ("seed", cfg.seed.to_string()),
        ("train_rows", train.len().to_string()),
        ("train_fingerprint", train.fingerprint()),
        ("test_accuracy", format!("{acc:.4}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `--teacher train` or a file: the teacher and a line describing it.
fn obtain_teacher(
    spec: &str,
    image: &str,
    train: &Dataset,
    test: &Dataset,
    save: Option<&Path>,
) -> Result<(CnnTeacher, f64)> {
    if spec == "train" {
        let cfg = TeacherConfig {
            image: parse_image(image)?,
            ..TeacherConfig::default()
        };
        if train.num_features() != cfg.image.len() {
            return Err(format!(
                "the data have {} features per row but --image {image} needs {}",
                train.num_features(),
                cfg.image.len()
            ));
        }
        let start = Instant::now();
        let (teacher, acc) = fit_teacher(train, test, &cfg)?;
        outln!(
            "teacher: trained CNN, test accuracy {:.4} ({:.1} s)",
            acc,
            start.elapsed().as_secs_f64()
        );
        if let Some(path) = save {
            write_file(path, &teacher.to_bytes(&teacher_meta(train, &cfg, acc)))?;
            outln!("teacher -> {}", path.display());
        }
        return Ok((teacher, acc));
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(format!(
            "--teacher {spec:?}: no such file (give a file from `mote train teacher`, or `train`)"
        ));
    }
    let (teacher, _) = CnnTeacher::load(path).map_err(|e| e.to_string())?;
    if teacher.classes() != train.num_classes() {
        return Err(format!(
            "the teacher predicts {} classes but the data have {}",
            teacher.classes(),
            train.num_classes()
        ));
    }
    let acc = teacher.accuracy(test).map_err(|e| e.to_string())?;
    outln!("teacher: {} — test accuracy {:.4}", path.display(), acc);
    Ok((teacher, acc))
}

/// Runs `mote train teacher`.
pub fn run_teacher(args: TeacherArgs) -> Result {
    let data = load_data(args.data.as_deref())?;
    let (train, test) = data.split_mod5();
    let mut cfg = TeacherConfig {
        image: parse_image(&args.image)?,
        seed: args.seed,
        ..TeacherConfig::default()
    };
    cfg.epochs = args.epochs.unwrap_or(cfg.epochs);
    if train.num_features() != cfg.image.len() {
        return Err(format!(
            "the data have {} features per row but --image {} needs {}",
            train.num_features(),
            args.image,
            cfg.image.len()
        ));
    }
    let (teacher, acc) = fit_teacher(&train, &test, &cfg)?;
    outln!("teacher test accuracy {acc:.4} on {} rows", test.len());
    write_file(
        &args.out,
        &teacher.to_bytes(&teacher_meta(&train, &cfg, acc)),
    )?;
    outln!("teacher -> {}", args.out.display());
    Ok(())
}

/// A student's training setup: everything but the seed and the subset.
struct StudentPlan<'a> {
    train: &'a Dataset,
    test: &'a Dataset,
    teacher: &'a TeacherOutputs,
    hidden: Vec<usize>,
    dcfg: DistillConfig,
    epochs: Option<usize>,
}

/// One trained and exported student.
struct Student {
    checkpoint: Checkpoint,
    blob: Vec<u8>,
    report: Report,
    rows: usize,
}

impl StudentPlan<'_> {
    /// Trains on `per_class` rows per class (drawn by `seed`), exports with min/max ranges
    /// calibrated on the whole training split's images (calibration needs no labels), and
    /// measures float and int8 accuracy on the held-out rows.
    fn run(
        &self,
        per_class: Option<usize>,
        seed: u64,
        on_epoch: &mut dyn FnMut(&mote_train::EpochReport),
    ) -> Result<Student> {
        let rows =
            per_class_subset(&self.train.targets, per_class, seed).map_err(|e| e.to_string())?;
        let subset = self.train.subset(&rows);
        let cfg = TrainConfig {
            hidden: self.hidden.clone(),
            epochs: self
                .epochs
                .unwrap_or_else(|| epochs_for(rows.len(), TrainConfig::default().batch_size)),
            seed,
            ..TrainConfig::default()
        };
        let checkpoint = train_student(
            &subset,
            &self.teacher.subset(&rows),
            &cfg,
            &self.dcfg,
            on_epoch,
        )
        .map_err(|e| e.to_string())?;
        let source = format!("mote train distill --loss {}", self.dcfg.loss.name());
        let (blob, report) = export_checkpoint(
            &checkpoint,
            self.train,
            self.test,
            RangeMethod::MinMax,
            &source,
            mote_exporter::Target::Portable,
        )
        .map_err(|e| e.to_string())?;
        Ok(Student {
            checkpoint,
            blob,
            report,
            rows: rows.len(),
        })
    }
}

fn parse_pairs(pairs: &[String]) -> Result<Vec<TeacherFeature>> {
    pairs
        .iter()
        .map(|p| {
            TeacherFeature::from_name(p.trim()).ok_or_else(|| {
                format!("--pairs: unknown teacher feature {p:?} (use block1, block2, hidden)")
            })
        })
        .collect()
}

/// Checks the student's widths against the data and the teacher.
fn check_student(text: &str, train: &Dataset, teacher: &CnnTeacher) -> Result<Vec<usize>> {
    let (inputs, hidden, classes) = parse_student(text)?;
    if inputs != train.num_features() {
        return Err(format!(
            "--student {text}: the data have {} features, not {inputs}",
            train.num_features()
        ));
    }
    if classes != teacher.classes() {
        return Err(format!(
            "--student {text}: the teacher predicts {} classes, not {classes}",
            teacher.classes()
        ));
    }
    Ok(hidden)
}

/// Runs `mote train distill`.
pub fn run_distill(args: DistillArgs) -> Result {
    let loss = LossSpec::parse(&args.loss).map_err(|e| e.to_string())?;
    let data = load_data(args.data.as_deref())?;
    let (train, test) = data.split_mod5();
    if args.save_teacher.is_some() && args.teacher != "train" {
        return Err("--save-teacher only applies with --teacher train".into());
    }
    // Validate cheap inputs before spending seconds on a teacher.
    per_class_subset(&train.targets, args.per_class, args.seed).map_err(|e| e.to_string())?;
    let (_, hidden_check, _) = parse_student(&args.student)?;
    if loss.uses_features() && hidden_check.is_empty() {
        return Err(format!(
            "--loss {}: FitNet and VID need a student with a hidden layer (e.g. 64-32-10)",
            args.loss
        ));
    }
    let (teacher, _) = obtain_teacher(
        &args.teacher,
        &args.image,
        &train,
        &test,
        args.save_teacher.as_deref(),
    )?;
    let hidden = check_student(&args.student, &train, &teacher)?;
    let outputs = teacher
        .outputs(&train.features)
        .map_err(|e| e.to_string())?;
    let defaults = DistillConfig::default();
    let dcfg = DistillConfig {
        loss,
        temperature: args.temperature.unwrap_or(defaults.temperature),
        kd_weight: args.kd_weight.unwrap_or(defaults.kd_weight),
        vid_weight: args.vid_weight.unwrap_or(defaults.vid_weight),
        hint_weight: args.hint_weight.unwrap_or(defaults.hint_weight),
        pairs: match &args.pairs {
            Some(p) => parse_pairs(p)?,
            None => defaults.pairs.clone(),
        },
        ..defaults
    };
    let plan = StudentPlan {
        train: &train,
        test: &test,
        teacher: &outputs,
        hidden,
        dcfg,
        epochs: args.epochs,
    };
    let start = Instant::now();
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("student {bar:30} epoch {pos}/{len} loss {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    let handle = bar.clone();
    let mut on_epoch = move |r: &mote_train::EpochReport| {
        handle.set_length(r.epochs as u64);
        handle.set_position(r.epoch as u64);
        handle.set_message(format!("{:.4}", r.loss));
    };
    let student = plan.run(args.per_class, args.seed, &mut on_epoch)?;
    bar.finish_and_clear();
    outln!(
        "student {} ({}) trained on {} labelled rows in {:.1} s",
        args.student,
        loss.name(),
        student.rows,
        start.elapsed().as_secs_f64()
    );
    outln!("{}", student.report);
    student
        .checkpoint
        .save(&args.out)
        .map_err(|e| e.to_string())?;
    let blob_path = args
        .blob
        .clone()
        .unwrap_or_else(|| args.out.with_extension("mote"));
    write_file(&blob_path, &student.blob)?;
    outln!("checkpoint -> {}", args.out.display());
    outln!("blob       -> {}", blob_path.display());
    Ok(())
}

/// Mean and sample standard deviation.
fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Runs `mote eval distill`: every loss of the table at every size and seed.
pub fn run_eval(args: EvalDistillArgs) -> Result {
    let start = Instant::now();
    let data = mote_train::data::digits();
    let (train, test) = data.split_mod5();
    let sizes: Vec<Option<usize>> = args
        .per_class
        .iter()
        .map(|s| match s.trim() {
            "all" => Ok(None),
            t => t
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .map(Some)
                .ok_or_else(|| format!("--per-class: {t:?} is not a positive number or `all`")),
        })
        .collect::<Result<_>>()?;
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    for &size in &sizes {
        per_class_subset(&train.targets, size, 0).map_err(|e| e.to_string())?;
    }
    let (teacher, teacher_acc) = obtain_teacher(&args.teacher, "8x8", &train, &test, None)?;
    let hidden = check_student(&args.student, &train, &teacher)?;
    let outputs = teacher
        .outputs(&train.features)
        .map_err(|e| e.to_string())?;

    let losses = LossSpec::TABLE;
    let total = sizes.len() * losses.len() * args.seeds as usize;
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) =
        ProgressStyle::with_template("students {bar:30} {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    // results[size][loss] = (float accuracies, int8 accuracies)
    let mut results = vec![vec![(Vec::new(), Vec::new()); losses.len()]; sizes.len()];
    for (si, &size) in sizes.iter().enumerate() {
        for (li, &loss) in losses.iter().enumerate() {
            let plan = StudentPlan {
                train: &train,
                test: &test,
                teacher: &outputs,
                hidden: hidden.clone(),
                dcfg: DistillConfig {
                    loss,
                    ..DistillConfig::default()
                },
                epochs: None,
            };
            for seed in 0..args.seeds {
                bar.set_message(format!(
                    "{} per class, {}, seed {seed}",
                    size.map_or("all".to_string(), |n| n.to_string()),
                    loss.name()
                ));
                let student = plan.run(size, seed, &mut |_| {})?;
                results[si][li].0.push(100.0 * student.report.float);
                results[si][li].1.push(100.0 * student.report.int8);
                bar.inc(1);
            }
            let (f, _) = mean_std(&results[si][li].0);
            let (q, _) = mean_std(&results[si][li].1);
            let line = format!(
                "{:>4} per class  {:<7} float {f:.2}%  int8 {q:.2}%  ({}/{total}, {:.0} s)",
                size.map_or("all".to_string(), |n| n.to_string()),
                loss.name(),
                bar.position(),
                start.elapsed().as_secs_f64()
            );
            // On a terminal the line goes above the bar; otherwise (a log) it is the progress.
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    }
    bar.finish_and_clear();
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let doc = markdown(&args, &sizes, &train, teacher_acc, &results, minutes);
    write_file(&args.out, doc.as_bytes())?;
    outln!("{doc}");
    outln!("table -> {} ({minutes:.1} min)", args.out.display());
    Ok(())
}

type Cells = Vec<Vec<(Vec<f64>, Vec<f64>)>>;

fn size_label(size: Option<usize>, train: &Dataset) -> String {
    match size {
        Some(n) => format!("{n}"),
        None => format!("all ({} rows)", train.len()),
    }
}

/// The Markdown document: setup, the two tables and the checks of the expected outcome.
fn markdown(
    args: &EvalDistillArgs,
    sizes: &[Option<usize>],
    train: &Dataset,
    teacher_acc: f64,
    results: &Cells,
    minutes: f64,
) -> String {
    use std::fmt::Write;
    let losses = LossSpec::TABLE;
    let d = DistillConfig::default();
    let names: Vec<String> = losses
        .iter()
        .map(|l| match l.name().as_str() {
            "ce" => "CE only".to_string(),
            "kd" => "KD".into(),
            "fitnet" => "FitNet".into(),
            "vid" => "VID".into(),
            "vid+kd" => "VID+KD".into(),
            other => other.into(),
        })
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Distilling a CNN teacher into an int8 MLP student (digits)\n"
    );
    let _ = writeln!(
        s,
        "Generated by `cargo run --release -p mote-cli -- eval distill` ({} seeds, {:.1} min on \
         this machine). Do not edit by hand: rerun the command.\n",
        args.seeds, minutes
    );
    let _ = writeln!(s, "## Setup\n");
    let _ = writeln!(
        s,
        "- **Data**: the bundled digits (1,797 8x8 images, 10 classes); rows `i % 5 == 4` are the \
         359-row test split, the other {} rows the training split.",
        train.len()
    );
    let _ = writeln!(
        s,
        "- **Teacher**: CNN conv3x3(16)-BN-ReLU-maxpool2 → conv3x3(32)-BN-ReLU-maxpool2 → \
         dense 64 ReLU → 10, trained once on the whole training split (`TeacherConfig::default()`, \
         seed 0, {}): **{:.2}%** test accuracy (the MLP baseline of DESIGN.md: 97.5%).",
        if args.teacher == "train" {
            "`--teacher train`".to_string()
        } else {
            format!("`--teacher {}`", args.teacher)
        },
        100.0 * teacher_acc
    );
    let _ = writeln!(
        s,
        "- **Students**: MLP {} with ReLU, trained by `train_classifier`'s loop (Adam 1e-3, batch \
         32, weight decay 1e-3) for about 2,700 steps whatever the subset size. Each student sees \
         only its labelled subset: `N` rows per class drawn from the training split by the seed \
         (`per_class_subset`; the 5-row subset of a seed lies inside its 10- and 50-row subsets), \
         and the teacher's outputs on those rows only.",
        args.student
    );
    let _ = writeln!(
        s,
        "- **Losses**: CE only; KD = CE + {}·T²·KL with T = {}; FitNet = CE + {}·MSE of a linear \
         regressor from the student's hidden layer to the teacher's block2 maps (32 channels x \
         2x2); VID = CE + {}·(−log q(t|s)) on the same pair, q Gaussian with mean from a \
         one-hidden-layer ({} ReLU) regressor and a learned variance per teacher channel, \
         softplus(α)+1e-5, starting at 5; VID+KD = both terms.",
        d.kd_weight, d.temperature, d.hint_weight, d.vid_weight, d.vid_hidden
    );
    let _ = writeln!(
        s,
        "- **int8**: each student is exported by `mote_exporter::pipeline::export_checkpoint` \
         (per-channel int8 weights, activation ranges by min/max over the training split's images: \
         calibration needs no labels) and run by the runtime on the test split.\n"
    );
    let _ = writeln!(
        s,
        "Cells: test accuracy in %, mean ± sample standard deviation over seeds {}.\n",
        (0..args.seeds)
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (title, pick) in [("Float", 0usize), ("int8 (runtime)", 1)] {
        let _ = writeln!(s, "## {title} accuracy\n");
        let _ = writeln!(s, "| labelled rows per class | {} |", names.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(names.len()));
        for (si, &size) in sizes.iter().enumerate() {
            let cells: Vec<String> = results[si]
                .iter()
                .map(|(f, q)| {
                    let (m, sd) = mean_std(if pick == 0 { f } else { q });
                    format!("{m:.2} ± {sd:.2}")
                })
                .collect();
            let _ = writeln!(s, "| {} | {} |", size_label(size, train), cells.join(" | "));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Checks of the expected outcome\n");
    let mut why_vid_did_not_help = false;
    let kd = losses.iter().position(|l| l.name() == "kd");
    let vidkd = losses.iter().position(|l| l.name() == "vid+kd");
    if let (Some(kd), Some(vidkd), Some(si)) = (kd, vidkd, sizes.iter().position(|&x| x == Some(5)))
    {
        let (k, _) = mean_std(&results[si][kd].0);
        let (v, _) = mean_std(&results[si][vidkd].0);
        let verdict = if v >= k + 1.0 {
            "holds"
        } else {
            "does not hold"
        };
        let _ = writeln!(
            s,
            "- VID+KD ≥ KD + 1 point at 5 rows per class (float): {v:.2} vs {k:.2}, a difference \
             of {:+.2} points — **{verdict}**.",
            v - k
        );
        why_vid_did_not_help = v < k + 1.0;
    }
    let mut worst = (0.0f64, String::new());
    for (si, &size) in sizes.iter().enumerate() {
        for (li, (f, q)) in results[si].iter().enumerate() {
            for (seed, (a, b)) in f.iter().zip(q).enumerate() {
                if (a - b).abs() > worst.0 {
                    worst = (
                        (a - b).abs(),
                        format!(
                            "{}, {} per class, seed {seed}",
                            names[li],
                            size_label(size, train)
                        ),
                    );
                }
            }
        }
    }
    let verdict = if worst.0 <= 1.0 {
        "holds"
    } else {
        "does not hold"
    };
    let _ = writeln!(
        s,
        "- Every int8 student within 1 point of its float self: the largest gap is {:.2} points \
         ({}) — **{verdict}**.",
        worst.0,
        if worst.1.is_empty() { "none" } else { &worst.1 }
    );
    if why_vid_did_not_help {
        let _ = writeln!(s, "\n## Why VID does not add to KD here\n");
        let _ = writeln!(
            s,
            "The data disagree with the expectation taken from the paper, and the table is left \
             as measured (no setting was tuned to the outcome). Likely reasons, not proven:\n\n\
             - With N labelled rows per class the student, the regressor and the variances see the \
             teacher's features on those N·10 images only. The mean regressor (32 → {} → 128) \
             can fit 50 teacher feature vectors from almost any student features, so the bound \
             on the mutual information is tightened by the regressor, not by reshaping the \
             student. The paper's small-data gains came from deep residual students with four \
             convolutional pairs and 1,000+ images.\n\
             - At T = {} the teacher's soft labels already carry most of what a 10-class, 8x8 task \
             has to transfer: KD alone is the big gain at 5 rows per class.\n\
             - A one-hidden-layer student of width 32 has little spare capacity to match a \
             128-value convolutional representation and the labels at once.\n\n\
             Probes with `mote train distill` at 5 rows per class (seeds 0 and 1 only) found no \
             setting where VID+KD beat KD: `--vid-weight 0.01` or `1`, and `--pairs hidden` (the \
             teacher's dense layer instead of its conv maps) all landed within the seed spread of \
             KD or below it.",
            d.vid_hidden, d.temperature
        );
    }
    let _ = writeln!(s, "\n## Regenerate\n");
    let _ = writeln!(
        s,
        "    cargo run --release -p mote-cli -- eval distill --out docs/distillation.md\n\n\
         Options: `--seeds`, `--per-class 5,10,50,all`, `--teacher <file>` (a teacher from \
         `mote train teacher`), `--student 64-32-10`. One student: `mote train distill --teacher \
         train --loss vid+kd --per-class 5 --out student.safetensors` (also writes \
         `student.mote`)."
    );
    s
}
