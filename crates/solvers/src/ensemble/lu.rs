//! LU factorization with partial pivoting of one small `d×d` matrix in a GPU thread's local
//! memory, real and complex (Golub & Van Loan, *Matrix Computations*, 4th ed., Alg. 3.4.1), the
//! same elimination order and pivot rule as the host's [`BatchLu`](crate::linalg::BatchLu): the
//! pivot is the largest `|re| + |im|` in the column, and a zero or non-finite pivot reports the
//! matrix singular.

use cubecl::prelude::*;

/// Factor the row-major `d×d` matrix `m` in place (unit lower `L` below the diagonal, `U` on and
/// above it) with row interchanges `piv`; false if it is singular to working precision.
#[cube]
pub fn factor<F: Float>(m: &mut Array<F>, piv: &mut Array<u32>, #[comptime] d: usize) -> bool {
    let mut ok = true;
    for k in 0..d {
        let mut p = k;
        let mut best = F::abs(m[k * d + k]);
        for i in k + 1..d {
            let v = F::abs(m[i * d + k]);
            if v > best {
                p = i;
                best = v;
            }
        }
        piv[k] = p as u32;
        if best <= F::new(0.0) || u32::cast_from(best.is_inf()) + u32::cast_from(best.is_nan()) > 0 {
            ok = false;
        }
        if ok {
            if p != k {
                for j in 0..d {
                    let x = m[k * d + j];
                    m[k * d + j] = m[p * d + j];
                    m[p * d + j] = x;
                }
            }
            let inv = F::new(1.0) / m[k * d + k];
            for i in k + 1..d {
                let l = m[i * d + k] * inv;
                m[i * d + k] = l;
                for j in k + 1..d {
                    let u = m[k * d + j];
                    m[i * d + j] -= l * u;
                }
            }
        }
    }
    ok
}

/// Solve `M x = r` in place with the factors of [`factor`] (`x` holds `r` on entry).
#[cube]
pub fn solve<F: Float>(m: &Array<F>, piv: &Array<u32>, x: &mut Array<F>, #[comptime] d: usize) {
    for k in 0..d {
        let p = piv[k] as usize;
        if p != k {
            let v = x[k];
            x[k] = x[p];
            x[p] = v;
        }
    }
    for i in 1..d {
        let mut acc = x[i];
        for j in 0..i {
            acc -= m[i * d + j] * x[j];
        }
        x[i] = acc;
    }
    for q in 0..d {
        let i = d - 1 - q;
        let mut acc = x[i];
        for j in i + 1..d {
            acc -= m[i * d + j] * x[j];
        }
        x[i] = acc / m[i * d + i];
    }
}

/// [`factor`] for a complex matrix held as real and imaginary parts.
#[cube]
pub fn factor_complex<F: Float>(
    re: &mut Array<F>,
    im: &mut Array<F>,
    piv: &mut Array<u32>,
    #[comptime] d: usize,
) -> bool {
    let mut ok = true;
    for k in 0..d {
        let mut p = k;
        let mut best = F::abs(re[k * d + k]) + F::abs(im[k * d + k]);
        for i in k + 1..d {
            let v = F::abs(re[i * d + k]) + F::abs(im[i * d + k]);
            if v > best {
                p = i;
                best = v;
            }
        }
        piv[k] = p as u32;
        if best <= F::new(0.0) || u32::cast_from(best.is_inf()) + u32::cast_from(best.is_nan()) > 0 {
            ok = false;
        }
        if ok {
            if p != k {
                for j in 0..d {
                    let (xr, xi) = (re[k * d + j], im[k * d + j]);
                    re[k * d + j] = re[p * d + j];
                    im[k * d + j] = im[p * d + j];
                    re[p * d + j] = xr;
                    im[p * d + j] = xi;
                }
            }
            // 1/(a + ib) = (a − ib)/(a² + b²).
            let (a, b) = (re[k * d + k], im[k * d + k]);
            let n = a * a + b * b;
            let (ir, ii) = (a / n, -b / n);
            for i in k + 1..d {
                let (xr, xi) = (re[i * d + k], im[i * d + k]);
                let lr = xr * ir - xi * ii;
                let li = xr * ii + xi * ir;
                re[i * d + k] = lr;
                im[i * d + k] = li;
                for j in k + 1..d {
                    let (ur, ui) = (re[k * d + j], im[k * d + j]);
                    re[i * d + j] -= lr * ur - li * ui;
                    im[i * d + j] -= lr * ui + li * ur;
                }
            }
        }
    }
    ok
}

/// [`solve`] for the complex factors of [`factor_complex`]; `xr + i·xi` holds `r` on entry.
#[cube]
pub fn solve_complex<F: Float>(
    re: &Array<F>,
    im: &Array<F>,
    piv: &Array<u32>,
    xr: &mut Array<F>,
    xi: &mut Array<F>,
    #[comptime] d: usize,
) {
    for k in 0..d {
        let p = piv[k] as usize;
        if p != k {
            let (a, b) = (xr[k], xi[k]);
            xr[k] = xr[p];
            xi[k] = xi[p];
            xr[p] = a;
            xi[p] = b;
        }
    }
    for i in 1..d {
        let (mut ar, mut ai) = (xr[i], xi[i]);
        for j in 0..i {
            let (lr, li) = (re[i * d + j], im[i * d + j]);
            ar -= lr * xr[j] - li * xi[j];
            ai -= lr * xi[j] + li * xr[j];
        }
        xr[i] = ar;
        xi[i] = ai;
    }
    for q in 0..d {
        let i = d - 1 - q;
        let (mut ar, mut ai) = (xr[i], xi[i]);
        for j in i + 1..d {
            let (ur, ui) = (re[i * d + j], im[i * d + j]);
            ar -= ur * xr[j] - ui * xi[j];
            ai -= ur * xi[j] + ui * xr[j];
        }
        let (a, b) = (re[i * d + i], im[i * d + i]);
        let n = a * a + b * b;
        xr[i] = (ar * a + ai * b) / n;
        xi[i] = (ai * a - ar * b) / n;
    }
}
