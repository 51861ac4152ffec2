"""Exact discrete radau5 solution of a random mass-action mechanism (the property test's case
that simplified Newton could not solve once S8 started above 0: the fixed-step driver then
split the frozen grid's first step, another discrete map), for
crates/solvers/tests/exact_discrete.rs. Stage systems by full Newton in 40-digit arithmetic.

    /tmp/venv/bin/python scripts/exact_discrete_radau5.py
"""
import mpmath as mp

CASE = {
    "initial": [0.06067651427818284, 0.0, 0.0, 0.6886494168686085, 0.0, 0.2536162050521173,
                0.24963443989599945, 0.0, 1e-3, 0.19009428922825422, 0.565177240191644],
    "reactions": [
        {"reactants": [[8, 1]], "products": [[1, 1]], "rate": "18665608192.95642"},
        {"reactants": [[0, 1], [1, 1]], "products": [[3, 1]], "rate": "283775815.1124429"},
        {"reactants": [[7, 1], [8, 1]], "products": [[1, 1], [8, 1]], "rate": "236837124.67168218"},
        {"reactants": [], "products": [[6, 1]], "rate": "1.0"},
        {"reactants": [], "products": [], "rate": "1.0"},
        {"reactants": [[7, 1]], "products": [[4, 1]], "rate": "1194721.6934089346"},
        {"reactants": [[0, 1]], "products": [], "rate": "29651786546.393227"},
    ],
    "substeps": 30,
}
mp.mp.dps = 40
spec = CASE
d = len(spec['initial'])
R = [(r['reactants'], r['products'], mp.mpf(r['rate'])) for r in spec['reactions']]
s6 = mp.sqrt(6)
A = [[(88-7*s6)/360, (296-169*s6)/1800, (-2+3*s6)/225],
     [(296+169*s6)/1800, (88+7*s6)/360, (-2-3*s6)/225],
     [(16-s6)/36, (16+s6)/36, mp.mpf(1)/9]]
def rates(y):
    out=[]
    for re,pr,k in R:
        v=k
        for (i,o) in re: v*= y[i]**int(o)
        out.append(v)
    return out
def f(y):
    q=rates(y); dy=[mp.mpf(0)]*d
    for (re,pr,k),qq in zip(R,q):
        for (i,o) in re: dy[i]-=o*qq
        for (i,o) in pr: dy[i]+=o*qq
    return dy
def jac(y):
    J=[[mp.mpf(0)]*d for _ in range(d)]
    for re,pr,k in R:
        for (m,om) in re:
            # d rate / d y_m
            v=k*om*y[m]**(int(om)-1)
            for (i,o) in re:
                if i!=m: v*=y[i]**int(o)
            for (i,o) in re: J[i][m]-=o*v
            for (i,o) in pr: J[i][m]+=o*v
    return J
def step(y,h):
    s=3; Z=[list(y) for _ in range(s)]
    for it in range(60):
        F=[f(z) for z in Z]; Js=[jac(z) for z in Z]
        G=mp.matrix(d*s,1); M=mp.matrix(d*s,d*s)
        for i in range(s):
            for c in range(d):
                G[i*d+c]=Z[i][c]-y[c]-h*sum(A[i][j]*F[j][c] for j in range(s))
            for j in range(s):
                for r in range(d):
                    for c in range(d):
                        M[i*d+r,j*d+c]=(1 if (i==j and r==c) else 0)-h*A[i][j]*Js[j][r][c]
        dz=mp.lu_solve(M,-G)
        for i in range(s):
            for c in range(d): Z[i][c]+=dz[i*d+c]
        if mp.norm(dz) < mp.mpf(10)**-35: return Z[-1]
    raise RuntimeError('no conv')
def solve(y0,n):
    y=[mp.mpf(v) for v in y0]; h=mp.mpf(1)/n
    for _ in range(n): y=step(y,h)
    return y


if __name__ == '__main__':
    print('y(1) =', [mp.nstr(v, 17) for v in solve(CASE['initial'], CASE['substeps'])])
