"""Exact discrete solutions of fixed-step implicit Runge-Kutta solves, for
crates/solvers/tests/exact_discrete.rs: every stage system solved by full Newton in
60-digit arithmetic (mpmath) to 1e-55, and derivatives by central differences with
steps of 1e-30 (exact to far beyond f64). Not a test dependency: the test stores the
numbers this prints.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install mpmath
    /tmp/venv/bin/python scripts/exact_discrete.py

The mechanism is the one the mass-action property test found (issue 29): S2 -> S1
(1e10), -> S2 (1), S1 -> (7.38e9), S1 -> S0 (1), S0 + S1 -> (1.69e10), from
(0, 0.05, 0), ten steps to t = 1. Simplified Newton with the step's initial
Jacobian left S0(1) 4 % off here: the S1 transient changes S0's rate by 1e8.
"""
import mpmath as mp

mp.mp.dps = 60
K = [mp.mpf(1e10), mp.mpf(1), mp.mpf('7384592259.930007'), mp.mpf(1), mp.mpf('16870599806.95768')]
Y0 = [mp.mpf(0), mp.mpf('0.05'), mp.mpf(0)]
TABLEAUS = {
    'backward-euler': ([[mp.mpf(1)]], [mp.mpf(1)]),
    'radau3': ([[mp.mpf(5) / 12, -mp.mpf(1) / 12], [mp.mpf(3) / 4, mp.mpf(1) / 4]], [mp.mpf(3) / 4, mp.mpf(1) / 4]),
}


def rhs(k, y):
    s0, s1, s2 = y
    r = [k[0] * s2, k[1], k[2] * s1, k[3] * s1, k[4] * s0 * s1]
    return [r[3] - r[4], r[0] - r[2] - r[3] - r[4], -r[0] + r[1]]


def jacobian(k, y):
    s0, s1, _ = y
    return [[-k[4] * s1, k[3] - k[4] * s0, 0], [-k[4] * s1, -k[2] - k[3] - k[4] * s0, k[0]], [0, 0, -k[0]]]


def step(k, a, y, h):
    d, s = len(y), len(a)
    z = [list(y) for _ in range(s)]
    for _ in range(100):
        f = [rhs(k, zi) for zi in z]
        g = mp.matrix(d * s, 1)
        m = mp.matrix(d * s, d * s)
        for i in range(s):
            for c in range(d):
                g[i * d + c] = z[i][c] - y[c] - h * sum(a[i][j] * f[j][c] for j in range(s))
            for j in range(s):
                jac = jacobian(k, z[j])
                for r in range(d):
                    for c in range(d):
                        m[i * d + r, j * d + c] = (i == j and r == c) - h * a[i][j] * jac[r][c]
        dz = mp.lu_solve(m, -g)
        for i in range(s):
            for c in range(d):
                z[i][c] += dz[i * d + c]
        if mp.norm(dz) < mp.mpf(10) ** -55:
            return z[-1]  # both tableaus are stiffly accurate
    raise RuntimeError('Newton did not converge')


def solve(name, log_k_shift=None, y0=None, steps=10):
    a, _ = TABLEAUS[name]
    k = list(K)
    if log_k_shift:
        j, delta = log_k_shift
        k[j] = k[j] * mp.power(10, delta)
    y = list(y0 or Y0)
    for _ in range(steps):
        y = step(k, a, y, mp.mpf(1) / steps)
    return y


def main():
    delta = mp.mpf(10) ** -30
    for name in TABLEAUS:
        print(name, 'y(1) =', [mp.nstr(v, 17) for v in solve(name)])
        grads = []
        for i in range(3):
            up, down = list(Y0), list(Y0)
            up[i] += delta
            down[i] -= delta
            grads.append((solve(name, y0=up)[0] - solve(name, y0=down)[0]) / (2 * delta))
        for j in range(len(K)):
            grads.append((solve(name, (j, delta))[0] - solve(name, (j, -delta))[0]) / (2 * delta))
        print(name, 'd S0(1) / d (y0[0..3], log10 k[0..5]) =', [mp.nstr(v, 17) for v in grads])


if __name__ == '__main__':
    main()
