//! The gradient check of a mass-action mechanism (`stiffnode gradcheck`): the solver's gradient
//! of the check's loss with respect to every reaction's `log10 k` and the initial state against
//! finite differences on the same step grid ([`check_field`], whose module header carries the
//! method).

use burn::tensor::Device;
use stiffnode_solvers::gradient::check::{CheckReport, CheckSpec, check_field};
use stiffnode_solvers::{DeviceKind, Request, SolveError};

use crate::mass_action::{MassActionField, Mechanism};

/// [`check_field`] for a mass-action mechanism: every reaction's `log10 k` (named `log10 k[name]`,
/// or by its number) and the initial state.
pub fn check_mechanism(mech: &Mechanism, device: &Device, request: &Request) -> Result<CheckReport, SolveError> {
    let all: Vec<usize> = (0..mech.reactions.len()).collect();
    let names = mech
        .reactions
        .iter()
        .enumerate()
        .map(|(j, r)| (j, format!("log10 k[{}]", r.name.clone().unwrap_or_else(|| (j + 1).to_string()))));
    let spec = CheckSpec { params: names.collect(), state_names: mech.species.clone(), ..CheckSpec::default() };
    let field = MassActionField::with_learnable(mech, &device.clone().autodiff(), &all);
    let host = MassActionField::with_learnable(mech, &DeviceKind::Cpu.open()?, &all);
    check_field(&field, &host, request, &spec)
}
