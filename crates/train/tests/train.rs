//! Training runs: the loss goes down, a resumed run repeats the uninterrupted one exactly, an
//! update that breaks the next solve is taken back, an interrupted checkpoint write leaves the
//! last checkpoint intact, bad configurations are clear errors.

mod common;

use std::path::Path;

use common::{losses, mlp_config, scratch, train};
use stiffnode_train::{TrainConfig, TrainError, Trainer};

/// The multi-trajectory rate identification, 16 trajectories per batch.
fn rates_config(epochs: usize) -> String {
    common::rates_config(epochs, 16, "")
}

#[test]
fn short_runs_lower_the_loss() {
    // Rate constants a factor 3 off converge fast; a fresh MLP moves slowly at first.
    for (name, text, factor) in [("rates", rates_config(8), 0.5), ("mlp", mlp_config(15), 0.98)] {
        let run = scratch(name);
        train(&text, &run);
        let l = losses(&run);
        println!("{name}: {l:?}");
        assert!(l[l.len() - 1] < factor * l[0], "{name}: loss did not go down: {l:?}");
        assert!(run.join("checkpoints/last.ckpt").is_file() && run.join("checkpoints/best.ckpt").is_file());
        std::fs::remove_dir_all(&run).unwrap();
    }
}

#[test]
fn the_best_checkpoint_holds_the_model_of_the_best_loss() {
    // One trajectory, no validation set, one batch per epoch: each epoch's loss is measured
    // before its update, and `best` is that model.
    let run = scratch("best");
    train(&mlp_config(6), &run);
    let best = Trainer::open(&run, "best", None, None).unwrap();
    let again = best.evaluate(&best.setup.data.train).unwrap();
    let (logged, epoch) = (best.state.best_loss, best.state.best_epoch);
    println!("best epoch {epoch}: logged {logged:.15e}, re-evaluated {again:.15e}");
    assert!((again - logged).abs() <= 1e-12 * logged, "logged {logged}, best model's loss {again}");
    assert_eq!(losses(&run)[epoch - 1], logged);
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn resume_repeats_the_uninterrupted_losses_exactly() {
    let (straight, split) = (scratch("straight"), scratch("split"));
    train(&rates_config(6), &straight);
    train(&rates_config(3), &split);
    let mut resumed = Trainer::resume(&split, Some(6), None).unwrap();
    resumed.run(|_| {}).unwrap();
    assert_eq!(losses(&straight), losses(&split));
    assert_eq!(losses(&split).len(), 6);
    for d in [straight, split] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn an_update_that_breaks_the_next_solve_is_taken_back_and_redone_smaller() {
    // A learning rate of 0.3 makes some updates leave a field that needs more than 200 steps;
    // without taking them back the run stops at epoch 9 with `MaxSteps`.
    let text = mlp_config(12).replace("lr = 0.01", "lr = 0.3").replace("atol = 1e-9", "atol = 1e-9\nmax_steps = 200");
    let run = scratch("retreat");
    let mut trainer = Trainer::start(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml", &run).unwrap();
    let mut metrics = Vec::new();
    trainer.run(|m| metrics.push(m.clone())).unwrap();
    let retreats: Vec<(usize, usize)> =
        metrics.iter().filter(|m| m.retreats > 0).map(|m| (m.epoch, m.retreats)).collect();
    println!("retreats (epoch, halvings): {retreats:?}");
    assert_eq!(metrics.len(), 12);
    assert!(!retreats.is_empty(), "no update was taken back");
    assert!(metrics.iter().all(|m| m.loss.is_finite() && m.steps <= 200));
    // The first step has no update to take back: the same failure there is an error.
    let strict = mlp_config(2).replace("atol = 1e-9", "atol = 1e-9\nmax_steps = 20");
    let run2 = scratch("retreat-first");
    let mut t = Trainer::start(TrainConfig::parse(&strict, "test.toml").unwrap(), "test.toml", &run2).unwrap();
    let err = t.run(|_| {}).expect_err("20 steps are too few").to_string();
    assert!(err.starts_with("epoch 1: maximum number of steps (20)"), "{err}");
    for d in [run, run2] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Every epoch's metrics of a run of `text` in a scratch directory `name` (removed after).
fn epoch_metrics(text: &str, name: &str) -> Vec<stiffnode_train::EpochMetrics> {
    let run = scratch(name);
    let mut trainer = Trainer::start(TrainConfig::parse(text, "test.toml").unwrap(), "test.toml", &run).unwrap();
    let mut metrics = Vec::new();
    trainer.run(|m| metrics.push(m.clone())).unwrap();
    drop(trainer);
    std::fs::remove_dir_all(&run).unwrap();
    metrics
}

#[test]
fn an_update_that_multiplies_the_loss_is_taken_back() {
    // At a learning rate of 3, updates throw the MLP over cliffs: the loss grows 226-fold in one
    // epoch and reaches 1e149 without the guard; with it (growth ≤ 10, the default) every
    // epoch's loss stays within 10× the previous one's.
    let run_with = |extra: &str, name: &str| {
        epoch_metrics(&mlp_config(12).replace("lr = 0.01", &format!("lr = 3.0{extra}")), name)
    };
    let growth = |m: &[stiffnode_train::EpochMetrics]| m.windows(2).map(|w| w[1].loss / w[0].loss).fold(0.0, f64::max);
    let off = run_with("\nmax_loss_growth = 0", "spike-off");
    let on = run_with("", "spike-on");
    println!("largest growth: off {:.3e}, on {:.3e}", growth(&off), growth(&on));
    assert!(growth(&off) > 100.0);
    assert!(growth(&on) <= 10.0 && on.iter().any(|m| m.retreats > 0), "{on:?}");
}

/// With mini-batches of other trajectories, an update after which a batch's loss exceeds
/// `g² = 100` times the best loss so far (or the epoch's lowest batch loss) is taken back: at
/// a learning rate of 3 the MLP's losses on the 64-trajectory set blow up without the guard;
/// with it no epoch's mean exceeds 100 times the best loss before it.
#[test]
fn a_mini_batch_update_that_blows_the_loss_up_is_taken_back() {
    let run_with = |extra: &str, name: &str| {
        let text = mlp_config(4)
            .replace("datasets/robertson\"", "datasets/robertson-multi\"")
            .replace("lr = 0.01", &format!("lr = 3.0\nbatch_size = 16{extra}"));
        epoch_metrics(&text, name)
    };
    // The largest ratio of an epoch's training loss to the best (validation) loss before it.
    let worst = |m: &[stiffnode_train::EpochMetrics]| {
        let mut best = f64::INFINITY;
        let mut worst = 0.0f64;
        for e in m {
            worst = worst.max(e.loss / best);
            best = best.min(if e.val_failed { f64::INFINITY } else { e.val_loss.unwrap_or(e.loss) });
        }
        worst
    };
    let off = run_with("\nmax_loss_growth = 0", "batch-spike-off");
    let on = run_with("", "batch-spike-on");
    println!("largest loss over the best before: off {:.3e}, on {:.3e}", worst(&off), worst(&on));
    assert!(worst(&off) > 100.0, "{off:?}");
    assert!(worst(&on) <= 100.0 && on.iter().any(|m| m.retreats > 0), "{on:?}");
}

#[test]
fn interrupted_checkpoint_write_keeps_the_last_checkpoint() {
    let run = scratch("interrupt");
    train(&rates_config(2), &run);
    let last = run.join("checkpoints/last.ckpt");
    let good = std::fs::read(&last).unwrap();
    // A write interrupted before its rename leaves only the temporary file behind.
    std::fs::write(run.join("checkpoints/last.ckpt.tmp"), &good[..good.len() / 2]).unwrap();
    let mut t = Trainer::resume(&run, Some(3), None).unwrap();
    assert_eq!(t.state.epoch, 2);
    t.run(|_| {}).unwrap();
    drop(t); // the run directory is free again
    assert_eq!(Trainer::resume(&run, None, None).unwrap().state.epoch, 3);
    // A total at or below the epochs done trains none: refused, saying so.
    for total in [1, 3] {
        let err = Trainer::resume(&run, Some(total), None).err().expect("nothing to train").to_string();
        assert!(err.contains(&format!("a total of {total} epochs trains none: the run has done 3 already")), "{err}");
    }
    // A checkpoint cut short (a copy gone wrong) is refused with a clear error, not loaded.
    std::fs::write(&last, &good[..good.len() - 10]).unwrap();
    let err = Trainer::resume(&run, None, None).err().expect("truncated checkpoint must fail").to_string();
    assert!(err.contains("last.ckpt") && err.contains("truncated"), "{err}");
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn checkpoints_follow_their_cadence_and_a_stopped_run_keeps_its_last_epoch() {
    let last_epoch = |run: &Path| Trainer::open(run, "last", None, None).ok().map(|t| t.state.epoch);
    // Three epochs at a cadence: the `last` checkpoint's epoch seen after each.
    let seen_at = |cadence: &str, run: &Path| {
        let text = common::rates_config(3, 16, &format!("checkpoint_every_s = {cadence}"));
        let mut t = Trainer::start(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml", run).unwrap();
        let mut seen = Vec::new();
        t.run(|m| seen.push((m.epoch, last_epoch(run)))).unwrap();
        seen
    };
    // `checkpoint_every_s = 0`: after every epoch, `last` is that epoch's.
    let run = scratch("cadence-every");
    assert_eq!(seen_at("0", &run), [(1, Some(1)), (2, Some(2)), (3, Some(3))]);
    // A long cadence: the first epoch (a run has a checkpoint from then on), then nothing until
    // the run ends, then its last epoch and its best model.
    let run2 = scratch("cadence-end");
    assert_eq!(seen_at("1e9", &run2), [(1, Some(1)), (2, Some(1)), (3, Some(1))]);
    assert_eq!(last_epoch(&run2), Some(3));
    assert!(run2.join("checkpoints/best.ckpt").is_file());
    // A run that stops on an error writes the last completed epoch: epoch 3 cannot log (its
    // metrics file became a directory), so `last` is epoch 2's and a resume repeats epoch 3.
    let run3 = scratch("cadence-stop");
    let text = common::rates_config(4, 16, "checkpoint_every_s = 1e9");
    let mut t = Trainer::start(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml", &run3).unwrap();
    let metrics = run3.join("metrics.jsonl");
    let err = t
        .run(|m| {
            if m.epoch == 2 {
                std::fs::rename(&metrics, run3.join("kept.jsonl")).unwrap();
                std::fs::create_dir(&metrics).unwrap();
            }
        })
        .expect_err("epoch 3 cannot log")
        .to_string();
    assert!(err.contains("metrics.jsonl"), "{err}");
    drop(t);
    assert_eq!(last_epoch(&run3), Some(2));
    std::fs::remove_dir(&metrics).unwrap();
    std::fs::rename(run3.join("kept.jsonl"), &metrics).unwrap();
    Trainer::resume(&run3, None, None).unwrap().run(|_| {}).unwrap();
    let straight = scratch("cadence-straight");
    train(&common::rates_config(4, 16, ""), &straight);
    assert_eq!(losses(&run3), losses(&straight));
    for d in [run, run2, run3, straight] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn lbfgs_identifies_rates_in_an_epoch_and_resumes_exactly() {
    let lbfgs = |epochs: usize| rates_config(epochs).replace("lr = 0.05", "lr = 1.0").replace("\"adam\"", "\"lbfgs\"");
    let (straight, split) = (scratch("lbfgs-straight"), scratch("lbfgs-split"));
    let t = train(&lbfgs(2), &straight);
    let l = losses(&straight);
    let k = t.setup.rate_constants().unwrap();
    println!("L-BFGS losses {l:?}, rates {k:?}");
    // From a factor 3 off to the generating rates (ROBER: 0.04, 3e7, 1e4).
    assert!(l[1] < 1e-4 * l[0], "{l:?}");
    for (k, truth) in k.iter().zip([0.04, 3e7, 1e4]) {
        assert!((k / truth - 1.0).abs() < 1e-4, "{k} vs {truth}");
    }
    train(&lbfgs(1), &split);
    Trainer::resume(&split, Some(2), None).unwrap().run(|_| {}).unwrap();
    assert_eq!(losses(&straight), losses(&split));
    for d in [straight, split] {
        std::fs::remove_dir_all(d).unwrap();
    }
    let err = TrainConfig::parse(&lbfgs(1).replace("seed = 3", "seed = 3\nclip = 1.0"), "c.toml")
        .map(|c| Trainer::start(c, "c.toml", &scratch("clip")));
    let err = err.unwrap().err().expect("clip with lbfgs is refused").to_string();
    assert!(err.contains("c.toml") && err.contains("clip") && err.contains("lbfgs"), "{err}");
    // Mode-balanced directions do not suit a line search; a cap below 1 would damp, not undo.
    let balanced = lbfgs(1).replace("seed = 3", "seed = 3\nremedy = \"mode-balanced\"");
    let err = Trainer::start(TrainConfig::parse(&balanced, "r.toml").unwrap(), "r.toml", &scratch("remedy"));
    let err = err.err().expect("mode-balanced with lbfgs is refused").to_string();
    assert!(err.contains("r.toml") && err.contains("train.remedy") && err.contains("lbfgs"), "{err}");
    let err =
        TrainConfig::parse(&common::rates_config(1, 8, "c_max = 0.5"), "m.toml").expect_err("c_max < 1").to_string();
    assert!(err.contains("m.toml") && err.contains("train.c_max = 0.5"), "{err}");
}

#[test]
fn a_warm_start_continues_from_the_best_model_of_another_run() {
    let (three, two, warm, rates) = (scratch("three"), scratch("two"), scratch("warm"), scratch("rates-init"));
    train(&mlp_config(3), &three);
    train(&mlp_config(2), &two);
    let l = losses(&three);
    assert!(l[1] < l[0], "{l:?}");
    // The best model of the 2-epoch run is the one its epoch 2 measured (before that epoch's
    // update), the same as the 3-epoch run's in its epoch 2, whatever optimizer continues.
    let text =
        mlp_config(1).replace("seed = 1", &format!("seed = 1\noptimizer = \"adam\"\ninit = \"{}\"", two.display()));
    train(&text, &warm);
    assert_eq!(losses(&warm)[0], l[1]);
    // A model of another architecture does not load.
    train(&rates_config(1), &rates);
    let text = mlp_config(1).replace("seed = 1", &format!("seed = 1\ninit = \"{}\"", rates.display()));
    let err = Trainer::start(TrainConfig::parse(&text, "w.toml").unwrap(), "w.toml", &scratch("mismatch"))
        .err()
        .expect("mismatch")
        .to_string();
    assert!(err.contains("best.ckpt") && err.contains("does not fit this configuration"), "{err}");
    for d in [three, two, warm, rates] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn bad_configurations_are_clear_errors() {
    let good = mlp_config(1);
    let cases = [
        (good.replace("lr = 0.01", "lr = 0.01\nlearning_rate = 3"), "learning_rate"),
        (good.replace("epochs = 1", "epochs = \"many\""), "epochs"),
        (good.replace("esdirk4", "rk99"), "unknown method 'rk99'"),
        (good.replace("lr = 0.01", "lr = 0.01\ncheckpoint_every_s = -1"), "train.checkpoint_every_s = -1"),
        (good.replace("activation = \"gelu\"", "activation = \"sigmoidish\""), "sigmoidish"),
        (good.clone() + "[train.shooting]\nwindow = 0\n", "train.shooting.window = 0"),
        (good.clone() + "[train.warm_start]\nepochs = 5\nlr = -1\n", "train.warm_start.lr = -1"),
        (good.clone() + "[train.shooting]\nwindow = 2\nstride = 1\n", "stride"),
    ];
    for (text, needle) in cases {
        let err = TrainConfig::parse(&text, "bad.toml").expect_err("must fail").to_string();
        assert!(err.contains("bad.toml") && err.contains(needle), "'{err}' should name bad.toml and '{needle}'");
    }
    let missing = good.replace("datasets/robertson", "datasets/nowhere");
    let run = scratch("missing");
    let err =
        Trainer::start(TrainConfig::parse(&missing, "m.toml").unwrap(), "m.toml", &run).err().expect("missing dataset");
    assert!(matches!(err, TrainError::Dataset(_)) && err.to_string().contains("nowhere"), "{err}");
    let _ = std::fs::remove_dir_all(&run);
    // A Rosenbrock method's mode log needs second derivatives on the host: on a GPU device it
    // is refused before any epoch (and before the device is opened).
    let rosenbrock = good.replace("esdirk4", "rodas5p").replace("seed = 1", "seed = 1\ndevice = \"wgpu\"");
    let err =
        Trainer::start(TrainConfig::parse(&rosenbrock, "r.toml").unwrap(), "r.toml", &run).err().expect("refused");
    let err = err.to_string();
    assert!(err.contains("r.toml") && err.contains("rodas5p") && err.contains("modes_every = 0"), "{err}");
    assert!(!run.join("checkpoints").exists(), "refused, but wrote checkpoints");
    let _ = std::fs::remove_dir_all(&run);
}

/// On the CPU a Rosenbrock method logs the split by eigenmode like any other: its modes add up
/// to the gradient.
#[test]
fn a_rosenbrock_run_logs_its_modes_on_the_cpu() {
    let text = mlp_config(2).replace("esdirk4", "rodas5p").replace("seed = 1", "seed = 1\nmodes_every = 1");
    let run = scratch("rosenbrock-modes");
    let mut trainer = Trainer::start(TrainConfig::parse(&text, "r.toml").unwrap(), "r.toml", &run).unwrap();
    trainer.run(|_| {}).unwrap();
    let log = std::fs::read_to_string(run.join("modes.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 2, "{log}");
    for r in &records {
        assert_eq!(r["method"], "rodas5p");
        let residual = r["decomposition_residual"].as_f64().unwrap();
        assert!(residual <= 1e-10 && r["grad_norm"].as_f64().unwrap() > 0.0, "{r}");
    }
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn a_run_is_bit_identical_on_any_number_of_threads() {
    // Mini-batches of 16 trajectories, each solved on its own, spread over the threads.
    let metrics = |threads: usize| {
        let run = scratch(&format!("threads-{threads}"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| train(&rates_config(3), &run));
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("wall_s");
                v
            })
            .collect();
        std::fs::remove_dir_all(&run).unwrap();
        lines
    };
    let (one, two) = (metrics(1), metrics(2));
    assert_eq!(one.len(), 3);
    assert_eq!(one, two, "metrics differ between 1 and 2 threads");
}

#[test]
fn a_checkpoint_with_any_single_flipped_bit_is_refused() {
    let run = scratch("bitflip");
    train(&mlp_config(1), &run);
    let last = run.join("checkpoints/last.ckpt");
    let good = std::fs::read(&last).unwrap();
    println!("checking all {} bits of a {}-byte checkpoint", good.len() * 8, good.len());
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            std::fs::write(&last, &bad).unwrap();
            let err = Trainer::open(&run, "last", None, None)
                .err()
                .unwrap_or_else(|| panic!("bit {bit} of byte {byte} flipped: loaded"));
            let err = err.to_string();
            assert!(
                err.contains("last.ckpt") && err.contains("not a valid checkpoint"),
                "byte {byte}, bit {bit}: {err}"
            );
        }
    }
    std::fs::write(&last, &good).unwrap();
    Trainer::open(&run, "last", None, None).expect("the intact checkpoint loads");
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn a_run_directory_is_held_by_one_training_at_a_time() {
    let (straight, run) = (scratch("held-straight"), scratch("held"));
    train(&rates_config(3), &straight);
    let start =
        |dir: &Path| Trainer::start(TrainConfig::parse(&rates_config(2), "test.toml").unwrap(), "test.toml", dir);
    let mut first = start(&run).unwrap();
    // A second start into the same directory fails at once, naming the holder, and writes nothing.
    let config_before = std::fs::read(run.join("config.toml")).unwrap();
    let err = start(&run).err().expect("the directory is in use");
    assert!(
        matches!(err, TrainError::RunInUse { .. }) && err.to_string().contains("in use by stiffnode (pid"),
        "{err}"
    );
    assert_eq!(std::fs::read(run.join("config.toml")).unwrap(), config_before);
    first.run(|_| {}).unwrap();
    // So does a resume while the first still holds it.
    let err = Trainer::resume(&run, Some(3), None).err().expect("the directory is in use");
    assert!(matches!(err, TrainError::RunInUse { .. }), "{err}");
    drop(first);
    // The first run finished untouched and resumes exactly.
    Trainer::resume(&run, Some(3), None).unwrap().run(|_| {}).unwrap();
    assert_eq!(losses(&run), losses(&straight));
    for d in [straight, run] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_directory_with_a_runs_history_but_no_checkpoint_is_not_overwritten() {
    let run = scratch("history");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("metrics.jsonl"), "{\"epoch\": 1, \"loss\": 0.5}\n").unwrap();
    let err = Trainer::start(TrainConfig::parse(&rates_config(1), "test.toml").unwrap(), "test.toml", &run)
        .err()
        .expect("a run's history is not overwritten");
    assert!(err.to_string().contains("metrics.jsonl") && err.to_string().contains("no checkpoint"), "{err}");
    assert_eq!(std::fs::read_to_string(run.join("metrics.jsonl")).unwrap(), "{\"epoch\": 1, \"loss\": 0.5}\n");
    assert!(!run.join("config.toml").exists());
    std::fs::remove_dir_all(&run).unwrap();
}

/// Trajectories with their own times (an adaptive grid per trajectory): a mini-batch is solved
/// with each trajectory's own times (spans), or to the union of its times where they differ in
/// number, and multiple shooting solves windows from data states. The gradient of each loss is
/// exact: central differences of the same loss on the same fixed steps agree.
#[test]
fn per_trajectory_times_give_exact_gradients() {
    use burn::module::Module;
    use stiffnode_chemistry::dataset::{Generation, TimeGrid, generate};
    use stiffnode_chemistry::mass_action::rober;
    use stiffnode_solvers::field::from_host;
    use stiffnode_solvers::gradient::params;
    use stiffnode_train::config::LossKind;
    use stiffnode_train::loss::Loss;

    let dir = scratch("adaptive-rober-data");
    let mechanism = rober::robertson();
    let spec = Generation {
        mechanism: &mechanism,
        source: "robertson",
        text: "",
        times: TimeGrid::Adaptive { first: 1e-4, last: 1e3, points: 6 },
        trajectories: 3,
        perturb: 3.0,
        seed: 5,
        validation: 0.0,
        command: "test".into(),
    };
    let (data, meta) = generate(&spec).unwrap();
    assert!(data.trajectories[0].times != data.trajectories[1].times, "each trajectory has its own grid");
    data.write(&dir, &meta).unwrap();
    let text = format!(
        "[data]\ndataset = \"{}\"\nmechanism = \"robertson\"\n[model]\nkind = \"mass-action\"\nstart_factor = 3.0\n\
         [solver]\nmethod = \"radau5\"\nsteps = 3\n[train]\nepochs = 1\nlr = 0.01\nloss = \"mse\"\n",
        dir.display()
    );
    let mut setup = stiffnode_train::Setup::new(TrainConfig::parse(&text, "test.toml").unwrap(), "test.toml").unwrap();
    let ids = [0, 1, 2];
    // Grids of one length: each trajectory solved to its own times (spans). Then one point
    // fewer in trajectory 2: the batch is solved to the union and each reads its own.
    // Before that, multiple shooting's windows of two intervals: three per trajectory.
    for (variant, spans) in [("windows", true), ("spans", true), ("union", false)] {
        if variant == "union" {
            setup.data.times[2].pop();
            setup.data.states[2].pop();
        }
        let batch = if variant == "windows" { setup.data.windows(&ids, 2) } else { setup.data.batch(&ids) };
        assert_eq!(batch.spans.is_some(), spans);
        assert_eq!(batch.rows.is_some(), !spans);
        // Grids of six times share only their ends (1e-4 and 1e3): the union of six, six and
        // five has fourteen.
        let (times, starts) = match variant {
            "windows" => (2, 9),
            "spans" => (6, 3),
            _ => (14, 3),
        };
        assert_eq!((batch.times.len(), batch.y0.len() / 3), (times, starts), "{variant}");
        let loss = Loss::new(LossKind::Mse, &setup.data.scale, None, &[], &setup.device);
        let request = setup.batch_request(&batch);
        let g = setup.backend.gradient(&setup.model, &request, |s| loss.eval(s, &batch)).unwrap();
        let grad = params::flatten(&setup.model, &g.params);
        let theta = params::values(&setup.model);
        assert_eq!(grad.len(), 3, "ROBER's three rates");
        let loss_at = |values: &[f64]| {
            let model = params::with_values(setup.model.clone(), values);
            let states = stiffnode_solvers::solve(&model.valid(), &request).unwrap().states;
            let states: Vec<_> = states.into_iter().map(|s| from_host(s, [starts, 3], &setup.device)).collect();
            stiffnode_solvers::field::to_host(loss.eval(&states, &batch))[0]
        };
        assert!((loss_at(&theta) - g.loss).abs() <= 1e-12 * g.loss, "the loss of the gradient's solve");
        for p in 0..theta.len() {
            let h = 1e-5 * theta[p].abs().max(1.0);
            let shifted = |s: f64| {
                let mut v = theta.clone();
                v[p] += s * h;
                loss_at(&v)
            };
            let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * h);
            let tol = 1e-6 * fd.abs().max(1e-12 * g.loss);
            assert!((fd - grad[p]).abs() <= tol, "{variant}, θ[{p}]: {} vs {fd}", grad[p]);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The derivative warm start fits the MLP to the mechanism's rates at the data before the first
/// epoch: its loss goes down, and the run then trains as any other. Multiple shooting's windows
/// double on their schedule.
#[test]
fn a_warm_start_fits_the_rates_and_shooting_windows_grow() {
    let text = mlp_config(2) + "[train.warm_start]\nepochs = 300\nlr = 0.01\n";
    let run = scratch("warm-start");
    let trainer = train(&text, &run);
    let w = trainer.warm_started.expect("a warm start");
    assert!(w.last < 0.9 * w.first, "{w:?}");
    assert_eq!(losses(&run).len(), 2);
    std::fs::remove_dir_all(&run).unwrap();
    let shooting = stiffnode_train::config::Shooting { window: 3, grow_every: 10 };
    let windows: Vec<usize> = [1, 10, 11, 20, 21, 35].map(|e| shooting.window_at(e)).to_vec();
    assert_eq!(windows, [3, 3, 6, 6, 12, 24]);
    assert_eq!(stiffnode_train::config::Shooting { window: 3, grow_every: 0 }.window_at(1000), 3);
}

/// A validation trajectory whose solve fails at the current model (here: the step limit, which
/// its long span needs and the training trajectory's short one does not) does not end the run:
/// the epoch logs `val_failed` and no validation loss, and training goes on.
#[test]
fn a_failed_validation_solve_is_logged_and_training_goes_on() {
    let dir = scratch("val-fails-data");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = "trajectory,t,A,B,C\n0,0,1,0,0\n0,1e-3,0.99996,3e-5,1e-5\n1,0,1,0,0\n1,1e5,0.02,1e-7,0.98\n";
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    std::fs::write(dir.join("meta.json"), r#"{"split": {"train": [0], "validation": [1]}}"#).unwrap();
    let text = format!(
        "[data]\ndataset = \"{}\"\nmechanism = \"robertson\"\n[model]\nkind = \"mass-action\"\nstart_factor = 2.0\n\
         [solver]\nmethod = \"radau5\"\nrtol = 1e-6\natol = 1e-10\nmax_steps = 40\n[train]\nepochs = 2\nlr = 0.01\n",
        dir.display()
    );
    let run = scratch("val-fails");
    train(&text, &run);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(l["val_failed"] == true && l["val_loss"].is_null() && l["loss"].as_f64().unwrap() > 0.0, "{l}");
    }
    // No model solved the validation set: the first epoch's stands in as the best, so that the
    // run has a best checkpoint to predict with.
    let best = Trainer::open(&run, "best", None, None).unwrap();
    assert_eq!((best.state.best_epoch, best.state.best_loss), (1, f64::INFINITY));
    std::fs::remove_dir_all(&run).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
