//! The command line as users and the issue's checks call it.

use std::process::{Command, Output};

use stiffnode_chemistry::mass_action::rober;

fn stiffnode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stiffnode")).args(args).output().expect("run stiffnode")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Exit status ≠ 0, one line on stderr naming `needle`, no panic.
fn fails_with(args: &[&str], needle: &str) {
    let out = stiffnode(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.contains(needle), "{args:?}: '{err}' does not mention '{needle}'");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn methods_json_lists_every_method_with_its_properties() {
    let v = json(&stiffnode(&["methods", "--json"]));
    let rows = v.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for name in [
        "backward-euler",
        "trapezoid",
        "implicit-midpoint",
        "gauss2",
        "sdirk2",
        "trbdf2",
        "esdirk4",
        "radau3",
        "radau5",
        "lobatto3c2",
        "lobatto3c3",
        "bdf2",
        "dopri5",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let radau5 = rows.iter().find(|r| r["name"] == "radau5").unwrap();
    assert_eq!(radau5["order"], 5);
    assert_eq!(radau5["stages"], 3);
    assert_eq!(radau5["l_stable"], true);
    assert_eq!(radau5["stiffly_accurate"], true);
    assert_eq!(radau5["embedded"], true);
    let gauss = rows.iter().find(|r| r["name"] == "gauss2").unwrap();
    assert_eq!((gauss["a_stable"].as_bool(), gauss["l_stable"].as_bool()), (Some(true), Some(false)));
    let dopri = rows.iter().find(|r| r["name"] == "dopri5").unwrap();
    assert_eq!(dopri["a_stable"], false);
    let table = String::from_utf8(stiffnode(&["methods"]).stdout).unwrap();
    assert!(table.contains("L-stable") && table.contains("lobatto3c3"));
}

#[test]
fn stability_json_gives_r_and_r_prime() {
    let v = json(&stiffnode(&["stability", "--method", "backward-euler", "--z", "-1e4,-100+20i", "--json"]));
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["z"][0], -1e4);
    let r = rows[0]["r"][0].as_f64().unwrap();
    assert!((r - 1.0 / (1.0 + 1e4)).abs() < 1e-16);
    let dr = rows[0]["dr"][0].as_f64().unwrap();
    assert!((dr - 1.0 / (1.0f64 + 1e4).powi(2)).abs() < 1e-18);
    assert_eq!(rows[1]["z"][1], 20.0);
}

#[test]
fn solve_json_reports_state_and_counters() {
    let v = json(&stiffnode(&[
        "solve",
        "--problem",
        "robertson",
        "--method",
        "radau5",
        "--t-end",
        "40",
        "--rtol",
        "1e-8",
        "--json",
    ]));
    assert_eq!(v["method"], "radau5");
    assert_eq!(v["problem"], "robertson");
    let y: Vec<f64> = v["y"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert!((y[0] - rober::REFERENCE[0].1[0]).abs() < 1e-6, "{y:?}");
    for key in ["steps", "rejected", "newton_iterations", "jacobian_evaluations", "factorizations"] {
        assert!(v["stats"][key].as_u64().is_some(), "stats.{key} missing");
    }
    assert!(v["stats"]["steps"].as_u64().unwrap() > 10);
    assert!(v["wall_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn solve_writes_csv_at_requested_times() {
    let dir = std::env::temp_dir().join(format!("stiffnode-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rober.csv");
    let out = stiffnode(&[
        "solve",
        "--problem",
        "rober",
        "--method",
        "bdf2",
        "--t-end",
        "100",
        "--save-at",
        "logspace:-2:2:5",
        "--output",
        path.to_str().unwrap(),
        "--rtol",
        "1e-6",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "t,A,B,C");
    assert_eq!(lines.len(), 6, "header + 5 times (t_end = 100 is the last of them)");
    let t_last: f64 = lines[5].split(',').next().unwrap().parse().unwrap();
    assert_eq!(t_last, 100.0);
    let sum: f64 = lines[3].split(',').skip(1).map(|x| x.parse::<f64>().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-6, "ROBER conserves mass: {sum}");
}

#[test]
fn fixed_steps_work_for_methods_without_error_estimate() {
    let v = json(&stiffnode(&[
        "solve",
        "--problem",
        "robertson",
        "--method",
        "gauss2",
        "--t-end",
        "1",
        "--steps",
        "200",
        "--json",
    ]));
    // Steps whose Newton iteration fails at the start of ROBER are split in halves.
    let (steps, rejected) = (v["stats"]["steps"].as_u64().unwrap(), v["stats"]["rejected"].as_u64().unwrap());
    assert_eq!(steps, 200 + rejected, "each split adds one step");
    fails_with(&["solve", "--problem", "robertson", "--method", "gauss2", "--t-end", "1"], "no error estimate");
}

#[test]
fn wrong_input_is_a_one_line_error() {
    fails_with(&["solve", "--problem", "robertson", "--method", "nope", "--t-end", "1"], "unknown method 'nope'");
    fails_with(&["solve", "--problem", "nope", "--method", "radau5", "--t-end", "1"], "nope: unknown problem");
    fails_with(&["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "-1"], "t-end");
    fails_with(&["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "inf"], "t-end");
    fails_with(&["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "1", "--rtol", "0"], "rtol");
    fails_with(&["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "1", "--rtol", "-1e-3"], "rtol");
    fails_with(&["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "1", "--device", "tpu"], "device");
    fails_with(&["solve", "--problem", "robertson", "--method", "dopri5", "--t-end", "1e5"], "maximum number of steps");
    fails_with(
        &["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "10", "--save-at", "linspace:0:20:3"],
        "save-at",
    );
    fails_with(&["stability", "--method", "radau5", "--z", "-1e4,abc"], "abc");
    fails_with(&["stability", "--method", "radau7", "--z", "-1"], "unknown method");
}

#[test]
fn mechanism_files_are_problems() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mechanisms/robertson.toml");
    let v = json(&stiffnode(&[
        "solve",
        "--problem",
        root,
        "--method",
        "radau5",
        "--t-end",
        "1e5",
        "--rtol",
        "1e-10",
        "--json",
    ]));
    let y: Vec<f64> = v["y"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    let reference = [1.78659211421e-2, 7.27475146844e-8, 0.982134006110];
    for i in 0..3 {
        assert!(((y[i] - reference[i]) / reference[i]).abs() < 1e-6, "{y:?}");
    }
    let bad = std::env::temp_dir().join(format!("stiffnode-bad-{}.toml", std::process::id()));
    std::fs::write(&bad, "name = \"x\"\nspecies = [\"A\"]\n[[reactions]]\nequation = \"A => D\"\nrate = 1\n").unwrap();
    fails_with(
        &["solve", "--problem", bad.to_str().unwrap(), "--method", "radau5", "--t-end", "1"],
        "reaction 1, field 'products': unknown species 'D'",
    );
}

#[test]
fn gradcheck_reports_agreement_with_finite_differences_as_json() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mechanisms/robertson.toml");
    for args in [
        ["gradcheck", "--problem", "robertson", "--method", "radau5", "--t-end", "100", "--steps", "40", "--json"],
        ["gradcheck", "--problem", file, "--method", "bdf2", "--t-end", "100", "--rtol", "1e-6", "--json"],
    ] {
        let v = json(&stiffnode(&args));
        for key in ["method", "problem", "max_rel_err", "n_params", "wall_s"] {
            assert!(!v[key].is_null(), "{key} missing from {v}");
        }
        assert_eq!(v["n_params"], 6, "{v}");
        assert_eq!(v["problem"], "robertson");
        assert!(v["max_rel_err"].as_f64().unwrap() <= 1e-6, "{v}");
    }
}

#[test]
fn gradcheck_checks_a_reactor_problem_and_a_trained_run() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let problem = format!("{root}/examples/h2-air-ignition.yaml");
    // Before ignition (3.1e-4 s), where every rate still matters: 27 rate factors and the 6
    // nonzero initial components (T, H2, O2, N2 and the carried pressure's absence).
    let v = json(&stiffnode(&["gradcheck", "--problem", &problem, "--method", "radau5", "--t-end", "2e-4", "--json"]));
    assert!(v["max_rel_err"].as_f64().unwrap() <= 1e-4, "{v}");
    assert!(v["adaptive_gradient_rel_diff"].as_f64().unwrap() < 1e-3, "{v}");
    assert!(v["modes_rel_diff"].as_f64().unwrap() <= 1e-8, "{v}");
    let n = v["n_params"].as_u64().unwrap();
    assert!(n > 27, "{v}");

    let out = std::env::temp_dir().join(format!("stiffnode-cli-gradcheck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let config = format!("{root}/examples/robertson.toml");
    let dir = out.to_str().unwrap();
    // The run's files name the dataset relative to the repository, as the README runs them.
    let at_root =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_stiffnode")).current_dir(root).args(args).output().unwrap();
    let trained = at_root(&["train", "--config", &config, "--epochs", "3", "--out", dir, "--quiet"]);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    let v = json(&at_root(&["gradcheck", "--run", dir, "--params", "8", "--json"]));
    assert_eq!(v["n_params"], 8 + 3, "{v}");
    assert!(v["max_rel_err"].as_f64().unwrap() <= 1e-4, "{v}");
    let bad = at_root(&["gradcheck", "--run", dir, "--trajectory", "999"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("--trajectory 999") && !err.contains("panicked"), "{err}");
    fails_with(&["gradcheck", "--run", dir, "--steps", "10"], "run's own step options");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn gradcheck_rejects_bad_input_in_one_line() {
    fails_with(&["gradcheck", "--problem", "robertson", "--method", "nope"], "unknown method 'nope'");
    fails_with(&["gradcheck", "--problem", "nowhere.toml", "--method", "radau5"], "nowhere.toml");
    fails_with(&["gradcheck", "--problem", "robertson", "--method", "radau5", "--t-end", "-1"], "--t-end");
    fails_with(&["gradcheck", "--problem", "robertson", "--method", "radau5", "--steps", "0"], "--steps");
}

#[test]
fn train_writes_a_run_directory_and_resumes_it() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::env::temp_dir().join(format!("stiffnode-cli-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let config = format!("{root}/examples/robertson.toml");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_stiffnode")).current_dir(root).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["train", "--config", &config, "--epochs", "3", "--out", out.to_str().unwrap(), "--quiet"]);
    for file in [
        "config.toml",
        "metrics.jsonl",
        "modes.jsonl",
        "predictions.csv",
        "fit.svg",
        "report.html",
        "modes_gradient_vs_z.svg",
        "modes_gradient_vs_z.png",
        "fit.png",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    // PNG copies, drawn with the shipped font.
    let png = std::fs::read(out.join("fit.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "fit.png: {} bytes", png.len());
    let fit = std::fs::read_to_string(out.join("fit.svg")).unwrap();
    assert!(
        fit.starts_with("<svg")
            && fit.trim_end().ends_with("</svg>")
            && fit.contains("time (log scale)")
            && fit.contains(">\nB\n<"),
        "fit.svg"
    );
    run(&["train", "--resume", out.to_str().unwrap(), "--epochs", "5", "--quiet"]);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let epochs: Vec<u64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4, 5]);
    // The best model's predictions at the data times are the run's predictions.csv; other
    // times parse back.
    let written = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let data_times: Vec<&str> = written.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    let csv = out.join("p.csv");
    run(&[
        "predict",
        "--run",
        out.to_str().unwrap(),
        "--times",
        &data_times.join(","),
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), written);
    let times = "0,1e-5,1e-3,1,1e5";
    run(&[
        "predict",
        "--run",
        out.to_str().unwrap(),
        "--times",
        times,
        "--checkpoint",
        "last",
        "--output",
        csv.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    assert!(text.starts_with("trajectory,t,A,B,C\n0,0e0,1e0,0e0,0e0\n"), "{text}");
    fails_with(&["predict", "--run", out.to_str().unwrap(), "--times", "-1,2"], "before the data's initial time");
    fails_with(&["predict", "--run", "/nonexistent/run", "--times", "1"], "not a training run directory");
    // The mode log (every epoch of a 3-epoch run, then the resumed ones) as a table and plots.
    let o = Command::new(env!("CARGO_BIN_EXE_stiffnode")).args(["inspect", out.to_str().unwrap()]).output().unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        table.contains("epoch 5 (radau5)")
            && table.contains("decomposition residual")
            && table.contains("by decade of |hλ|"),
        "{table}"
    );
    for (file, needle) in [
        ("modes_gradient_vs_z.svg", "R&apos;(z)| of radau5"),
        ("modes_shares_over_epochs.svg", "Share per decade of |hλ|"),
        ("modes_over_epochs.svg", "epoch"),
        ("modes_spectrum.svg", "|Re λ|"),
        ("loss.svg", "training loss"),
    ] {
        let svg = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains(needle), "{file}");
    }
    fails_with(&["inspect", out.to_str().unwrap(), "--epoch", "99"], "epoch 99 was not logged");
    // Two runs (the same one copied) compared, and the report: every plot inline, the tables, the
    // configurations.
    let (copy, compared) = (out.with_extension("copy"), out.with_extension("compared"));
    let _ = std::fs::remove_dir_all(&copy);
    std::process::Command::new("cp").args(["-r", out.to_str().unwrap(), copy.to_str().unwrap()]).status().unwrap();
    let args =
        ["inspect", out.to_str().unwrap(), copy.to_str().unwrap(), "--report", "--out", compared.to_str().unwrap()];
    let o = Command::new(env!("CARGO_BIN_EXE_stiffnode")).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(compared.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 2 + 2 * 5, "two comparisons and five plots per run");
    assert!(html.contains("Runs compared") && html.contains("eigenvalue λ (median)") && html.contains("[train]"));
    assert!(compared.join("runs_gradient_vs_z.svg").is_file() && compared.join("runs_fast_share.svg").is_file());
    let _ = (std::fs::remove_dir_all(&copy), std::fs::remove_dir_all(&compared));
    // Starting a new run over an existing one is refused.
    fails_with(&["train", "--config", &config, "--out", out.to_str().unwrap()], "already holds a training run");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn train_rejects_bad_configurations_in_one_line() {
    let dir = std::env::temp_dir().join(format!("stiffnode-cli-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let good = std::fs::read_to_string(format!("{root}/examples/robertson.toml"))
        .unwrap()
        .replace("\"../datasets/", &format!("\"{root}/datasets/"));
    for (i, (text, needle)) in [
        (good.replace("lr = 0.005", "lr = 0.005\nmomentum = 0.9"), "momentum"),
        (good.replace("epochs = 50000", "epochs = -3"), "epochs"),
        (good.replace("radau5", "radau9"), "unknown method 'radau9'"),
        (good.replace("datasets/robertson\"", "datasets/none\""), "datasets/none"),
        (good.replace("radau5", "gauss2"), "'gauss2' has no error estimate: set solver.steps"),
        (good.replace("scaled = true", "scaled = true\ntime_scale = -1"), "time_scale = -1 must be > 0"),
        (good.replace("scaled = true", "scaled = false\ntime_scale = 1"), "time_scale applies to a scaled MLP"),
        (good.replace("scaled = true", "scaled = true\nlog_floor = 2"), "log_floor = 2 must be between 0 and 1"),
        (
            good.replace("epochs = 50000", "epochs = 5\nignition_weight = 0.1"),
            "train.ignition_weight: ignition delays need",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        fails_with(&["train", "--config", file.to_str().unwrap(), "--out", dir.join("run").to_str().unwrap()], needle);
        assert!(!dir.join("run").exists(), "a rejected configuration must not leave a run directory");
    }
    fails_with(&["train", "--config", "nowhere.toml"], "nowhere.toml");
    fails_with(&["train", "--resume", "/nonexistent/run"], "/nonexistent/run");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_training_prints_time_per_epoch_as_json() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO_BIN_EXE_stiffnode"))
        .current_dir(root)
        .args(["bench", "--training", "examples/robertson.toml", "--methods", "radau5", "--epochs", "2"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["method"], "radau5");
    assert_eq!(v["epochs"], 2);
    assert!(v["s_per_epoch"].as_f64().unwrap() > 0.0 && v["loss"].as_f64().unwrap().is_finite(), "{v}");
    assert!(v["s_per_logged_epoch"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn inspect_names_runs_without_modes_and_directories_that_are_no_runs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::env::temp_dir().join(format!("stiffnode-cli-nomodes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // From another working directory: the config's dataset path is relative to the config.
    let config = format!("{root}/examples/robertson.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_stiffnode"))
        .current_dir(std::env::temp_dir())
        .args([
            "train",
            "--config",
            &config,
            "--epochs",
            "1",
            "--modes-every",
            "0",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    fails_with(&["inspect", out.to_str().unwrap()], "no modes were logged in this run");
    std::fs::write(out.join("modes.jsonl"), "not json\n").unwrap();
    fails_with(&["inspect", out.to_str().unwrap()], "modes.jsonl: line 1: not a mode record");
    fails_with(&["inspect", "/nonexistent/run"], "not a training run directory");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bench_ensemble_prints_kernel_figures_against_the_cpu_engine() {
    let out = stiffnode(&[
        "bench",
        "--ensemble",
        "--device",
        "wgpu",
        "--methods",
        "radau5",
        "--rtols",
        "1e-3",
        "--batches",
        "4",
        "--repeats",
        "1",
        "--gradients",
    ]);
    let v = json(&out);
    assert_eq!(
        (v["bench"].as_str(), v["method"].as_str(), v["batch"].as_u64()),
        (Some("rober_ensemble"), Some("radau5"), Some(4))
    );
    assert_eq!(v["host_syncs"], 1, "{v}");
    assert!(v["max_tolerance_units"].as_f64().unwrap() <= 5.0, "{v}");
    for key in ["per_trajectory_s", "trajectory_steps_per_s", "cpu_per_trajectory_s", "forward_backward_s"] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key}: {v}");
    }
    fails_with(&["bench", "--ensemble", "--device", "cpu"], "runs on a GPU device");
    fails_with(&["bench", "--ensemble", "--device", "wgpu", "--methods", "bdf2"], "'bdf2' has no device kernel");
}

#[test]
fn solve_on_wgpu_runs_the_ensemble_kernel_where_it_can() {
    let base = ["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "40", "--device", "wgpu", "--json"];
    let v = json(&stiffnode(&[&base[..], &["--rtol", "1e-5", "--atol", "1e-9"]].concat()));
    assert_eq!(v["kernel"], true, "{v}");
    let (_, reference) = rober::REFERENCE[0];
    for (y, r) in v["y"].as_array().unwrap().iter().zip(reference) {
        assert!((y.as_f64().unwrap() - r).abs() <= 1e-3 * r, "{v}");
    }
    // Below what f32 resolves, the tensor path.
    let v = json(&stiffnode(&[&base[..], &["--rtol", "1e-6", "--atol", "1e-12"]].concat()));
    assert_eq!(v["kernel"], false, "{v}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let args = ["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "1", "--device", "cuda"];
    fails_with(&args, "no CUDA backend");
}

#[test]
fn reactor_problems_solve_and_report_the_ignition_delay() {
    let problem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/h2-air-ignition.yaml");
    let args = ["solve", "--problem", problem, "--method", "radau5", "--t-end", "1e-3", "--rtol", "1e-8", "--json"];
    let v = json(&stiffnode(&args));
    // Cantera 3.2.0, IdealGasConstPressureReactor (crates/chemistry/tests/data/cantera/ignition.json).
    let tau = v["ignition_delay"].as_f64().unwrap();
    assert!((tau / 3.11980405738861e-4 - 1.0).abs() < 5e-3, "ignition delay {tau}");
    let t_final = v["y"][0].as_f64().unwrap();
    assert!(t_final > 2600.0 && t_final < 2700.0, "burnt gas temperature {t_final} K");
    let bad = std::env::temp_dir().join(format!("stiffnode-bad-{}.yaml", std::process::id()));
    std::fs::write(&bad, "mechanism: nowhere.yaml\nreactor: constant-pressure\nT: 1000\nP: 1 atm\nX: {H2: 1}\n")
        .unwrap();
    fails_with(
        &["solve", "--problem", bad.to_str().unwrap(), "--method", "radau5", "--t-end", "1"],
        "nowhere.yaml: cannot read",
    );
}

#[test]
fn reactor_problems_generate_datasets_and_bad_sweeps_are_named() {
    let problem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/problems/h2-air.yaml");
    let out = std::env::temp_dir().join(format!("stiffnode-h2-{}", std::process::id()));
    let status = stiffnode(&[
        "generate",
        "--problem",
        problem,
        "--times",
        "1e-4,1e-3",
        "--trajectories",
        "2",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let csv = std::fs::read_to_string(out.join("data.csv")).unwrap();
    assert!(csv.starts_with("trajectory,t,T,H2,H,O,O2,OH,H2O,HO2,H2O2,AR,N2\n"), "{}", &csv[..80]);
    assert_eq!(csv.lines().count(), 1 + 2 * 3);
    let text = std::fs::read_to_string(problem).unwrap().replace("T: [950, 1200]", "T: [1200, 950]");
    let bad = std::env::temp_dir().join(format!("stiffnode-sweep-{}.yaml", std::process::id()));
    std::fs::write(
        &bad,
        text.replace(
            "../mechanisms/h2o2.yaml",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mechanisms/h2o2.yaml"),
        ),
    )
    .unwrap();
    fails_with(
        &["generate", "--problem", bad.to_str().unwrap(), "--times", "1e-3", "--output", out.to_str().unwrap()],
        "sweep: T: [1200, 950] (must be finite, positive and ascending)",
    );
    fails_with(&["generate", "--times", "1e-3", "--output", out.to_str().unwrap()], "--mechanism");
    // Several trajectories of a problem without a sweep would all be the same; --perturb does
    // not apply to a problem; a grid with no time after t = 0 gives no target.
    let fixed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/h2-air-ignition.yaml");
    let o = out.to_str().unwrap();
    for (args, says) in [
        (
            vec!["--problem", fixed, "--times", "1e-3", "--trajectories", "3"],
            "--trajectories: invalid trajectories: 3: the problem has no sweep",
        ),
        (
            vec!["--problem", problem, "--times", "1e-3", "--trajectories", "3", "--perturb", "2"],
            "--perturb applies to --mechanism",
        ),
        (vec!["--problem", problem, "--times", "0"], "no time after t = 0"),
    ] {
        let _ = std::fs::remove_dir_all(&out);
        let mut all = vec!["generate", "--output", o];
        all.extend(args);
        fails_with(&all, says);
        assert!(!out.exists(), "{all:?} wrote a dataset");
    }
}

/// `evaluate` scores a trained reactor MLP on its own adaptive-grid dataset and on a held-out
/// one (another seed): per-trajectory JSON, ignition delays of model and reactor, elements held
/// by the conserving model, a parity plot; a dataset of other species is refused by name.
/// `predict` starts from another dataset's initial states or from conditions a user gives.
#[test]
fn evaluate_scores_a_run_on_its_data_and_on_a_held_out_set() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let problem = format!("{root}/datasets/problems/h2-air.yaml");
    let base = std::env::temp_dir().join(format!("stiffnode-evaluate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (data, held_out, run) = (base.join("data"), base.join("held-out"), base.join("run"));
    for (dir, seed) in [(&data, "1"), (&held_out, "1234")] {
        let out = stiffnode(&[
            "generate",
            "--problem",
            &problem,
            "--times",
            "adaptive:-6:-1:16",
            "--trajectories",
            "3",
            "--seed",
            seed,
            "--output",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let config = base.join("mlp.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\ndataset = \"{}\"\nmechanism = \"{problem}\"\n[model]\nkind = \"mlp\"\nhidden = [8]\n\
             activation = \"tanh\"\nscaled = true\n[solver]\nmethod = \"radau5\"\nrtol = 1e-4\natol = 1e-8\n\
             [train]\nepochs = 2\nlr = 0.001\nmodes_every = 2\n",
            data.display()
        ),
    )
    .unwrap();
    let trained =
        stiffnode(&["train", "--config", config.to_str().unwrap(), "--out", run.to_str().unwrap(), "--quiet"]);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    // Training logged the validation trajectory's ignition-delay errors every epoch (a tenth of
    // 2, at least 1), and its report shows the parity plot and the dense T(t) of every
    // trajectory.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    for line in metrics.lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(m["ignition"]["trajectories"], 1, "{m}");
    }
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for (file, title) in [
        ("parity.svg", "Ignition delays: the best model against the reactor"),
        ("temperature.svg", "T(t) of the reactor (black) and the best model (colour)"),
    ] {
        assert!(run.join(file).is_file() && html.contains(title), "{file}");
    }
    for (dir, name) in [(None, "data"), (Some(&held_out), "held-out")] {
        let mut args = vec!["evaluate", "--run", run.to_str().unwrap(), "--json"];
        if let Some(dir) = dir {
            args.extend(["--data", dir.to_str().unwrap()]);
        }
        let out = stiffnode(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4, "three trajectories and the summary");
        for t in &lines[..3] {
            assert!(t["mae"].as_f64().unwrap() > 0.0 && t["mae_t"].as_f64().unwrap() > 0.0, "{t}");
            let reference = t["ignition_delay_reference"].as_f64().unwrap();
            assert!((1e-5..1e-2).contains(&reference), "{t}");
            assert!(t["invariant_drift"].as_f64().unwrap() <= 1e-9, "a conserving model holds the elements: {t}");
        }
        // Another dataset is held out as a whole; the run's own has its split.
        let held_out = lines[..3].iter().filter(|t| t["held_out"] == true).count();
        assert_eq!(held_out, if dir.is_some() { 3 } else { 1 }, "{name}");
        assert_eq!(lines[3]["summary"]["trajectories"], 3);
        assert!(run.join(format!("parity-{name}.svg")).is_file() && run.join(format!("parity-{name}.png")).is_file());
    }
    let robertson = format!("{root}/datasets/robertson");
    fails_with(&["evaluate", "--run", run.to_str().unwrap(), "--data", &robertson], "column 'A' where 'T' is expected");
    // predict from another dataset's initial states, and from conditions a user gives.
    let r = run.to_str().unwrap();
    let out = stiffnode(&["predict", "--run", r, "--times", "1e-4,1e-3", "--data", held_out.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1 + 3 * 2, "three trajectories, two times");
    let out = stiffnode(&["predict", "--run", r, "--times", "0,1e-3", "--T0", "1100", "--phi", "1.2", "--P", "2 atm"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(
        (rows[0][0], rows[0][1], rows[0][2]),
        (0.0, 0.0, 1100.0),
        "trajectory 0 at t = 0 from T0 = 1100 K: {text}"
    );
    assert!(rows[1].iter().all(|v| v.is_finite()), "{text}");
    fails_with(&["predict", "--run", r, "--times", "1e-3", "--P", "2 furlongs"], "invalid --P");
    fails_with(&["predict", "--run", r, "--times", "1e-3", "--T0", "-5"], "invalid --T0 -5");
    fails_with(
        &["predict", "--run", r, "--times", "1e-3", "--T0", "5000"],
        "invalid --T0: 5000 K is outside the range",
    );
    let _ = std::fs::remove_dir_all(&base);
}
