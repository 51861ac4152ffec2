//! A reaction mechanism as data: species, initial state and reactions with power-law rates
//! `r = k·Π[X]^order`, `dy/dt = Σ_r (products − reactants)·r`.

/// One reaction. Species are indices into [`Mechanism::species`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// Optional label.
    pub name: Option<String>,
    /// Species consumed, with stoichiometric coefficients.
    pub reactants: Vec<(usize, f64)>,
    /// Species produced, with stoichiometric coefficients.
    pub products: Vec<(usize, f64)>,
    /// Reaction orders; mass action takes the reactant coefficients.
    pub orders: Vec<(usize, f64)>,
    /// Rate constant `k > 0`.
    pub rate: f64,
}

impl Reaction {
    /// A mass-action reaction (orders = reactant coefficients).
    pub fn mass_action(reactants: &[(usize, f64)], products: &[(usize, f64)], rate: f64) -> Self {
        Self {
            name: None,
            reactants: reactants.to_vec(),
            products: products.to_vec(),
            orders: reactants.to_vec(),
            rate,
        }
    }

    /// Net stoichiometric change of species `i`.
    pub fn net(&self, i: usize) -> f64 {
        let sum = |side: &[(usize, f64)]| side.iter().filter(|(s, _)| *s == i).map(|(_, c)| c).sum::<f64>();
        sum(&self.products) - sum(&self.reactants)
    }
}

/// A reaction network with its initial state.
#[derive(Debug, Clone, PartialEq)]
pub struct Mechanism {
    /// Name.
    pub name: String,
    /// Species, in state order.
    pub species: Vec<String>,
    /// Initial concentrations, one per species.
    pub initial: Vec<f64>,
    /// Reactions.
    pub reactions: Vec<Reaction>,
    /// Suggested end time.
    pub t_end: Option<f64>,
}

impl Mechanism {
    /// Rates `r_j(y)` on the host, f64 (reference implementation for tests).
    pub fn rates(&self, y: &[f64]) -> Vec<f64> {
        self.reactions.iter().map(|r| r.orders.iter().fold(r.rate, |acc, &(i, o)| acc * y[i].powf(o))).collect()
    }

    /// `f(y)` on the host, f64 (reference implementation for tests).
    pub fn rhs(&self, y: &[f64]) -> Vec<f64> {
        let rates = self.rates(y);
        (0..self.species.len()).map(|i| self.reactions.iter().zip(&rates).map(|(r, k)| r.net(i) * k).sum()).collect()
    }
}
