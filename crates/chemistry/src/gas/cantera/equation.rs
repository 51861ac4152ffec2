//! Reaction equations as Cantera writes them: `2 O + M <=> O2 + M`, `O + H (+M) <=> OH (+M)`,
//! `H + HO2 => O2 + H2`; species separated by ` + `, a coefficient as its own token before a
//! species, `<=>` or `=` for reversible and `=>` for irreversible reactions, `M` for a generic
//! third body and `(+M)` / `(+AR)` for the collider of a falloff reaction.

/// One side of an equation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Side {
    /// Species names and coefficients, merged (`H + H` is `2 H`), in order of appearance.
    pub species: Vec<(String, f64)>,
    /// The side has a `+ M` term.
    pub third_body: bool,
    /// The falloff collider of a `(+M)` or `(+X)` term: `M` or the species `X`.
    pub falloff: Option<String>,
}

/// A parsed equation.
#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    pub reactants: Side,
    pub products: Side,
    pub reversible: bool,
}

/// Parse `text`; the error says what is wrong with it.
pub fn parse(text: &str) -> Result<Equation, String> {
    let normalized = text.replace("(+ ", "(+");
    let tokens: Vec<&str> = normalized.split_whitespace().collect();
    let arrows: Vec<usize> =
        tokens.iter().enumerate().filter(|(_, t)| matches!(**t, "<=>" | "=" | "=>")).map(|(i, _)| i).collect();
    let &[at] = arrows.as_slice() else {
        return Err("needs one of '<=>', '=' or '=>' between reactants and products, separated by spaces".into());
    };
    let reversible = tokens[at] != "=>";
    let reactants = side(&tokens[..at]).map_err(|e| format!("reactants: {e}"))?;
    let products = side(&tokens[at + 1..]).map_err(|e| format!("products: {e}"))?;
    if reactants.third_body != products.third_body {
        return Err("'M' must appear on both sides".into());
    }
    if reactants.falloff != products.falloff {
        return Err("the falloff collider '(+…)' must be the same on both sides".into());
    }
    Ok(Equation { reactants, products, reversible })
}

fn side(tokens: &[&str]) -> Result<Side, String> {
    let mut out = Side::default();
    let mut expect_term = true;
    let mut coefficient: Option<f64> = None;
    for &tok in tokens {
        if let Some(collider) = tok.strip_prefix("(+").and_then(|t| t.strip_suffix(')')) {
            if collider.is_empty() || out.falloff.replace(collider.to_string()).is_some() {
                return Err(format!("bad falloff collider '{tok}'"));
            }
            continue;
        }
        if tok == "+" {
            if expect_term {
                return Err("'+' without a species before it".into());
            }
            expect_term = true;
            continue;
        }
        if !expect_term {
            return Err(format!("'{tok}' follows a species without '+'"));
        }
        if coefficient.is_none()
            && let Ok(c) = tok.parse::<f64>()
        {
            if !(c > 0.0 && c.is_finite()) {
                return Err(format!("coefficient '{tok}' must be positive"));
            }
            coefficient = Some(c);
            continue;
        }
        let c = coefficient.take().unwrap_or(1.0);
        if tok == "M" {
            if c != 1.0 || out.third_body {
                return Err("'M' appears once, without a coefficient".into());
            }
            out.third_body = true;
        } else if let Some(entry) = out.species.iter_mut().find(|(s, _)| s == tok) {
            entry.1 += c;
        } else {
            out.species.push((tok.to_string(), c));
        }
        expect_term = false;
    }
    if expect_term || coefficient.is_some() {
        return Err("ends without a species".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equations_of_every_kind_parse() {
        let e = parse("2 O + M <=> O2 + M").unwrap();
        assert_eq!(e.reactants.species, vec![("O".to_string(), 2.0)]);
        assert!(e.reactants.third_body && e.reversible);
        let e = parse("O + H (+M) <=> OH (+M)").unwrap();
        assert_eq!(e.products.falloff.as_deref(), Some("M"));
        let e = parse("H + O2 (+ AR) = HO2 (+AR)").unwrap();
        assert_eq!(e.reactants.falloff.as_deref(), Some("AR"));
        let e = parse("H + H + H2 => 2 H2").unwrap();
        assert!(!e.reversible);
        assert_eq!(e.reactants.species, vec![("H".to_string(), 2.0), ("H2".to_string(), 1.0)]);
    }

    #[test]
    fn malformed_equations_are_refused() {
        for bad in ["H + O2", "H + <=> O", "H O <=> HO", "2 <=> H", "H + M <=> H", "H (+M) <=> H", "-1 H <=> H"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
