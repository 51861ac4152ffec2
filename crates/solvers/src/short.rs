//! Elementwise loops over the short arrays of a step. A one-trajectory solve of a small system
//! works on arrays of a handful of values, where a loop of unknown length costs more in vector
//! set-up and remainder handling than in arithmetic; for the short lengths these helpers make
//! the length (up to 12) a compile-time constant, so that the loop unrolls into straight code.
//! Other lengths take the plain loop. The arithmetic is the same either way.

/// `f(out_i, a_i)` for every `i < out.len()` (`a` may be longer).
#[inline(always)]
pub(crate) fn zip_with(out: &mut [f64], a: &[f64], f: impl Fn(&mut f64, f64)) {
    #[inline(always)]
    fn sized<const N: usize>(out: &mut [f64], a: &[f64], f: impl Fn(&mut f64, f64)) {
        let (out, a) = (&mut out[..N], &a[..N]);
        for i in 0..N {
            f(&mut out[i], a[i]);
        }
    }
    match out.len() {
        1 => sized::<1>(out, a, &f),
        2 => sized::<2>(out, a, &f),
        3 => sized::<3>(out, a, &f),
        4 => sized::<4>(out, a, &f),
        5 => sized::<5>(out, a, &f),
        6 => sized::<6>(out, a, &f),
        7 => sized::<7>(out, a, &f),
        8 => sized::<8>(out, a, &f),
        9 => sized::<9>(out, a, &f),
        12 => sized::<12>(out, a, &f),
        _ => out.iter_mut().zip(a).for_each(|(o, &a)| f(o, a)),
    }
}

/// `f(out_i, a_i, b_i)` for every `i < out.len()` (`a`, `b` may be longer).
#[inline(always)]
pub(crate) fn zip2_with(out: &mut [f64], a: &[f64], b: &[f64], f: impl Fn(&mut f64, f64, f64)) {
    #[inline(always)]
    fn sized<const N: usize>(out: &mut [f64], a: &[f64], b: &[f64], f: impl Fn(&mut f64, f64, f64)) {
        let (out, a, b) = (&mut out[..N], &a[..N], &b[..N]);
        for i in 0..N {
            f(&mut out[i], a[i], b[i]);
        }
    }
    match out.len() {
        1 => sized::<1>(out, a, b, &f),
        2 => sized::<2>(out, a, b, &f),
        3 => sized::<3>(out, a, b, &f),
        4 => sized::<4>(out, a, b, &f),
        5 => sized::<5>(out, a, b, &f),
        6 => sized::<6>(out, a, b, &f),
        7 => sized::<7>(out, a, b, &f),
        8 => sized::<8>(out, a, b, &f),
        9 => sized::<9>(out, a, b, &f),
        12 => sized::<12>(out, a, b, &f),
        _ => out.iter_mut().zip(a).zip(b).for_each(|((o, &a), &b)| f(o, a, b)),
    }
}

/// `f(i)` for every `i < n`.
#[inline(always)]
pub(crate) fn each(n: usize, mut f: impl FnMut(usize)) {
    #[inline(always)]
    fn sized<const N: usize>(f: &mut impl FnMut(usize)) {
        for i in 0..N {
            f(i);
        }
    }
    match n {
        1 => sized::<1>(&mut f),
        2 => sized::<2>(&mut f),
        3 => sized::<3>(&mut f),
        4 => sized::<4>(&mut f),
        5 => sized::<5>(&mut f),
        6 => sized::<6>(&mut f),
        7 => sized::<7>(&mut f),
        8 => sized::<8>(&mut f),
        9 => sized::<9>(&mut f),
        12 => sized::<12>(&mut f),
        _ => (0..n).for_each(f),
    }
}

/// `x_i = v` for every `i`.
#[inline(always)]
pub(crate) fn fill(x: &mut [f64], v: f64) {
    each(x.len(), |i| x[i] = v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_matches_the_plain_loop() {
        for n in 0..=24 {
            let a: Vec<f64> = (0..n + 2).map(|i| 1.5 * i as f64 - 3.0).collect();
            let b: Vec<f64> = (0..n + 1).map(|i| 0.25 * i as f64 + 1.0).collect();
            let (mut x, mut y) = (vec![2.0; n], vec![-1.0; n]);
            zip_with(&mut x, &a, |o, a| *o += 3.0 * a);
            zip2_with(&mut y, &a, &b, |o, a, b| *o = a - 0.5 * b);
            let mut seen = vec![0; n];
            each(n, |i| seen[i] += 1);
            assert!(seen.iter().all(|&k| k == 1), "each, n = {n}: {seen:?}");
            let mut z = vec![1.0; n];
            fill(&mut z, 7.0);
            assert!(z.iter().all(|&v| v == 7.0), "fill, n = {n}");
            for i in 0..n {
                assert_eq!(x[i], 2.0 + 3.0 * a[i], "zip_with, n = {n}, i = {i}");
                assert_eq!(y[i], a[i] - 0.5 * b[i], "zip2_with, n = {n}, i = {i}");
            }
        }
    }
}
