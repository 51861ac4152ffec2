//! Run-time choice of the compute device: `cpu` (Burn's Flex backend in f64), `wgpu` (f32,
//! WGSL has no f64; design.md §6) or `cuda` (f64, with the `cuda` cargo feature: Burn's CUDA
//! backend loads the driver at run time, so the build needs no CUDA toolkit). A [`DeviceKind`] parses from its name (command line) and
//! reads and writes as it (configuration files).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use burn::tensor::{DType, Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::SetupError;

/// The devices stiffnode runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Flex CPU backend, f64.
    #[default]
    Cpu,
    /// wgpu (Vulkan, Metal, DX12 or a software Vulkan driver), f32.
    Wgpu,
    /// CUDA (an NVIDIA GPU and its driver), f64; needs the `cuda` cargo feature.
    Cuda,
}

impl FromStr for DeviceKind {
    type Err = SetupError;
    fn from_str(s: &str) -> Result<Self, SetupError> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            other => {
                Err(SetupError::InvalidOption { what: "device", why: format!("'{other}' (known: cpu, wgpu, cuda)") })
            }
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl DeviceKind {
    /// The name it is spelled by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }

    /// Create the device with its float precision set, and check that it works by running one
    /// small operation on it (a missing GPU adapter becomes an error, not a panic).
    pub fn open(self) -> Result<Device, SetupError> {
        let (mut device, dtype) = match self {
            Self::Cpu => (Device::flex(), FloatDType::F64),
            Self::Wgpu => (Device::wgpu(Default::default()), FloatDType::F32),
            #[cfg(feature = "cuda")]
            Self::Cuda => (Device::cuda(0), FloatDType::F64),
            #[cfg(not(feature = "cuda"))]
            Self::Cuda => {
                let why = "this build has no CUDA backend (build stiffnode with its `cuda` feature)";
                return Err(self.unavailable(why.into()));
            }
        };
        // Settings can be set once per device and process; a second open finds them set.
        if device.configure(dtype).is_err() && device.settings().float_dtype != dtype {
            return Err(self.unavailable("its float precision is already set otherwise".into()));
        }
        let probe = device.clone();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result = catch_unwind(AssertUnwindSafe(move || {
            let x = Tensor::<1>::from_floats([1.0, 2.0], &probe);
            x.clone().mul(x).sum().into_scalar::<f64>()
        }));
        std::panic::set_hook(hook);
        match result {
            Ok(5.0) => Ok(device),
            Ok(v) => Err(self.unavailable(format!("probe computation returned {v} instead of 5"))),
            Err(payload) => {
                let why = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "initialization failed".into());
                Err(self.unavailable(why.lines().next().unwrap_or_default().to_string()))
            }
        }
    }

    fn unavailable(self, why: String) -> SetupError {
        SetupError::Device { name: self.name().into(), why }
    }
}

/// Machine epsilon of a tensor's float type.
pub fn epsilon_of(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F16 | DType::BF16 => 1e-3,
        _ => f32::EPSILON as f64,
    }
}
