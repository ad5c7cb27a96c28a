//! `occam train` and `occam evaluate`: options checked against their ranges (named by
//! option or `--config` key), and no empty split or non-finite loss reported as a number.

use anyhow::{Context, Result, bail};
use clap::Args;
use occam::compute::{Backend, Compute};
use occam::data::{Augmentation, DataSource};
use occam::error::write_atomic;
use occam::measure::profile::Method;
use occam::measure::track::{self, TrackRow, TrackSettings, TrackTransitions};
use occam::measure::trajectory::TrajectoryKind;
use occam::net::{Activation, engine};
use occam::train::observe::{Checkpoint, Observer, check_checkpoints, log_spaced_steps};
use occam::train::{self, OptimizerKind, TrainConfig, TrainHooks};
use serde_json::json;
use std::path::PathBuf;

/// Options of `occam train`. Every option may also come from `--config FILE.toml` (keys
/// are the long option names with `_` for `-`); options given on the command line win.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// TOML file with any of the options below.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output directory for model.safetensors and metrics.json.
    #[arg(long)]
    out: PathBuf,
    /// Dataset: fashion-mnist, mnist:DIR, fashion-mnist:DIR, cifar10:DIR, cifar100:DIR.
    #[arg(long)]
    data: Option<String>,
    /// Hidden-layer width: 1 to 2^20.
    #[arg(long)]
    width: Option<usize>,
    /// Number of weight matrices (2 = one hidden layer): 1 to 1000.
    #[arg(long)]
    depth: Option<usize>,
    /// relu, relu6, hard_tanh, hard_sigmoid or tanh.
    #[arg(long)]
    activation: Option<Activation>,
    /// Init-std multiplier s: weights ~ N(0, s²·v/fan_in); finite, greater than 0.
    #[arg(long, allow_negative_numbers = true)]
    init_scale: Option<f64>,
    /// sgd, momentum, adam, rmsprop or lbfgs (full batch).
    #[arg(long)]
    optimizer: Option<OptimizerKind>,
    /// Learning rate: finite, greater than 0.
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Batch size: 1 to 2^20.
    #[arg(long)]
    batch: Option<usize>,
    /// Step budget (L-BFGS: iteration cap): 1 to 10^9.
    #[arg(long)]
    steps: Option<usize>,
    /// Multiply the learning rate by --lr-decay-factor every this many epochs.
    #[arg(long)]
    lr_decay_epochs: Option<usize>,
    /// Learning-rate decay factor: greater than 0 and at most 1.
    #[arg(long, allow_negative_numbers = true)]
    lr_decay_factor: Option<f64>,
    /// Stop once every training example is classified correctly.
    #[arg(long)]
    stop_at_100: bool,
    /// Keep a copy of the weights after step N; if the loss later becomes non-finite, end
    /// with that copy (status completed; metrics.json's `fallback` says so). 1 to below
    /// --steps; mini-batch optimizers only.
    #[arg(long)]
    fallback_at: Option<usize>,
    /// Give every layer a bias: zero at initialization, trained like the weights (the
    /// weights start as without --bias). The model file then holds layers.{i}.bias.
    #[arg(long)]
    bias: bool,
    /// Train on uniformly random labels (seeded).
    #[arg(long)]
    random_labels: bool,
    /// Random translation by up to N pixels, with wrap-around: 0 to the image side.
    #[arg(long)]
    translate: Option<usize>,
    /// Random horizontal flips.
    #[arg(long)]
    hflip: bool,
    /// Random vertical flips.
    #[arg(long)]
    vflip: bool,
    /// Random ±90° rotations.
    #[arg(long)]
    rotate90: bool,
    /// The paper's standard augmentation: --translate 4 --hflip.
    #[arg(long)]
    augment: bool,
    /// Use only the first N training examples.
    #[arg(long)]
    train_size: Option<usize>,
    /// The one seed of every random choice (initialization, shuffling, augmentation,
    /// random labels): the same seed and thread count give the same bits.
    #[arg(long)]
    seed: Option<u64>,
    /// Write train_log.csv (step, epoch, mean batch loss and accuracy, learning rate) every
    /// N steps; 0 = no log. Mini-batch optimizers only.
    #[arg(long, default_value_t = 100)]
    log_every: usize,
    /// Also save the network at step 0 as model_init.safetensors.
    #[arg(long)]
    save_init: bool,
    /// Write track.csv: train and test accuracy, gap, mean Jacobian norm and transitions
    /// at K log-spaced steps, the last the final network: 2 to 1000.
    #[arg(long, value_name = "K")]
    track: Option<usize>,
    /// With --track: the first N test points give the mean Jacobian norm; 0 = none: 0 to
    /// 1,000,000.
    #[arg(long, value_name = "N", default_value_t = 1000, requires = "track")]
    track_points: usize,
    /// With --track: count transitions along this trajectory kind (none by default).
    #[arg(long, value_enum, value_name = "KIND", requires = "track")]
    track_trajectory: Option<TrajectoryKind>,
    /// With --track-trajectory: how many trajectories (at most one per test point for
    /// translate): 1 to 1,000,000.
    #[arg(long, value_name = "N", default_value_t = 20, requires = "track_trajectory")]
    track_trajectories: usize,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// `occam train`'s command with each option's default (from [`TrainConfig::default`], the
/// one place defaults are set) shown in its help. The options themselves stay unset, so
/// that a `--config` file's values are not overridden by defaults.
pub fn with_defaults(train: clap::Command) -> clap::Command {
    let defaults = serde_json::to_value(TrainConfig::default()).expect("serializable");
    let mut flat: Vec<(String, String)> = Vec::new();
    for (key, value) in defaults.as_object().into_iter().flatten() {
        match value {
            serde_json::Value::Object(inner) => {
                flat.extend(inner.iter().map(|(k, v)| (k.clone(), v.to_string())));
            }
            serde_json::Value::Null => flat.push((key.clone(), "all".into())),
            v => flat.push((key.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))),
        }
    }
    let ids: Vec<String> = train.get_arguments().map(|a| a.get_id().to_string()).collect();
    flat.into_iter()
        .filter(|(id, v)| ids.contains(id) && v != "false")
        .fold(train, |cmd, (id, value)| {
            cmd.mut_arg(id, |a| {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                a.help(format!("{help} [default: {value}]"))
            })
        })
}

impl TrainArgs {
    /// The configuration: the TOML file's values, overridden by command-line options.
    fn config(&self) -> Result<TrainConfig> {
        let mut c = match &self.config {
            Some(p) => TrainConfig::from_toml_file(p)?,
            None => TrainConfig::default(),
        };
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = self.$f.clone() { c.$f = v; } )* };
        }
        take!(
            data,
            width,
            depth,
            activation,
            init_scale,
            optimizer,
            lr,
            batch,
            steps,
            lr_decay_epochs,
            lr_decay_factor,
            seed
        );
        if self.train_size.is_some() {
            c.train_size = self.train_size;
        }
        if self.fallback_at.is_some() {
            c.fallback_at = self.fallback_at;
        }
        c.stop_at_100 |= self.stop_at_100;
        c.random_labels |= self.random_labels;
        c.bias |= self.bias;
        if self.augment {
            c.augment = Augmentation {
                vflip: c.augment.vflip,
                rotate90: c.augment.rotate90,
                ..Augmentation::standard()
            };
        }
        if let Some(t) = self.translate {
            c.augment.translate = t;
        }
        c.augment.hflip |= self.hflip;
        c.augment.vflip |= self.vflip;
        c.augment.rotate90 |= self.rotate90;
        c.validate_named(&|field| self.source_of(field))?;
        self.check_fallback(&c)?;
        Ok(c)
    }

    /// A fallback step the run can use: before the last step, with a mini-batch optimizer
    /// (in a sweep such a setting is simply never reached; here it is a mistake).
    fn check_fallback(&self, c: &TrainConfig) -> Result<()> {
        let Some(at) = c.fallback_at else { return Ok(()) };
        if c.optimizer == OptimizerKind::Lbfgs {
            bail!(
                "{} = {at}: the fallback copy is for mini-batch optimizers; L-BFGS already ends \
                 with the lowest-cost finite weights it evaluated",
                self.source_of("fallback_at")
            );
        }
        if at >= c.steps {
            bail!(
                "{} = {at} is out of range: valid values are 1 to {} (below {} = {}), so that \
                 the copy is taken before the run ends",
                self.source_of("fallback_at"),
                c.steps - 1,
                self.source_of("steps"),
                c.steps
            );
        }
        Ok(())
    }

    /// Where a setting's value came from, for messages: its command-line option when it
    /// was given there, else its key in the `--config` file.
    fn source_of(&self, field: &str) -> String {
        let on_command_line = match field {
            "width" => self.width.is_some(),
            "depth" => self.depth.is_some(),
            "init_scale" => self.init_scale.is_some(),
            "lr" => self.lr.is_some(),
            "batch" => self.batch.is_some(),
            "steps" => self.steps.is_some(),
            "lr_decay_epochs" => self.lr_decay_epochs.is_some(),
            "lr_decay_factor" => self.lr_decay_factor.is_some(),
            "train_size" => self.train_size.is_some(),
            "fallback_at" => self.fallback_at.is_some(),
            "augment.translate" => self.translate.is_some() || self.augment,
            "data" => self.data.is_some(),
            _ => false,
        };
        match &self.config {
            Some(path) if !on_command_line => format!("{}: {field}", path.display()),
            _ => format!("--{}", field.trim_start_matches("augment.").replace('_', "-")),
        }
    }

    /// What `--track` measures at each checkpoint, checked; `None` without `--track`.
    /// Trajectories are seeded by the training seed, as a sweep seeds them.
    fn track_settings(&self, config: &TrainConfig) -> Result<Option<(usize, TrackSettings)>> {
        let Some(k) = self.track else { return Ok(None) };
        check_checkpoints("--track", k)?;
        occam::limits::in_range(
            "--track-points",
            self.track_points,
            0,
            occam::measure::ranges::MAX_COUNT,
        )?;
        if self.track_trajectory.is_some() {
            occam::measure::ranges::count("--track-trajectories", self.track_trajectories)?;
        }
        let transitions = self.track_trajectory.map(|trajectory| TrackTransitions {
            trajectory,
            count: self.track_trajectories,
            method: Method::Exact,
            samples: 1 << 20,
            seed: config.seed,
        });
        let settings = TrackSettings {
            jacobian_points: self.track_points,
            transitions,
        };
        Ok(Some((k, settings)))
    }
}

/// Trains, measuring at the checkpoints when `track` asks for them.
fn train_tracked<B: Backend>(
    config: &TrainConfig,
    splits: &occam::data::Splits,
    backend: &B,
    args: &TrainArgs,
    track: Option<(usize, TrackSettings)>,
) -> Result<(train::TrainOutcome, Vec<TrackRow>)> {
    let bar = occam::progress::bar(!args.quiet, config.step_budget() as u64, "steps");
    let mut on_progress = occam::progress::training_callback(&bar);
    let Some((k, settings)) = track else {
        let hooks = TrainHooks {
            on_progress: Some(&mut on_progress),
            log_every: args.log_every,
            observer: None,
        };
        let outcome = train::train_with(config, splits, backend, hooks)?;
        bar.finish_and_clear();
        return Ok((outcome, Vec::new()));
    };
    track::check_trajectories(splits, &settings).context("--track-trajectory")?;
    // The checkpoints are measured on the host (the network comes back from the device).
    let compute = &backend.host();
    let mut rows = Vec::new();
    let mut failure = None;
    let mut on_checkpoint = |c: Checkpoint<'_>| {
        if failure.is_none() {
            match track::measure_checkpoint(c.step, c.net, compute, c.train_set, splits, &settings) {
                Ok(row) => rows.push(row),
                Err(e) => failure = Some(e),
            }
        }
    };
    let mut observer = Observer::new(log_spaced_steps(config.steps, k), &mut on_checkpoint);
    let hooks = TrainHooks {
        on_progress: Some(&mut on_progress),
        log_every: args.log_every,
        observer: Some(&mut observer),
    };
    let outcome = train::train_with(config, splits, backend, hooks)?;
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context("--track-trajectory"));
    }
    Ok((outcome, rows))
}

pub fn run_train(args: TrainArgs) -> Result<()> {
    let config = args.config()?;
    let track = args.track_settings(&config)?;
    // A dataset named in the config file is reported as that file's key.
    let splits = DataSource::parse(&config.data)
        .and_then(|source| source.load_with(config.train_size))
        .with_context(|| format!("{} = \"{}\"", args.source_of("data"), config.data))?;
    // The output directory before the work, so that a run is never lost for want of it.
    std::fs::create_dir_all(&args.out).with_context(|| format!("--out: creating {}", args.out.display()))?;
    let device = super::device();
    let chosen = super::device::open(device)?;
    let trained = super::device::with_backend!(&chosen, b => train_tracked(&config, &splits, b, &args, track));
    // A device failure makes the run's numbers unusable: it is reported first.
    super::device::check(&chosen)?;
    let (outcome, track_rows) = trained?;
    if args.save_init {
        outcome.initial.save(&args.out.join("model_init.safetensors"))?;
    }
    outcome.net.save(&args.out.join("model.safetensors"))?;
    if !outcome.log.is_empty() {
        write_atomic(
            &args.out.join("train_log.csv"),
            train::log::to_csv(&outcome.log).as_bytes(),
        )?;
    }
    if !track_rows.is_empty() {
        write_atomic(&args.out.join("track.csv"), track::to_csv(&track_rows).as_bytes())?;
    }
    let metrics = json!({
        "train_accuracy": outcome.train.accuracy,
        "test_accuracy": outcome.test.accuracy,
        "train_loss": outcome.train.loss,
        "test_loss": outcome.test.loss,
        "generalization_gap": outcome.generalization_gap(),
        "steps": outcome.steps,
        "epochs": outcome.epochs,
        "final_lr": outcome.final_lr,
        "status": outcome.status,
        "fallback": outcome.fallback,
        "wall_seconds": outcome.wall_seconds,
        "param_count": outcome.net.param_count(),
        "train_examples": outcome.train.n,
        "test_examples": outcome.test.n,
        "threads": super::threads(),
        "device": device.to_string(),
        "occam_version": env!("CARGO_PKG_VERSION"),
        "config": config,
    });
    let path = args.out.join("metrics.json");
    write_atomic(&path, serde_json::to_string_pretty(&metrics)?.as_bytes())?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// A network in the safetensors format (README, "Loading models").
    #[arg(long)]
    model: PathBuf,
    /// Dataset, as for `occam train` (optional with --inputs, which then replace its test
    /// split).
    #[arg(long, required_unless_present = "inputs")]
    data: Option<String>,
    #[command(flatten)]
    format: super::model_format::ModelFormat,
    #[command(flatten)]
    user: super::inputs::InputArgs,
}

pub fn run_evaluate(args: EvaluateArgs) -> Result<()> {
    if args.user.given() {
        return super::inputs::evaluate_inputs(&args.model, &args.format, args.data.as_deref(), &args.user);
    }
    let Some(data) = args.data.as_deref() else {
        bail!("--data or --inputs is required")
    };
    let (net, splits) = super::model_format::load_model_and_data(&args.model, &args.format, data)?;
    let compute = Compute::new(super::threads());
    let mut evaluations = Vec::new();
    for (split, set) in [("train", &splits.train), ("test", &splits.test)] {
        if set.is_empty() {
            bail!("{data}: the {split} split has no examples to evaluate");
        }
        let e = engine::evaluate(&net, &compute, set);
        if let Some((i, loss)) = e.first_non_finite {
            bail!(
                "{}: non-finite result on the {split} split of {}, at point {i}: the loss is {loss} \
                 (the network's arithmetic overflowed: its weights or inputs are too large)",
                args.model.display(),
                data
            );
        }
        evaluations.push(e);
    }
    let (train, test) = (evaluations[0], evaluations[1]);
    let out = json!({
        "model": args.model,
        "data": data,
        "train_accuracy": train.accuracy,
        "test_accuracy": test.accuracy,
        "train_loss": train.loss,
        "test_loss": test.loss,
        "generalization_gap": train.accuracy - test.accuracy,
        "param_count": net.param_count(),
        "activation": net.activation(),
        "dims": net.dims(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
