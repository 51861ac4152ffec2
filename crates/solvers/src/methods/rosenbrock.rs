//! Rosenbrock–Wanner methods: linearly implicit, one LU of `I/(hγ) − J` and `s` linear solves
//! per step, no Newton iteration (Hairer & Wanner II, IV.7). Stored in the transformed form of
//! HW (7.25)–(7.26), the form of Hairer's `rodas.f` and of OrdinaryDiffEq.jl:
//!
//! `(I/(hγ) − J) u_i = F_i + Σ_{j<i} (C_ij/h) u_j + Σ_{j<i} G_ij F_j + h d_i ∂f/∂t`,
//! `F_i = f(t + c_i h, y + Σ_{j<i} a_ij u_j)`, `y_{n+1} = y + Σ m_i u_i`, error `Σ e_i u_i`,
//!
//! with `J = ∂f/∂y` and `∂f/∂t` at `(t_n, y_n)`. `G` (zero for the RODAS family) couples the
//! stages' own evaluations, as Shampine & Reichelt's `ode23s` error stage does. With `Γ⁻¹ = diag(1/γ) − C`, the standard form
//! is `α = aΓ`, `b = mΓ`, and the stability function is that of the Runge–Kutta method with
//! `A = α + Γ` and weights `b` (HW IV.7, (7.14)); [`Rosenbrock::stability`] evaluates it in the
//! transformed form.

use num_complex::Complex64;

/// A Rosenbrock method's coefficients (transformed form, see the module header).
#[derive(Debug, Clone, PartialEq)]
pub struct Rosenbrock {
    /// The name the CLI spells.
    pub name: &'static str,
    /// The diagonal `γ`.
    pub gamma: f64,
    /// `a_ij`, strictly lower triangular, `s×s`.
    pub a: Vec<Vec<f64>>,
    /// `C_ij`, strictly lower triangular, `s×s`.
    pub c_mat: Vec<Vec<f64>>,
    /// `G_ij` on earlier stages' evaluations `F_j`, strictly lower triangular (empty: none).
    pub g_mat: Vec<Vec<f64>>,
    /// Stage times `c_i`.
    pub c: Vec<f64>,
    /// `d_i = Σ_j γ_ij`, the weights of `h ∂f/∂t`.
    pub d: Vec<f64>,
    /// Solution weights `m_i` on the `u_i`.
    pub m: Vec<f64>,
    /// Error-estimate weights `e_i` on the `u_i`.
    pub e: Vec<f64>,
    /// Dense output (empty: none): rows `H_r` on the `u_i`, `D_r = Σ_i H_ri u_i`, and
    /// `y(t_n + θh) = (1−θ)y_n + θ(y_{n+1} + (1−θ)(D_1 + θ(D_2 + θ(D_3 + …))))` (the form of
    /// OrdinaryDiffEq.jl's Rodas interpolants).
    pub dense: Vec<Vec<f64>>,
    /// Classical order.
    pub order: u32,
    /// Order of the embedded solution (the estimate's).
    pub embedded_order: u32,
    /// Stiffly accurate: `y_{n+1}` is the last stage's argument plus its `u`.
    pub stiffly_accurate: bool,
    /// A-stable.
    pub a_stable: bool,
    /// L-stable.
    pub l_stable: bool,
    /// Where the coefficients come from.
    pub reference: &'static str,
}

impl Rosenbrock {
    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.m.len()
    }

    /// `G_ij`, 0 where the method has no such coupling.
    pub fn g(&self, i: usize, j: usize) -> f64 {
        self.g_mat.get(i).map_or(0.0, |row| row[j])
    }

    /// `R(z)` and `R'(z)`: one step of size 1 on `y' = λy` from `y = 1` with `z = λ`, in the
    /// transformed form the stepper uses, `(1/γ − z) u_i = F_i + Σ C_ij u_j + Σ G_ij F_j`,
    /// `F_i = z(1 + Σ a_ij u_j)`, `R = 1 + Σ m_i u_i`, differentiated in `z` alongside. (The standard form, `A = α + Γ`
    /// with `Γ = (diag(1/γ) − C)⁻¹`, gives the same function in exact arithmetic but loses
    /// digits to the large entries of `Γ`.)
    pub fn stability(&self, z: Complex64) -> (Complex64, Complex64) {
        let s = self.stages();
        let zero = Complex64::new(0.0, 0.0);
        let (mut u, mut du, mut f, mut df) = (vec![zero; s], vec![zero; s], vec![zero; s], vec![zero; s]);
        let shift = 1.0 / self.gamma - z;
        for i in 0..s {
            let arg = 1.0 + (0..i).map(|j| self.a[i][j] * u[j]).sum::<Complex64>();
            let darg = (0..i).map(|j| self.a[i][j] * du[j]).sum::<Complex64>();
            (f[i], df[i]) = (z * arg, arg + z * darg);
            let coupling = (0..i).map(|j| self.c_mat[i][j] * u[j] + self.g(i, j) * f[j]).sum::<Complex64>();
            let dcoupling = (0..i).map(|j| self.c_mat[i][j] * du[j] + self.g(i, j) * df[j]).sum::<Complex64>();
            u[i] = (f[i] + coupling) / shift;
            // d/dz of (shift·u_i) = F_i' + coupling', and d(shift)/dz = −1.
            du[i] = (df[i] + dcoupling + u[i]) / shift;
        }
        let r = 1.0 + (0..s).map(|i| self.m[i] * u[i]).sum::<Complex64>();
        let dr = (0..s).map(|i| self.m[i] * du[i]).sum::<Complex64>();
        (r, dr)
    }
}

/// Lower-triangular `s×s` from its rows below the diagonal (row `i` has `i` entries).
fn lower(rows: &[&[f64]]) -> Vec<Vec<f64>> {
    let s = rows.len();
    rows.iter().map(|r| (0..s).map(|j| r.get(j).copied().unwrap_or(0.0)).collect()).collect()
}

/// RODAS4 (Hairer & Wanner II, VI.10; `rodas.f` of October 28, 1996, `ROCOE` with `METH = 1`):
/// order 4, embedded order 3, L-stable, stiffly accurate; stages 5 and 6 at `t + h` without
/// `∂f/∂t`, `y_{n+1}` the sixth stage's argument plus `u_6`, the error `u_6`.
#[allow(clippy::excessive_precision)] // the digits as rodas.f prints them
pub fn rodas4() -> Rosenbrock {
    let (a51, a52, a53, a54) = (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950);
    let a: [&[f64]; 6] = [
        &[],
        &[1.544000000000000],
        &[0.9466785280815826, 0.2557011698983284],
        &[3.314825187068521, 2.896124015972201, 0.9986419139977817],
        &[a51, a52, a53, a54],
        &[a51, a52, a53, a54, 1.0],
    ];
    let c: [&[f64]; 6] = [
        &[],
        &[-5.668800000000000],
        &[-2.430093356833875, -0.2063599157091915],
        &[-0.1073529058151375, -9.594562251023355, -20.47028614809616],
        &[7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160],
        &[8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054],
    ];
    Rosenbrock {
        name: "rodas4",
        gamma: 0.25,
        a: lower(&a),
        c_mat: lower(&c),
        g_mat: Vec::new(),
        c: vec![0.0, 0.386, 0.21, 0.63, 1.0, 1.0],
        d: vec![0.25, -0.1043, 0.1035, -0.03620000000000023, 0.0, 0.0],
        m: vec![a51, a52, a53, a54, 1.0, 1.0],
        e: vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        // rodas.f's continuous extension of order 3 (OrdinaryDiffEq.jl's Rodas4 h21…h35).
        dense: vec![
            vec![10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823, 1.025137723295662, 0.0],
            vec![-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386, -6.594389125716872, 0.0],
        ],
        order: 4,
        embedded_order: 3,
        stiffly_accurate: true,
        a_stable: true,
        l_stable: true,
        reference: "Hairer & Wanner II, VI.10 (RODAS, rodas.f 1996, METH = 1)",
    }
}

/// Rodas5P (Steinebach 2023, BIT 63:27; the coefficients of OrdinaryDiffEq.jl's `RODAS5PA`,
/// `RODAS5PC`, `RODAS5Pc`, `RODAS5Pd`): order 5, embedded order 4, L-stable, eight stages, the
/// last three at `t + h`; `y_{n+1}` the eighth stage's argument plus `u_8`, the error `u_8`.
pub fn rodas5p() -> Rosenbrock {
    let row6: [f64; 5] =
        [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256, 0.030198172008377946];
    let a: [&[f64]; 8] = [
        &[],
        &[3.0],
        &[2.849394379747939, 0.45842242204463923],
        &[-6.954028509809101, 2.489845061869568, -10.358996098473584],
        &[2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641],
        &row6,
        &[row6[0], row6[1], row6[2], row6[3], row6[4], 1.0],
        &[row6[0], row6[1], row6[2], row6[3], row6[4], 1.0, 1.0],
    ];
    let c: [&[f64]; 8] = [
        &[],
        &[-14.155112264123755],
        &[-17.97296035885952, -2.859693295451294],
        &[147.12150275711716, -1.41221402718213, 71.68940251302358],
        &[165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306],
        &[24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125, -0.6610691825249471],
        &[
            30.91273214028599,
            -3.1208243349937974,
            77.79954646070892,
            34.28646028294783,
            -19.097331116725623,
            -28.087943162872662,
        ],
        &[
            37.80277123390563,
            -3.2571969029072276,
            112.26918849496327,
            66.9347231244047,
            -40.06618937091002,
            -54.66780262877968,
            -9.48861652309627,
        ],
    ];
    Rosenbrock {
        name: "rodas5p",
        gamma: 0.21193756319429014,
        a: lower(&a),
        c_mat: lower(&c),
        g_mat: Vec::new(),
        c: vec![0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1.0, 1.0, 1.0],
        d: vec![
            0.21193756319429014,
            -0.42387512638858027,
            -0.3384627126235924,
            1.8046452872882734,
            2.325825639765069,
            0.0,
            0.0,
            0.0,
        ],
        m: vec![row6[0], row6[1], row6[2], row6[3], row6[4], 1.0, 1.0, 1.0],
        e: vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        // Steinebach's continuous extension of order 4 (OrdinaryDiffEq.jl's h21…h48).
        dense: vec![
            vec![
                25.948786856663858,
                -2.5579724845846235,
                10.433815404888879,
                -2.3679251022685204,
                0.524948541321073,
                1.1241088310450404,
                0.4272876194431874,
                -0.17202221070155493,
            ],
            vec![
                -9.91568850695171,
                -0.9689944594115154,
                3.0438037242978453,
                -24.495224566215796,
                20.176138334709044,
                15.98066361424651,
                -6.789040303419874,
                -6.710236069923372,
            ],
            vec![
                11.419903575922262,
                2.8879645146136994,
                72.92137995996029,
                80.12511834622643,
                -52.072871366152654,
                -59.78993625266729,
                -0.15582684282751913,
                4.883087185713722,
            ],
        ],
        order: 5,
        embedded_order: 4,
        stiffly_accurate: true,
        a_stable: true,
        l_stable: true,
        reference: "Steinebach 2023, BIT 63:27 (Rodas5P; OrdinaryDiffEq.jl's tableau)",
    }
}

/// Rosenbrock23 (Shampine & Reichelt 1997, MATLAB's `ode23s`; OrdinaryDiffEq.jl's
/// `Rosenbrock23`): order 2 with an error estimate of order 3, L-stable, `γ = d = 1/(2 + √2)`.
/// Its steps, with `W = I − hdJ`: `k₁ = W⁻¹(f₀ + hd f_t)`, `f₁ = f(t + h/2, y + hk₁/2)`,
/// `k₂ = W⁻¹(f₁ − k₁) + k₁`, `y_{n+1} = y + hk₂`, `f₂ = f(t + h, y_{n+1})`,
/// `k₃ = W⁻¹(f₂ − e₃₂(k₂ − f₁) − 2(k₁ − f₀) + hd f_t)`, error `h(k₁ − 2k₂ + k₃)/6`, `e₃₂ = 6 + √2`.
/// With `u_i` the solves of `(I/(hd) − J)u = …`, `k₁ = u₁/(hd)`, `k₂ = (u₁ + u₂)/(hd)`,
/// `k₃ = u₃/(hd)`, which gives the coefficients below; the error stage couples the evaluations
/// `f₀, f₁` (`G`). Its `f_t` term is `hd f_t` as in the paper and `ode23s` (OrdinaryDiffEq.jl
/// writes `h f_t` there, which leaves the estimate O(h²) for non-autonomous fields).
pub fn rosenbrock23() -> Rosenbrock {
    let d = 1.0 / (2.0 + 2f64.sqrt());
    let e32 = 6.0 + 2f64.sqrt();
    Rosenbrock {
        name: "rosenbrock23",
        gamma: d,
        a: lower(&[&[], &[0.5 / d], &[1.0 / d, 1.0 / d]]),
        c_mat: lower(&[&[], &[-1.0 / d], &[-(e32 + 2.0) / d, -e32 / d]]),
        g_mat: lower(&[&[], &[0.0], &[2.0, e32]]),
        c: vec![0.0, 0.5, 1.0],
        d: vec![d, 0.0, d],
        m: vec![1.0 / d, 1.0 / d, 0.0],
        e: vec![-1.0 / (6.0 * d), -2.0 / (6.0 * d), 1.0 / (6.0 * d)],
        // ode23s's interpolant `y + h(θ(1−θ)k₁ + θ(θ−2d)k₂)/(1−2d)` (Shampine & Reichelt 1997):
        // with `u₁ = hdk₁`, `u₂ = hd(k₂ − k₁)` it is the form above with `D₁ = −u₂/(d(1−2d))`.
        dense: vec![vec![0.0, -1.0 / (d * (1.0 - 2.0 * d)), 0.0]],
        order: 2,
        embedded_order: 3,
        stiffly_accurate: false,
        a_stable: true,
        l_stable: true,
        reference: "Shampine & Reichelt 1997, SIAM J. Sci. Comput. 18:1 (ode23s)",
    }
}
