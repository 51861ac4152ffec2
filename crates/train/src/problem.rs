//! What a configuration's `data.mechanism` names: a mass-action mechanism (built in, or a
//! `.toml` file) or a reactor problem (a `.yaml` file: a Cantera mechanism in a reactor), which
//! names the dataset's columns and builds the mechanism's own kinetics as a model.

use stiffnode_chemistry::gas::{self, ReactorProblem};
use stiffnode_chemistry::mass_action::{self, Mechanism};

use crate::error::TrainError;

/// A mass-action mechanism or a reactor problem.
// One per run, never in a collection: the size of the reactor variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Problem {
    /// Isothermal mass-action kinetics.
    MassAction(Mechanism),
    /// A Cantera mechanism in a 0-D reactor.
    Reactor(ReactorProblem),
}

impl Problem {
    /// Load `name_or_path`: a `.yaml`/`.yml` path is a reactor problem, anything else a
    /// mechanism.
    pub fn load(name_or_path: &str) -> Result<Self, TrainError> {
        if gas::is_problem_file(name_or_path) {
            let problem =
                gas::load_problem(name_or_path).map_err(|e| TrainError::Config { file: e.file, what: e.what })?;
            Ok(Self::Reactor(problem))
        } else {
            Ok(Self::MassAction(mass_action::load(name_or_path)?))
        }
    }

    /// Its name (for titles).
    pub fn name(&self) -> &str {
        match self {
            Self::MassAction(m) => &m.name,
            Self::Reactor(r) => &r.name,
        }
    }

    /// The state components, in the order of the dataset's columns.
    pub fn species(&self) -> Vec<String> {
        match self {
            Self::MassAction(m) => m.species.clone(),
            Self::Reactor(r) => r.state_names(),
        }
    }

    /// The state components a model holds: a reactor problem's carried pressure, density or
    /// temperature (see [`ReactorProblem::carries_condition`]); with `conserve`, also its inert
    /// species (design.md §13).
    pub fn constant_components(&self, conserve: bool) -> Vec<usize> {
        let Self::Reactor(r) = self else { return Vec::new() };
        let mut held = if conserve { r.invariants().1 } else { Vec::new() };
        if r.carries_condition() {
            held.push(r.state_names().len() - 1);
        }
        held
    }

    /// The state components that are mass fractions or concentrations (a reactor problem's
    /// species; every component of a mass-action mechanism): what a model may see on a log scale.
    pub fn mass_fractions(&self) -> Vec<usize> {
        match self {
            Self::MassAction(m) => (0..m.species.len()).collect(),
            Self::Reactor(r) => {
                let names = r.state_names();
                (0..names.len()).filter(|&i| r.mechanism.species_index(&names[i]).is_some()).collect()
            }
        }
    }

    /// The linear invariants a conserving model holds exactly: a reactor problem's elements
    /// ([`ReactorProblem::invariants`]); none for a mass-action mechanism.
    pub fn invariants(&self) -> Vec<Vec<f64>> {
        match self {
            Self::Reactor(r) => r.invariants().0,
            Self::MassAction(_) => Vec::new(),
        }
    }

    /// Reaction labels in order: each reaction's name (or 1-based index) for a mechanism, its
    /// equation for a reactor problem.
    pub fn reactions(&self) -> Vec<(usize, String)> {
        match self {
            Self::MassAction(m) => m
                .reactions
                .iter()
                .enumerate()
                .map(|(j, r)| (j, r.name.clone().unwrap_or_else(|| (j + 1).to_string())))
                .collect(),
            Self::Reactor(r) => {
                r.mechanism.reactions.iter().enumerate().map(|(j, x)| (j, x.equation.clone())).collect()
            }
        }
    }
}
