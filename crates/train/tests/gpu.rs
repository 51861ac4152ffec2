//! Training with `device = "wgpu"` (CI: software Vulkan): the forward solves run in the GPU
//! ensemble kernel (design.md §11), the parameters, optimizer and adjoint in f64 on the host: the
//! same first loss as the CPU run and learning as it does, for rate identification on a batch of
//! trajectories and for an MLP; a resumed GPU run repeats itself exactly; tolerances below what
//! f32 resolves keep the tensor path.

mod common;

use common::{losses, mlp_config, scratch, train};
use stiffnode_train::Trainer;

fn on(device: &str, text: &str) -> String {
    format!("{text}device = \"{device}\"\n")
}

/// The rate identification at tolerances the f32 kernel resolves.
fn rates_config(epochs: usize) -> String {
    common::rates_config(epochs, 16, "").replace("rtol = 1e-6\natol = 1e-10", "rtol = 1e-5\natol = 1e-9")
}

#[test]
fn gpu_runs_follow_the_cpu_runs() {
    // The first loss is the same model's, solved in f32 on the device and in f64 on the host;
    // later ones drift apart as Adam's early, sign-like steps amplify f32-sized gradient
    // differences, but the GPU run learns as the CPU run does.
    for (name, text, factor) in [("rates", rates_config(6), 0.6), ("mlp", mlp_config(15), 0.98)] {
        let (cpu, gpu) = (scratch(&format!("{name}-cpu")), scratch(&format!("{name}-gpu")));
        train(&text, &cpu);
        let trainer = train(&on("wgpu", &text), &gpu);
        assert!(trainer.setup.backend.is_kernel(), "{name}: the GPU run should use the ensemble kernel");
        let (lc, lg) = (losses(&cpu), losses(&gpu));
        println!("{name}: cpu {lc:?}\n      gpu {lg:?}");
        assert!((lg[0] - lc[0]).abs() <= 1e-4 * lc[0], "{name}: first loss gpu {} vs cpu {}", lg[0], lc[0]);
        assert!(lg[lg.len() - 1] < factor * lg[0], "{name}: the GPU run did not learn: {lg:?}");
        for d in [cpu, gpu] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }
}

#[test]
fn tolerances_below_f32_take_the_tensor_path() {
    let run = scratch("gpu-tight");
    let text = on("wgpu", &common::rates_config(1, 16, ""));
    let trainer =
        Trainer::start(stiffnode_train::TrainConfig::parse(&text, "t.toml").unwrap(), "t.toml", &run).unwrap();
    assert!(!trainer.setup.backend.is_kernel(), "rtol 1e-6 is below what the f32 kernel resolves");
    drop(trainer);
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn a_resumed_gpu_run_repeats_the_uninterrupted_one() {
    let (straight, split) = (scratch("gpu-straight"), scratch("gpu-split"));
    train(&on("wgpu", &rates_config(4)), &straight);
    train(&on("wgpu", &rates_config(2)), &split);
    let mut resumed = Trainer::resume(&split, Some(4), None).unwrap();
    resumed.run(|_| {}).unwrap();
    assert_eq!(losses(&straight), losses(&split));
    for d in [straight, split] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
