//! SVG plots for people: the fit of a trained model (`fit.svg`), its loss curve and the per-mode gradient
//! views of `stiffnode inspect`. Logarithmic axes are drawn as log10 of the values on a linear
//! axis, labelled `1e<k>`.

/// Draw `$draw` (a block using the drawing area `$root`) into the SVG file `$path` and again into a
/// PNG beside it (same stem). Text is laid out with the DejaVu Sans font shipped in the binary,
/// so the PNG renders the same without system fonts.
macro_rules! svg_and_png {
    ($path:expr, $size:expr, |$root:ident| $draw:block) => {{
        let path: &std::path::Path = $path;
        // Text is measured with the shipped font for both backends.
        $crate::plots::register_font()?;
        {
            let $root = plotters::prelude::SVGBackend::new(path, $size).into_drawing_area();
            let run = || -> anyhow::Result<()> {
                $draw;
                $root.present()?;
                Ok(())
            };
            run()?;
        }
        {
            let png = path.with_extension("png");
            let $root = plotters::prelude::BitMapBackend::new(&png, $size).into_drawing_area();
            let run = || -> anyhow::Result<()> {
                $draw;
                $root.present()?;
                Ok(())
            };
            run()?;
        }
        anyhow::Ok(())
    }};
}

pub mod fit;
pub mod metrics;
pub mod modes;
pub mod parity;
pub mod temperature;

use plotters::prelude::*;

/// The font of the PNG copies (DejaVu Sans; its licence is beside it).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Make the shipped font plotters' "sans-serif" for bitmaps (once).
pub fn register_font() -> anyhow::Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    anyhow::ensure!(ok, "the shipped font (DejaVu Sans) could not be read");
    Ok(())
}

/// Width and height of one plot.
pub const SIZE: (u32, u32) = (900, 600);

/// Axis label of a log10-transformed axis.
pub fn decade_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("1e{}", v.round() as i64) } else { format!("{:.2e}", 10f64.powf(*v)) }
}

/// A log10 axis over `[lo, hi]` widened to whole decades, with the number of labels that puts
/// one on every decade (every second or fifth one on a long axis).
pub fn decades(lo: f64, hi: f64) -> (std::ops::Range<f64>, usize) {
    let (a, b) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
    let n = (b - a) as usize;
    let step = if n <= 12 {
        1
    } else if n <= 24 {
        2
    } else {
        5
    };
    (a..b, n / step + 1)
}

/// `[lo, hi]` padded by `pad` of its width (or ±1 when it is a point).
pub fn padded(lo: f64, hi: f64, pad: f64) -> std::ops::Range<f64> {
    if hi > lo { (lo - pad * (hi - lo))..(hi + pad * (hi - lo)) } else { (lo - 1.0)..(hi + 1.0) }
}

/// The range of the finite values of `v`.
pub fn extent(v: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    v.into_iter().filter(|x| x.is_finite()).fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((a, b)) => Some((a.min(x), b.max(x))),
    })
}

/// A distinct colour per series.
pub fn colour(i: usize) -> PaletteColor<Palette99> {
    Palette99::pick(i)
}
