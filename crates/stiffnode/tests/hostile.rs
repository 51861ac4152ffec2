//! Hostile-but-honest input, by kind: every defect ends in exit status 1 and one line on stderr
//! that names the problem — no panic, no hang, no wrong answer — and nothing is written where
//! nothing should be.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stiffnode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stiffnode")).args(args).current_dir(root()).output().expect("run stiffnode")
}

/// Exit status 1, one line on stderr naming `needle`, no panic.
fn refused(args: &[&str], needle: &str) {
    let out = stiffnode(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail with status 1: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.contains(needle), "{args:?}: '{err}' does not mention '{needle}'");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{args:?} panicked: {err}");
}

/// `solve` of ROBER to t = 1 with radau5, and `extra`.
fn solve_args(extra: &[&str]) -> Vec<String> {
    ["solve", "--problem", "robertson", "--method", "radau5", "--t-end", "1"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stiffnode-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The ROBER example configuration with `edit` applied, its dataset path made absolute.
fn robertson_config(edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(root().join("examples/robertson.toml")).unwrap();
    edit(text.replace("\"../datasets/", &format!("\"{}/datasets/", root().display())))
}

/// `train` refuses the configuration `text` naming `needle`, and leaves no run directory.
fn train_refused(dir: &Path, text: &str, needle: &str) {
    let config = write(dir, "config.toml", text);
    let out = dir.join("run");
    refused(&["train", "--config", &config, "--out", out.to_str().unwrap(), "--quiet"], needle);
    assert!(!out.exists(), "a refused configuration left {}", out.display());
}

#[test]
fn inputs_that_used_to_panic_are_named_errors() {
    let dir = scratch("panics");
    let empty = write(&dir, "empty.toml", "name = \"m\"\nspecies = [\"A\"]\n[initial]\nA = 1.0\n");
    refused(&["solve", "--problem", &empty, "--method", "radau5", "--t-end", "1"], "no reactions");
    let out = dir.join("data");
    refused(&["generate", "--mechanism", &empty, "--times", "1", "--output", out.to_str().unwrap()], "no reactions");
    assert!(!out.exists());
    refused(&["gradcheck", "--problem", &empty, "--method", "radau5"], "no reactions");
    let huge_order = write(
        &dir,
        "order.toml",
        "name = \"m\"\nspecies = [\"A\", \"B\"]\n[initial]\nA = 1.0\n[[reactions]]\nequation = \"A => B\"\nrate = 1.0\norders = { A = 1e300 }\n",
    );
    refused(&["solve", "--problem", &huge_order, "--method", "radau5", "--t-end", "1"], "coefficient 1e300");
    train_refused(
        &dir,
        &robertson_config(|t| t.replace("hidden = [5, 5, 5, 5, 5, 5]", "hidden = [5, 0, 5]")),
        "width 0",
    );
    refused(&["bench", "--training", "examples/robertson.toml", "--epochs", "0"], "--epochs 0");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_that_would_exhaust_memory_are_refused_up_front() {
    let dir = scratch("sizes");
    let species: Vec<String> = (0..10_000).map(|i| format!("\"S{i}\"")).collect();
    let big = write(
        &dir,
        "big.toml",
        &format!(
            "name = \"m\"\nspecies = [{}]\n[initial]\nS0 = 1.0\n[[reactions]]\nequation = \"S0 => S1\"\nrate = 1.0\n",
            species.join(", ")
        ),
    );
    refused(&["solve", "--problem", &big, "--method", "radau5", "--t-end", "1"], "10000 species");
    let coefficient = write(
        &dir,
        "coef.toml",
        "name = \"m\"\nspecies = [\"A\", \"B\"]\n[initial]\nA = 1.0\n[[reactions]]\nequation = \"1e9 A => B\"\nrate = 1.0\n",
    );
    refused(&["solve", "--problem", &coefficient, "--method", "radau5", "--t-end", "1"], "coefficient 1e9");
    train_refused(
        &dir,
        &robertson_config(|t| t.replace("hidden = [5, 5, 5, 5, 5, 5]", "hidden = [100000000]")),
        "parameters",
    );
    // A step limit past the largest: a record of 10⁸ steps would not fit.
    refused(&strs(&solve_args(&["--max-steps", "100000000"])), "max_steps");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn meaningless_settings_are_refused_not_answered() {
    let dir = scratch("settings");
    let solve = |extra: &[&str]| solve_args(extra);
    refused(&strs(&solve(&["--rtol", "1e10"])), "rtol");
    refused(&strs(&solve(&["--atol", "1e10"])), "atol");
    train_refused(&dir, &robertson_config(|t| t.replace("rtol = 1e-6", "rtol = 1e10")), "rtol");
    // Above every value of the data (at most 1): the error control would accept anything.
    train_refused(&dir, &robertson_config(|t| t.replace("atol = 1e-8", "atol = 10.0")), "atol");
    train_refused(&dir, &robertson_config(|t| t.replace("lr = 0.005", "lr = 0.005\nlr_final = -0.1")), "lr_final");
    train_refused(
        &dir,
        &robertson_config(|t| t.replace("lr = 0.005", "lr = 0.005\nweight_decay = -1.0")),
        "weight_decay",
    );
    // Far out on the negative axis R(z) of radau5 is −3/z (3z²/(−z³)), not NaN.
    let out = stiffnode(&["stability", "--method", "radau5", "--z=-1e110", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = v[0]["r"][0].as_f64().expect("R(z) is a number");
    assert!((r * 1e110 - 3.0).abs() < 1e-9, "R(-1e110) = {r}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn datasets_whose_metadata_disagree_with_their_data_are_refused() {
    let dir = scratch("meta");
    let source = root().join("datasets/robertson-multi");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(source.join("meta.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(source.join("data.csv")).unwrap();
    let config_for = |data: &Path| {
        std::fs::read_to_string(root().join("examples/robertson-rates.toml"))
            .unwrap()
            .replace("\"../datasets/robertson-multi\"", &format!("\"{}\"", data.display()))
            .replace("epochs = 300", "epochs = 1")
    };
    let cases: Vec<(&str, serde_json::Value, String, &str)> = vec![
        ("empty-train", json_with(&meta, "/split/train", serde_json::json!([])), csv.clone(), "split.train is empty"),
        ("overlap", json_with(&meta, "/split/validation", serde_json::json!([0, 1])), csv.clone(), "in both"),
        ("species", json_with(&meta, "/species", serde_json::json!(["A", "B", "D"])), csv.clone(), "species"),
        ("times", json_with(&meta, "/times/3", serde_json::json!(7.0)), csv.clone(), "times"),
        ("count", json_with(&meta, "/trajectories", serde_json::json!(65)), csv.clone(), "65 trajectories"),
        ("huge", meta.clone(), csv.replacen("0,0e0,1.9298510138719345e0", "0,0e0,1e308", 1), "above 1e100"),
    ];
    for (name, meta, csv, needle) in cases {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("meta.json"), serde_json::to_string(&meta).unwrap()).unwrap();
        std::fs::write(data.join("data.csv"), csv).unwrap();
        train_refused(&dir, &config_for(&data), needle);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `v` with the value at the JSON pointer `at` replaced.
fn json_with(v: &serde_json::Value, at: &str, new: serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    *v.pointer_mut(at).unwrap_or_else(|| panic!("no {at}")) = new;
    v
}

#[test]
fn messages_say_what_happened() {
    let dir = scratch("messages");
    refused(&["solve", "--problem", "nowhere/mine.toml", "--method", "radau5", "--t-end", "1"], "cannot read");
    let out = dir.join("out.csv");
    let with = |extra: &[&str]| solve_args(extra);
    refused(&strs(&with(&["--save-at", "0.5"])), "--output");
    refused(&strs(&with(&["--output", out.to_str().unwrap()])), "--save-at");
    assert!(!out.exists());
    // An explicit method at its step limit is not told to be implicit already.
    let out = stiffnode(&strs(&with(&["--max-steps", "3"])));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("maximum number of steps (3)") && !err.contains("needs an implicit method"), "{err}");
    // Clap's own errors: one line, status 1, as every other wrong input.
    refused(&["solve", "--nonsense"], "--nonsense");
    // `learnable = [1]`: indices work as the README says.
    let text = std::fs::read_to_string(root().join("examples/robertson-rates.toml"))
        .unwrap()
        .replace("\"../datasets/", &format!("\"{}/datasets/", root().display()))
        .replace("learnable = []", "learnable = [1, \"3\"]")
        .replace("epochs = 300", "epochs = 1");
    let config = write(&dir, "rates.toml", &text);
    let run = dir.join("rates");
    let out = stiffnode(&["train", "--config", &config, "--out", run.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
