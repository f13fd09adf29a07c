//! Barcodes as bars: the register barcode of a bill (the GS1-128 symbol of its 44-digit
//! payment code), which the sheet draws in its PDF and the payment page as SVG from the same
//! modules; and a number's EAN-13 symbol, as the cards carry it.

/// Modules of quiet zone each side of a symbol (GS1-128 needs 10, EAN-13 11 on its left).
pub const QUIET_MODULES: usize = 11;

/// The modules of the GS1-128 symbol: start C, FNC1, the 44 digits as 22 pairs, check, stop.
pub fn barcode_modules(digits: &str) -> Result<Vec<u8>, String> {
    let code = barcoders::sym::code128::Code128::new(format!("\u{0106}\u{0179}{digits}"))
        .map_err(|e| format!("barcode: {e:?}"))?;
    Ok(code.encode())
}

/// The EAN-13 symbol of a 13-digit number (its last digit is the GS1 check digit).
pub fn ean13_modules(number: &str) -> Result<Vec<u8>, String> {
    let code = barcoders::sym::ean13::EAN13::new(number).map_err(|e| format!("barcode: {e:?}"))?;
    Ok(code.encode())
}

/// The GS1-128 symbol of a payment code as SVG (see `bars_svg`).
pub fn barcode_svg(digits: &str, height: usize, label: &str) -> Result<String, String> {
    Ok(bars_svg(&barcode_modules(digits)?, height, label))
}

/// Modules as an SVG element, one path of bars, quiet zones included: `height` modules tall,
/// scaled by the page (`width: 100%`). `label` is its accessible name.
pub fn bars_svg(modules: &[u8], height: usize, label: &str) -> String {
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
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         preserveAspectRatio=\"none\" shape-rendering=\"crispEdges\" role=\"img\" \
         aria-label=\"{label}\"><rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    )
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
        assert!(svg.contains(&format!(
            "viewBox=\"0 0 {} 60\"",
            modules.len() + 2 * QUIET_MODULES
        )));
        assert!(ean13_modules("4901234567894").is_ok_and(|m| m.len() == 95));
        assert!(
            ean13_modules("4901234567890").is_err(),
            "a wrong check digit"
        );
    }
}
