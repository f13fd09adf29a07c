//! The register barcode of a bill: the GS1-128 symbol of its 44-digit payment code, as bars.
//! The sheet draws them in its PDF and the payment page as SVG, from the same modules.

/// Modules of quiet zone each side of the symbol.
pub const QUIET_MODULES: usize = 10;

/// The modules of the GS1-128 symbol: start C, FNC1, the 44 digits as 22 pairs, check, stop.
pub fn barcode_modules(digits: &str) -> Result<Vec<u8>, String> {
    let code = barcoders::sym::code128::Code128::new(format!("\u{0106}\u{0179}{digits}"))
        .map_err(|e| format!("barcode: {e:?}"))?;
    Ok(code.encode())
}

/// The symbol as an SVG element, one path of bars, quiet zones included: `height` modules
/// tall, scaled by the page (`width: 100%`). `label` is its accessible name.
pub fn barcode_svg(digits: &str, height: usize, label: &str) -> Result<String, String> {
    let modules = barcode_modules(digits)?;
    let width = modules.len() + 2 * QUIET_MODULES;
    let mut path = String::new();
    let mut x = 0;
    while x < modules.len() {
        if modules[x] == 1 {
            let start = x;
            while x < modules.len() && modules[x] == 1 {
                x += 1;
            }
            path.push_str(&format!(
                "M{} 0h{}v{height}h-{}z",
                start + QUIET_MODULES,
                x - start,
                x - start
            ));
        } else {
            x += 1;
        }
    }
    let label: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect();
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         preserveAspectRatio=\"none\" shape-rendering=\"crispEdges\" role=\"img\" \
         aria-label=\"{label}\"><rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_draws_every_bar_of_the_symbol() {
        let digits = "91912345000000000000049012345678940261210054321"[..44].to_string();
        let modules = barcode_modules(&digits).expect("modules");
        let svg = barcode_svg(&digits, 60, "code").expect("svg");
        // One subpath per run of dark modules, each as wide as its run.
        let mut runs = Vec::new();
        let mut n = 0;
        for m in modules.iter().chain([&0]) {
            if *m == 1 {
                n += 1;
            } else if n > 0 {
                runs.push(n);
                n = 0;
            }
        }
        // Each subpath: `M<x> 0h<w>v60h-<w>z`, a bar at module x (quiet zone included).
        let mut drawn = Vec::new();
        let mut dark = vec![0u8; modules.len() + 2 * QUIET_MODULES];
        let d = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default();
        for sub in d.split('M').skip(1) {
            let (x, rest) = sub.split_once(" 0h").expect("starts at the top");
            let (w, rest) = rest.split_once("v60h-").expect("as tall as asked");
            assert_eq!(rest, format!("{w}z"));
            let (x, w): (usize, usize) = (x.parse().expect("x"), w.parse().expect("w"));
            dark[x..x + w].iter_mut().for_each(|m| *m = 1);
            drawn.push(w);
        }
        assert_eq!(drawn, runs);
        assert_eq!(
            &dark[QUIET_MODULES..QUIET_MODULES + modules.len()],
            &modules[..]
        );
        assert!(dark[..QUIET_MODULES].iter().all(|m| *m == 0));
        assert!(svg.contains(&format!("viewBox=\"0 0 {} 60\"", modules.len() + 20)));
    }
}
