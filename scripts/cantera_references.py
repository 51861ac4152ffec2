#!/usr/bin/env python3
"""Generate the Cantera reference numbers used by the stiffnode Rust tests.

Produces, in crates/chemistry/tests/data/cantera/:

  rates.json     Rate constants (forward, reverse, equilibrium), third-body
                 concentrations, rates of progress and net production rates for
                 crates/chemistry/tests/data/cantera/rates-test.yaml and
                 datasets/mechanisms/h2o2.yaml, at T in {300, 800, 1000, 1500, 2500} K
                 and P in {0.1, 1, 10, 100} atm for one fixed composition.
  thermo.json    cp, h, s (at the 1 atm reference pressure) and g0 = h - T s of every
                 species of h2o2.yaml at T in {300, 500, 1000, 1500, 3000, 3500} K,
                 molecular weights, Cantera's gas constant.
  ignition.json  H2/air ignition with h2o2.yaml: constant-pressure adiabatic
                 (IdealGasConstPressureReactor) cases and one constant-volume adiabatic
                 case (IdealGasReactor): ignition delay (time of max dT/dt, refined),
                 time of T0 + 400 K, states at multiples of the delay and at t_end,
                 and the HP (resp. UV) equilibrium state.

All values are in Cantera's SI units (K, Pa, m, kmol, kg, s, J). Floats are written
with Python's repr (shortest round-trip form of the double).

Written for and run with cantera 3.2.0 (PyPI wheel) on Python 3.11:

    python3 -m venv /tmp/ctenv && /tmp/ctenv/bin/pip install cantera==3.2.0
    /tmp/ctenv/bin/python scripts/cantera_references.py

Python/Cantera is not a test dependency; this script only regenerates the JSON. The
output is deterministic (no dates, fixed iteration order); it takes a few seconds.
"""

import json
import math
import os
import sys

import cantera as ct
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "solvers", "tests", "data", "cantera")
H2O2 = os.path.join("datasets", "mechanisms", "h2o2.yaml")
RATES_TEST = os.path.join("crates", "solvers", "tests", "data", "cantera", "rates-test.yaml")
COMMAND = "/tmp/ctenv/bin/python scripts/cantera_references.py"

# Explicit (not dependent on the library default, which changes after 3.2).
ct.use_legacy_rate_constants(False)


def source(mechanisms):
    return {
        "generator": "scripts/cantera_references.py",
        "command": COMMAND,
        "cantera_version": ct.__version__,
        "mechanisms": mechanisms,
    }


def fl(x):
    """Python float, or None for NaN (strict JSON has no NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


def vec(a):
    return [fl(x) for x in a]


def by_species(gas, a):
    return {name: fl(x) for name, x in zip(gas.species_names, a)}


def write(name, data):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, allow_nan=False)
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


def load(rel):
    return ct.Solution(os.path.join(ROOT, rel))


# ---------------------------------------------------------------------------
# rates.json
# ---------------------------------------------------------------------------

RATE_T = [300.0, 800.0, 1000.0, 1500.0, 2500.0]
RATE_P_ATM = [0.1, 1.0, 10.0, 100.0]
RATE_X = {
    "H2": 0.2, "O2": 0.1, "H": 0.01, "O": 0.01, "OH": 0.02, "HO2": 0.001,
    "H2O": 0.1, "H2O2": 0.001, "AR": 0.3,
}
RATE_X["N2"] = 1.0 - sum(RATE_X.values())  # 0.258

THIRD_BODY_NOTE = (
    "Cantera 3.x (default, use_legacy_rate_constants(False)): for reaction_type "
    "'three-body-Arrhenius' forward_rate_constants and reverse_rate_constants EXCLUDE the "
    "third-body concentration; the rate of progress is kf*[M]*prod(C_reactants^nu) - "
    "kr*[M]*prod(C_products^nu) with [M] = third_body_concentrations[i] = "
    "sum_k eff_k*C_k (eff_k = listed efficiency, else default-efficiency). "
    "reactants/products here exclude M. Reactions written with the same species on both "
    "sides and three reactants (e.g. 'H + O2 + N2 <=> HO2 + N2', h2o2.yaml R7-R10, R13, "
    "R14, rates-test R4) are auto-converted to three-body reactions with that single "
    "collider (efficiency 1, default-efficiency 0), so their kf EXCLUDES [N2] and their "
    "reactants are {H:1, O2:1}; with 'type: elementary' (rates-test R14) they stay "
    "elementary, kf includes nothing extra and AR counts as a reactant and product. "
    "The forward_rate_constants_with_third_body arrays multiply kf, kr by [M] for "
    "three-body reactions (== Cantera's legacy convention, verified against "
    "use_legacy_rate_constants(True)); for all other reactions they equal kf, kr. "
    "Falloff reactions ('falloff-Lindemann', 'falloff-Troe'): kf = k_inf*Pr/(1+Pr)*F with "
    "Pr = k0*[M]/k_inf, [M] = third_body_concentrations[i] (efficiency-weighted); kf "
    "already includes the [M] dependence and the rate of progress is kf*prod(C^nu) "
    "(no extra [M] factor). third_body_concentrations is null for reactions without a "
    "third body. pressure-dependent-Arrhenius (PLOG): log-linear interpolation of k in "
    "ln(P) between the tabulated pressures, clamped to the end values outside the table; "
    "entries at the same pressure are summed before interpolating. "
    "equilibrium_constants are Kc in concentration units (kmol/m^3)^(sum nu_products - "
    "sum nu_reactants), computed from the standard-state Gibbs energies at P0 = 1 atm; "
    "for irreversible reactions Kc is still reported but reverse_rate_constants is 0."
)


def rate_case(gas, T, P):
    gas.TPX = T, P, RATE_X
    kf = gas.forward_rate_constants
    kr = gas.reverse_rate_constants
    m = gas.third_body_concentrations
    three_body = np.array([r.reaction_type.startswith("three-body") for r in gas.reactions()])
    kf_m = np.where(three_body, kf * np.nan_to_num(m), kf)
    kr_m = np.where(three_body, kr * np.nan_to_num(m), kr)
    # consistency with Cantera's legacy convention
    ct.use_legacy_rate_constants(True)
    gas.TPX = T, P, RATE_X
    assert np.allclose(gas.forward_rate_constants, kf_m, rtol=1e-14, atol=0)
    assert np.allclose(gas.reverse_rate_constants, kr_m, rtol=1e-14, atol=0)
    ct.use_legacy_rate_constants(False)
    gas.TPX = T, P, RATE_X
    return {
        "T": fl(T),
        "P": fl(P),
        "P_atm": fl(P / ct.one_atm),
        "density_kg_m3": fl(gas.density),
        "mean_molecular_weight": fl(gas.mean_molecular_weight),
        "concentrations": vec(gas.concentrations),
        "forward_rate_constants": vec(kf),
        "reverse_rate_constants": vec(kr),
        "equilibrium_constants": vec(gas.equilibrium_constants),
        "third_body_concentrations": vec(m),
        "forward_rate_constants_with_third_body": vec(kf_m),
        "reverse_rate_constants_with_third_body": vec(kr_m),
        "forward_rates_of_progress": vec(gas.forward_rates_of_progress),
        "reverse_rates_of_progress": vec(gas.reverse_rates_of_progress),
        "net_rates_of_progress": vec(gas.net_rates_of_progress),
        "net_production_rates": vec(gas.net_production_rates),
    }


def reaction_info(r):
    tb = getattr(r, "third_body", None)
    info = {
        "equation": r.equation,
        "reaction_type": r.reaction_type,
        "reversible": r.reversible,
        "duplicate": r.duplicate,
        "reactants": {k: fl(v) for k, v in sorted(r.reactants.items())},
        "products": {k: fl(v) for k, v in sorted(r.products.items())},
    }
    if tb is not None:
        info["third_body"] = {
            "name": tb.name,
            "efficiencies": {k: fl(v) for k, v in sorted(tb.efficiencies.items())},
            "default_efficiency": fl(tb.default_efficiency),
        }
    return info


def rates_json():
    mechs = {}
    for key, rel in [("rates-test", RATES_TEST), ("h2o2", H2O2)]:
        gas = load(rel)
        cases = [rate_case(gas, T, p * ct.one_atm) for T in RATE_T for p in RATE_P_ATM]
        mechs[key] = {
            "file": rel.replace(os.sep, "/"),
            "phase": gas.name,
            "species": gas.species_names,
            "reactions": [reaction_info(r) for r in gas.reactions()],
            "cases": cases,
        }
    return {
        "source": source([RATES_TEST.replace(os.sep, "/"), H2O2.replace(os.sep, "/")]),
        "units": {
            "T": "K", "P": "Pa", "concentrations": "kmol/m^3",
            "rate_constants": "(m^3/kmol)^(order-1)/s, order = sum of reactant "
                              "stoichiometric coefficients (M not counted for three-body "
                              "reactions in the default convention)",
            "equilibrium_constants": "(kmol/m^3)^(delta nu)",
            "rates_of_progress": "kmol/m^3/s",
            "net_production_rates": "kmol/m^3/s",
        },
        "third_body_note": THIRD_BODY_NOTE,
        "mole_fractions": RATE_X,
        "temperatures": RATE_T,
        "pressures_atm": RATE_P_ATM,
        "one_atm_Pa": ct.one_atm,
        "gas_constant": ct.gas_constant,
        "case_order": "T outer loop, P inner loop (cases[i*4 + j] = T[i], P[j]); per-reaction "
                      "and per-species arrays follow the 'reactions' / 'species' order",
        "mechanisms": mechs,
    }


# ---------------------------------------------------------------------------
# thermo.json
# ---------------------------------------------------------------------------

THERMO_T = [300.0, 500.0, 1000.0, 1500.0, 3000.0, 3500.0]


def thermo_json():
    gas = load(H2O2)
    species = {}
    for sp in gas.species():
        th = sp.thermo
        pts = []
        for T in THERMO_T:
            cp, h, s = th.cp(T), th.h(T), th.s(T)
            pts.append({"T": T, "cp": fl(cp), "h": fl(h), "s": fl(s), "g0": fl(h - T * s)})
        species[sp.name] = {
            "molecular_weight": fl(gas.molecular_weights[gas.species_index(sp.name)]),
            "T_ranges": vec(sp.input_data["thermo"]["temperature-ranges"]),
            "values": pts,
        }
    # Cantera uses the low-T polynomial at T == T_mid exactly; record both sides at 1000 K.
    mid = {}
    for sp in gas.species():
        lo, hi = (np.array(c) for c in sp.input_data["thermo"]["data"])
        T = 1000.0
        cp_lo = ct.gas_constant * sum(lo[i] * T ** i for i in range(5))
        cp_hi = ct.gas_constant * sum(hi[i] * T ** i for i in range(5))
        mid[sp.name] = {"cp_low_poly": fl(cp_lo), "cp_high_poly": fl(cp_hi),
                        "cantera_cp": fl(sp.thermo.cp(T))}
    return {
        "source": source([H2O2.replace(os.sep, "/")]),
        "units": {"T": "K", "cp": "J/kmol/K", "h": "J/kmol", "s": "J/kmol/K",
                  "g0": "J/kmol", "molecular_weight": "kg/kmol"},
        "gas_constant": ct.gas_constant,
        "reference_pressure_Pa": fl(gas.reference_pressure),
        "note": "NASA-7 standard-state values at the reference pressure (1 atm); g0 = h - T*s. "
                "At T == T_mid (1000 K) Cantera evaluates the low-temperature polynomial "
                "(see 'T_mid_check').",
        "temperatures": THERMO_T,
        "species_order": gas.species_names,
        "species": species,
        "T_mid_check": mid,
    }


# ---------------------------------------------------------------------------
# ignition.json
# ---------------------------------------------------------------------------

RTOL, ATOL = 1e-12, 1e-20
FUEL, OXIDIZER = "H2:1", "O2:1, N2:3.76"
TRAJ_FACTORS = [0.5, 0.9, 1.0, 1.1, 2.0]
N_DENSE = 401

# (name, reactor, T0 [K], phi, P0 [atm], t_end [s])
IGNITION_CASES = [
    ("cp_T1000_phi1.0_P1", "IdealGasConstPressureReactor", 1000.0, 1.0, 1.0, 0.01),
    ("cp_T950_phi0.5_P10", "IdealGasConstPressureReactor", 950.0, 0.5, 10.0, 0.5),
    ("cp_T1100_phi2.0_P5", "IdealGasConstPressureReactor", 1100.0, 2.0, 5.0, 0.01),
    ("cp_T1200_phi1.0_P10", "IdealGasConstPressureReactor", 1200.0, 1.0, 10.0, 0.01),
    ("cp_T1200_phi0.5_P1", "IdealGasConstPressureReactor", 1200.0, 0.5, 1.0, 0.01),
    ("cv_T1000_phi1.0_P1", "IdealGasReactor", 1000.0, 1.0, 1.0, 0.01),
]


def initial_gas(T0, phi, p_atm):
    gas = load(H2O2)
    gas.TP = T0, p_atm * ct.one_atm
    gas.set_equivalence_ratio(phi, FUEL, OXIDIZER)
    return gas


class Run:
    """A fresh reactor network from the initial state."""

    def __init__(self, kind, T0, phi, p_atm, rtol, atol):
        self.kind = kind
        self.gas = initial_gas(T0, phi, p_atm)
        cls = getattr(ct, kind)
        self.r = cls(self.gas, clone=False)
        self.net = ct.ReactorNet([self.r])
        self.net.rtol, self.net.atol = rtol, atol
        self.net.max_steps = 10 ** 6

    def dTdt(self):
        g = self.gas
        w = g.net_production_rates
        if self.kind == "IdealGasConstPressureReactor":
            return -np.dot(g.partial_molar_enthalpies, w) / (g.density * g.cp_mass)
        return -np.dot(g.partial_molar_int_energies, w) / (g.density * g.cv_mass)

    def state(self):
        g = self.gas
        return {"t": fl(self.net.time), "T": fl(g.T), "P": fl(g.P),
                "density": fl(g.density), "dTdt": fl(self.dTdt()),
                "Y": by_species(g, g.Y)}


def steps(kind, T0, phi, p_atm, t_end, rtol, atol):
    run = Run(kind, T0, phi, p_atm, rtol, atol)
    ts, Ts, ds = [0.0], [run.gas.T], [run.dTdt()]
    while run.net.time < t_end:
        run.net.step()
        ts.append(run.net.time)
        Ts.append(run.gas.T)
        ds.append(run.dTdt())
    return np.array(ts), np.array(Ts), np.array(ds)


def dense(kind, T0, phi, p_atm, rtol, atol, ta, tb, n):
    run = Run(kind, T0, phi, p_atm, rtol, atol)
    grid = np.linspace(ta, tb, n)
    Ts, ds = [], []
    for t in grid:
        run.net.advance(t)
        Ts.append(run.gas.T)
        ds.append(run.dTdt())
    return grid, np.array(Ts), np.array(ds)


def peak(kind, T0, phi, p_atm, t_end, rtol, atol, n=N_DENSE, half=4):
    """Time of max dT/dt: step-wise max, dense re-integration over +-2 steps around it,
    then the vertex of a least-squares quadratic through 2*half+1 dense points."""
    ts, Ts, ds = steps(kind, T0, phi, p_atm, t_end, rtol, atol)
    i = int(np.argmax(ds))
    ta, tb = ts[max(i - 2, 0)], ts[min(i + 2, len(ts) - 1)]
    grid, _, dd = dense(kind, T0, phi, p_atm, rtol, atol, ta, tb, n)
    j = int(np.argmax(dd))
    assert half <= j < n - half, "peak at the edge of the dense window"
    sl = slice(j - half, j + half + 1)
    x = (grid[sl] - grid[j]) / (grid[1] - grid[0])
    c2, c1, _ = np.polyfit(x, dd[sl], 2)
    tau = grid[j] - c1 / (2 * c2) * (grid[1] - grid[0])
    return tau, ts, Ts


def crossing(kind, T0, phi, p_atm, ts, Ts, target, rtol, atol):
    """Time where T first reaches target: dense re-integration over the step interval,
    then linear interpolation between dense points."""
    k = int(np.argmax(Ts >= target))
    grid, TT, _ = dense(kind, T0, phi, p_atm, rtol, atol, ts[k - 1], ts[k], N_DENSE)
    m = int(np.argmax(TT >= target))
    return grid[m - 1] + (target - TT[m - 1]) * (grid[m] - grid[m - 1]) / (TT[m] - TT[m - 1])


def ignition_case(name, kind, T0, phi, p_atm, t_end):
    tau, ts, Ts = peak(kind, T0, phi, p_atm, t_end, RTOL, ATOL)
    # uncertainty: looser tolerances and other refinement parameters
    alts = [
        peak(kind, T0, phi, p_atm, t_end, 1e-10, 1e-18)[0],
        peak(kind, T0, phi, p_atm, t_end, 1e-11, 1e-19)[0],
        peak(kind, T0, phi, p_atm, t_end, RTOL, ATOL, n=201, half=3)[0],
        peak(kind, T0, phi, p_atm, t_end, RTOL, ATOL, n=801, half=6)[0],
    ]
    unc = max(abs(a - tau) for a in alts) / tau
    t400 = crossing(kind, T0, phi, p_atm, ts, Ts, T0 + 400.0, RTOL, ATOL)
    t400_alt = crossing(kind, T0, phi, p_atm, *steps(kind, T0, phi, p_atm, t_end, 1e-10,
                                                     1e-18)[:2], T0 + 400.0, 1e-10, 1e-18)
    unc400 = abs(t400_alt - t400) / t400

    run = Run(kind, T0, phi, p_atm, RTOL, ATOL)
    g = run.gas
    init = {"T": fl(g.T), "P": fl(g.P), "density": fl(g.density),
            "X": by_species(g, g.X), "Y": by_species(g, g.Y)}
    times = sorted([f * tau for f in TRAJ_FACTORS] + [t_end])
    traj = []
    for t in times:
        run.net.advance(t)
        s = run.state()
        s["t_over_tau"] = fl(t / tau)
        traj.append(s)
    final = traj[-1]

    eq = initial_gas(T0, phi, p_atm)
    mode = "HP" if kind == "IdealGasConstPressureReactor" else "UV"
    eq.equilibrate(mode)
    equil = {"mode": mode, "T": fl(eq.T), "P": fl(eq.P), "density": fl(eq.density),
             "X": by_species(eq, eq.X), "Y": by_species(eq, eq.Y)}
    print(f"{name}: tau = {tau!r} s (rel. unc. {unc:.1e}), t(T0+400K) = {t400!r} s, "
          f"T(t_end) = {final['T']:.3f} K, T_eq = {eq.T:.3f} K")
    return {
        "name": name,
        "reactor": kind,
        "T0": T0,
        "P0": fl(p_atm * ct.one_atm),
        "P0_atm": p_atm,
        "equivalence_ratio": phi,
        "fuel": FUEL,
        "oxidizer": OXIDIZER,
        "initial": init,
        "ignition_delay": fl(tau),
        "ignition_delay_rel_uncertainty": fl(unc),
        "t_T0_plus_400K": fl(t400),
        "t_T0_plus_400K_rel_uncertainty": fl(unc400),
        "t_end": t_end,
        "n_steps_to_t_end": len(ts) - 1,
        "trajectory": traj,
        "final": final,
        "equilibrium": equil,
    }


def ignition_json():
    cases = [ignition_case(*c) for c in IGNITION_CASES]
    return {
        "source": source([H2O2.replace(os.sep, "/")]),
        "units": {"t": "s", "T": "K", "P": "Pa", "density": "kg/m^3", "dTdt": "K/s"},
        "settings": {
            "rtol": RTOL, "atol": ATOL,
            "mixture": "H2/air, air = O2:1, N2:3.76 by moles; "
                       "gas.set_equivalence_ratio(phi, 'H2:1', 'O2:1, N2:3.76')",
            "reactors": "IdealGasConstPressureReactor (adiabatic, constant P) and "
                        "IdealGasReactor (adiabatic, rigid: constant V and mass); energy on",
        },
        "method": (
            "ignition_delay = time of maximum dT/dt, with dT/dt evaluated exactly from the "
            "state: -sum_k h_k wdot_k/(rho cp) (const P) or -sum_k u_k wdot_k/(rho cv) "
            "(const V). The max over the CVODES internal steps (rtol 1e-12, atol 1e-20) is "
            f"refined by re-integrating to {N_DENSE} evenly spaced times (ReactorNet.advance) "
            "spanning +-2 steps around it and taking the vertex of a least-squares quadratic "
            "through the 9 dense points nearest the discrete max. "
            "ignition_delay_rel_uncertainty = max relative change when using rtol/atol "
            "1e-10/1e-18 or 1e-11/1e-19, or 201/801 dense points with 7/13-point fits. "
            "t_T0_plus_400K = first time T reaches T0 + 400 K (dense re-integration over the "
            "bracketing step, linear interpolation); its uncertainty is the change with "
            "rtol/atol 1e-10/1e-18. trajectory = states at t_over_tau * ignition_delay and "
            "at t_end (the last entry, also in 'final'), from one integration. dTdt is "
            "given so the sensitivity T(t) to a shift in time can be judged (at t = tau, "
            "dT/dt is at its maximum). 'equilibrium' = gas.equilibrate('HP') of the initial "
            "mixture for const-P cases, 'UV' for the const-V case."
        ),
        "cases": cases,
    }


def main():
    if ct.__version__ != "3.2.0":
        print(f"warning: written for cantera 3.2.0, running {ct.__version__}", file=sys.stderr)
    write("rates.json", rates_json())
    write("thermo.json", thermo_json())
    write("ignition.json", ignition_json())


if __name__ == "__main__":
    main()
