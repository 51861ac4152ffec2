//! Run-time choice of the compute device: `cpu` (Burn's Flex backend in f64) or `wgpu` (f32,
//! WGSL has no f64; DESIGN §6).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use burn::tensor::{Device, DType, FloatDType, Tensor};

use crate::error::SolveError;

/// The devices stiffnode runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// Flex CPU backend, f64.
    Cpu,
    /// wgpu (Vulkan, Metal, DX12 or a software Vulkan driver), f32.
    Wgpu,
}

impl FromStr for DeviceKind {
    type Err = SolveError;
    fn from_str(s: &str) -> Result<Self, SolveError> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            other => Err(SolveError::InvalidOption {
                what: "device",
                why: format!("'{other}' (known: cpu, wgpu)"),
            }),
        }
    }
}

impl DeviceKind {
    /// The name the CLI spells.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        }
    }

    /// Create the device with its float precision set, and check that it works by running one
    /// small operation on it (a missing GPU adapter becomes an error, not a panic).
    pub fn open(self) -> Result<Device, SolveError> {
        let (mut device, dtype) = match self {
            Self::Cpu => (Device::flex(), FloatDType::F64),
            Self::Wgpu => (Device::wgpu(Default::default()), FloatDType::F32),
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
            Ok(v) if v == 5.0 => Ok(device),
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

    fn unavailable(self, why: String) -> SolveError {
        SolveError::Device { name: self.name().into(), why }
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
