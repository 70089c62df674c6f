//! `mote rec`: recommendation data tools (`mote rec simulate`), and `mote eval rec`.

use super::Result;
use indicatif::{ProgressBar, ProgressStyle};
use mote_exporter::rec::{export_recommender, RecExportOptions, RECALL_K};
use mote_train::rec::eval::{
    evaluate, markdown_table, EmbeddingAverage, EvalConfig, Popularity, Scorer, TimeSplit,
};
use mote_train::rec::graph::{text_features, CoGraph, GraphConfig};
use mote_train::rec::hgnn::{link_auc, train_link_prediction, HgnnConfig};
use mote_train::rec::simulate::{SimConfig, Simulator, TYPE_NAMES};
use mote_train::rec::two_tower::{TwoTower, TwoTowerConfig};
use mote_train::rec::{RecData, RecError};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `mote rec`.
#[derive(clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    command: RecCommand,
}

/// The `mote rec` subcommands.
#[derive(clap::Subcommand)]
pub enum RecCommand {
    /// Simulate a platform (music, podcasts, newly launched audiobooks) and write
    /// `interactions.csv` and `items.csv` (about 20 interactions per user).
    Simulate(SimulateArgs),
    /// Train 2T-HGNN as `mote eval rec` does (same options, same report) and write the
    /// recommender blob (user tower, int8 item table, item ids) to `--blob`.
    Export(EvalRecArgs),
}

/// Arguments of `mote rec simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Number of users (50,000 give about one million interactions).
    #[arg(long, default_value_t = 5000)]
    users: usize,
    /// Output folder (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the simulated world.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs a `mote rec` subcommand.
pub fn run(args: Args) -> Result {
    match args.command {
        RecCommand::Simulate(a) => simulate(a),
        RecCommand::Export(a) if a.blob.is_none() => {
            Err("mote rec export needs --blob PATH (where to write the recommender blob)".into())
        }
        RecCommand::Export(a) => run_eval(a),
    }
}

fn simulate(args: SimulateArgs) -> Result {
    let start = Instant::now();
    let sim =
        Simulator::new(SimConfig::for_users(args.users, args.seed)).map_err(|e| e.to_string())?;
    let summary = sim.write_csv(&args.out).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    outln!(
        "{} users, {} interactions in {secs:.2} s -> {}",
        summary.users,
        summary.interactions(),
        args.out.display()
    );
    for (t, name) in TYPE_NAMES.iter().enumerate() {
        outln!(
            "  {name:<10} {:>7} items {:>9} interactions",
            summary.items_per_type[t],
            summary.interactions_per_type[t]
        );
    }
    outln!(
        "  {} users have audiobook interactions (launched at 70% of the period)",
        summary.new_type_users
    );
    Ok(())
}

/// Arguments of `mote eval rec`.
#[derive(clap::Args)]
pub struct EvalRecArgs {
    /// Folder holding `items.csv` and `interactions.csv`; without it a world is simulated.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Users of the simulated world (when no --data is given).
    #[arg(long, default_value_t = 5000)]
    users: usize,
    /// Seed of the simulated world and of training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The new item type whose cold-start users get their own columns.
    #[arg(long, default_value = "audiobook")]
    new_type: String,
    /// Fraction of each user's latest interactions held out.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// HGNN training steps (minibatches of sampled subgraphs).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Two-tower training steps (in-batch softmax over 256 examples).
    #[arg(long, default_value_t = 1000)]
    tower_steps: usize,
    /// Hashed bag-of-words width of the item text features.
    #[arg(long, default_value_t = 64)]
    text_dim: usize,
    /// At most this many users are evaluated.
    #[arg(long, default_value_t = 5000)]
    max_users: usize,
    /// Also write the table (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Test users on which the int8 device ranking is compared with the float one (0: all).
    #[arg(long, default_value_t = 1000)]
    recall_users: usize,
    /// Write the 2T-HGNN recommender blob (`ModelKind::Recommender`) to this file.
    #[arg(long)]
    blob: Option<PathBuf>,
}

/// Runs `mote eval rec`: split, graph, HGNN, baselines, table.
pub fn run_eval(args: EvalRecArgs) -> Result {
    let err = |e: RecError| e.to_string();
    let clock = Instant::now();
    let data = match &args.data {
        Some(dir) => {
            RecData::load(&dir.join("items.csv"), &dir.join("interactions.csv")).map_err(err)?
        }
        None => Simulator::new(SimConfig::for_users(args.users, args.seed))
            .map_err(err)?
            .generate(),
    };
    let new_type = data.catalog.type_id(&args.new_type).ok_or_else(|| {
        format!(
            "no item type {:?} in the data (types: {})",
            args.new_type,
            data.catalog.type_names.join(", ")
        )
    })?;
    let mut notes = String::new();
    let mut note = |line: String| {
        outln!("{line}");
        notes.push_str(&line);
        notes.push('\n');
    };
    note(format!(
        "data: {} users, {} items, {} interactions ({:.1} s)",
        data.num_users(),
        data.catalog.len(),
        data.interactions.len(),
        clock.elapsed().as_secs_f64()
    ));
    let split = TimeSplit::last_fraction(&data, args.test_fraction).map_err(err)?;
    let t = Instant::now();
    let graph = CoGraph::from_histories(
        data.catalog.item_type.clone(),
        data.catalog.num_types(),
        split.train_histories(),
        &GraphConfig::default(),
    );
    note(format!(
        "graph from the training part: {} nodes, {} edges ({:.1} s)",
        graph.num_nodes(),
        graph.edges.len(),
        t.elapsed().as_secs_f64()
    ));
    let names = &data.catalog.type_names;
    for (e, (edges, weight)) in graph.edge_type_stats().into_iter().enumerate() {
        let (a, b) = graph.edge_type_pair(e);
        note(format!(
            "  {:<22} {edges:>9} edges {weight:>10} co-interactions",
            format!("{}-{}", names[a as usize], names[b as usize])
        ));
    }
    let features = text_features(&data.catalog, args.text_dim);
    // 5% of every edge type is held out of training to measure link prediction.
    let (kept, held_out) = graph.split_edges(0.05, args.seed);
    let train_graph = CoGraph::from_edges(graph.node_type.clone(), graph.num_types, kept);
    let config = HgnnConfig {
        steps: args.steps,
        seed: args.seed,
        ..HgnnConfig::default()
    };
    let bar = ProgressBar::new(config.steps as u64);
    if let Ok(style) =
        ProgressStyle::with_template("HGNN {bar:30} step {pos}/{len} loss {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    let t = Instant::now();
    let model = train_link_prediction(&train_graph, &features, &config, |r| {
        bar.set_position(r.step as u64);
        bar.set_message(format!("{:.4}", r.loss));
    })
    .map_err(err)?;
    bar.finish_and_clear();
    let train_secs = t.elapsed().as_secs_f64();
    let held_emb = model.embed_all(&train_graph, &features, config.inference_fanout, args.seed);
    let auc = link_auc(&held_emb, &train_graph, &held_out, args.seed);
    let text_auc = link_auc(&features, &train_graph, &held_out, args.seed);
    note(format!(
        "HGNN: {} steps in {train_secs:.1} s; held-out link AUC {:.3} (text features alone {:.3})",
        config.steps, auc.overall, text_auc.overall
    ));
    for (e, a) in auc.per_edge_type.iter().enumerate() {
        let (x, y) = graph.edge_type_pair(e);
        if let Some(a) = a {
            note(format!(
                "  {:<22} AUC {a:.3}",
                format!("{}-{}", names[x as usize], names[y as usize])
            ));
        }
    }
    let embeddings = model.embed_all(&graph, &features, config.inference_fanout, args.seed);

    let eval_config = EvalConfig {
        k: 10,
        new_type,
        max_users: args.max_users,
    };
    let recent = 20;
    let tower_config = TwoTowerConfig {
        steps: args.tower_steps,
        recent,
        seed: args.seed,
        ..TwoTowerConfig::default()
    };
    let train_towers = |name: &str, item_embeddings: &mote_train::tape::Matrix| {
        let bar = ProgressBar::new(tower_config.steps as u64);
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{name} {{bar:30}} step {{pos}}/{{len}} loss {{msg}} ({{elapsed}})"
        )) {
            bar.set_style(style);
        }
        let t = Instant::now();
        let model = TwoTower::train(
            &data.catalog,
            &split,
            item_embeddings,
            &features,
            &tower_config,
            |step, loss| {
                bar.set_position(step as u64);
                bar.set_message(format!("{loss:.4}"));
            },
        );
        bar.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        model.map(|m| (m, secs))
    };
    let (plain_towers, plain_secs) = train_towers("two-tower", &features).map_err(err)?;
    let (hgnn_towers, hgnn_secs) = train_towers("2T-HGNN", &embeddings).map_err(err)?;
    note(format!(
        "two-tower: {} steps in {plain_secs:.1} s (text features), {hgnn_secs:.1} s (HGNN embeddings)",
        tower_config.steps
    ));
    let t = Instant::now();
    let options = RecExportOptions {
        source: "mote eval rec (2T-HGNN user tower and item table)".into(),
        max_users: args.recall_users,
        ..RecExportOptions::default()
    };
    let (blob, device) =
        export_recommender(&hgnn_towers, &split, &options).map_err(|e| e.to_string())?;
    note(format!(
        "device (int8 user tower and item table): recall@{RECALL_K} against the float ranking \
         {:.3} on {} test users; blob {} bytes, arena {} bytes ({:.1} s)",
        device.recall_at_k,
        device.users,
        device.blob_bytes,
        device.arena_bytes,
        t.elapsed().as_secs_f64()
    ));
    if let Some(path) = &args.blob {
        super::write_file(path, &blob)?;
        outln!("recommender blob -> {}", path.display());
        // The blob's item ids are catalogue indices: map them back to the CSV's item ids.
        let catalog = &data.catalog;
        let items: Vec<(u32, &str, &str)> = (0..catalog.len())
            .map(|i| {
                let type_name = catalog
                    .type_names
                    .get(usize::from(catalog.item_type[i]))
                    .map_or("", String::as_str);
                (i as u32, catalog.item_ids[i].as_str(), type_name)
            })
            .collect();
        let map_path = super::run::item_map_path(path);
        super::write_file(&map_path, super::run::item_map_text(&items).as_bytes())?;
        outln!(
            "item map (blob id -> CSV item id) -> {}",
            map_path.display()
        );
    }
    let t = Instant::now();
    let scorers: Vec<(String, Box<dyn Scorer>)> = vec![
        (
            "popularity".into(),
            Box::new(Popularity::fit(&split, data.catalog.len())),
        ),
        (
            "text features averaged".into(),
            Box::new(EmbeddingAverage {
                embeddings: features.clone(),
                recent,
            }),
        ),
        (
            "HGNN embeddings averaged (no two-tower)".into(),
            Box::new(EmbeddingAverage {
                embeddings: embeddings.clone(),
                recent,
            }),
        ),
        ("two-tower without HGNN".into(), Box::new(plain_towers)),
        ("2T-HGNN".into(), Box::new(hgnn_towers)),
    ];
    let rows: Vec<(String, _)> = scorers
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                evaluate(s.as_ref(), &data.catalog, &split, &eval_config),
            )
        })
        .collect();
    let table = markdown_table(&data.catalog, &eval_config, &rows);
    outln!(
        "\nevaluation ({:.1} s, users averaged over their last {recent} training items):\n",
        t.elapsed().as_secs_f64()
    );
    out!("{table}");
    if let Some(path) = &args.out {
        let command = match &args.data {
            Some(d) => format!("--data {}", d.display()),
            None => format!("--users {} --seed {}", args.users, args.seed),
        };
        let text = format!(
            "# Recommendations: evaluation\n\n\
             Generated by `mote eval rec {command} --steps {} --out {}`. Do not edit by hand: \
             rerun the command.\n\n\
             Protocol: each user's last {:.0}% interactions are held out; candidates of a type are \
             the items of that type the user has not consumed in training; relevant items are the \
             held-out ones among them. Cold-start users have held-out {} items but none in \
             training. The co-interaction graph is built from the training part only (window 30 \
             min, 5 steps); the HGNN (2 layers, 64 and 32 wide, 8 then 4 neighbours per edge type) \
             is trained by link prediction with 5% of every edge type held out for the AUC below. \
             Averaging models represent a user by the mean of their last {recent} training items; \
             the two-tower models (one hidden layer of 64, 32-wide unit outputs, in-batch softmax \
             over 256 targets of one type per step) see the same window.\n\n\
             ```text\n{notes}```\n\n{table}",
            args.steps,
            path.display(),
            100.0 * args.test_fraction,
            args.new_type,
        );
        super::write_file(path, text.as_bytes())?;
        outln!("table -> {}", path.display());
    }
    outln!("total {:.1} s", clock.elapsed().as_secs_f64());
    Ok(())
}
