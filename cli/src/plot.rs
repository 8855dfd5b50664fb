//! A line chart of RSS against proof number, one line per approach: SVG
//! (with labels) or PNG (lines, axes and a colour key; no text).

use std::path::Path;

use anyhow::{Context, Result};

/// Writes the chart to `path`, as PNG when it ends in `.png`, else SVG.
pub fn write(path: &Path, lines: &[(String, Vec<u64>)]) -> Result<()> {
    let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let bytes = if png { rss_png(lines)? } else { rss_svg(lines).into_bytes() };
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Scales shared by both formats.
struct Frame {
    proofs: usize,
    top: f64,
}

impl Frame {
    fn new(lines: &[(String, Vec<u64>)]) -> Frame {
        let proofs = lines.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
        let top = lines.iter().flat_map(|s| s.1.iter().map(|x| mib(*x))).fold(1.0, f64::max) * 1.1;
        Frame { proofs, top }
    }
    fn x(&self, i: usize) -> f64 {
        M + (W - 2.0 * M) * i as f64 / (self.proofs - 1) as f64
    }
    fn y(&self, v: f64) -> f64 {
        H - M - (H - 2.0 * M) * v / self.top
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

fn rss_png(lines: &[(String, Vec<u64>)]) -> Result<Vec<u8>> {
    let (w, h) = (W as usize, H as usize);
    let mut rgb = vec![255u8; w * h * 3];
    let mut dot = |x: f64, y: f64, c: [u8; 3]| {
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (px, py) = (x as usize + dx, y as usize + dy);
            if px < w && py < h {
                rgb[(py * w + px) * 3..][..3].copy_from_slice(&c);
            }
        }
    };
    let mut segment = |(x0, y0): (f64, f64), (x1, y1): (f64, f64), c| {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            dot(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, c);
        }
    };
    segment((M, H - M), (W - M, H - M), [0, 0, 0]);
    segment((M, M), (M, H - M), [0, 0, 0]);
    let frame = Frame::new(lines);
    for (n, (_, rss)) in lines.iter().enumerate() {
        let c = rgb_of(COLOURS[n % COLOURS.len()]);
        let points: Vec<(f64, f64)> = rss.iter().enumerate().map(|(i, b)| (frame.x(i), frame.y(mib(*b)))).collect();
        for pair in points.windows(2) {
            segment(pair[0], pair[1], c);
        }
        let key = (W - M + 8.0, M + 16.0 * n as f64);
        for k in 0..8 {
            segment((key.0, key.1 + k as f64), (key.0 + 24.0, key.1 + k as f64), c);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(out)
}

fn rgb_of(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

const W: f64 = 720.0;
const H: f64 = 360.0;
const M: f64 = 56.0;
const COLOURS: [&str; 6] = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/// The chart of `(name, RSS after each proof)` series.
fn rss_svg(lines: &[(String, Vec<u64>)]) -> String {
    let frame = Frame::new(lines);
    let (proofs, top) = (frame.proofs, frame.top);
    let (x, y) = (|i| frame.x(i), |v| frame.y(v));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{M}\" y=\"24\" font-size=\"14\">RSS after each proof, reference Groth16 prover</text>\n\
         <line x1=\"{M}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/><line x1=\"{M}\" y1=\"{M}\" x2=\"{M}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <text x=\"{cx}\" y=\"{lx}\" text-anchor=\"middle\">proof</text>\n\
         <text x=\"14\" y=\"{cy}\" transform=\"rotate(-90 14 {cy})\" text-anchor=\"middle\">RSS (MiB)</text>\n",
        b = H - M,
        r = W - M,
        cx = W / 2.0,
        lx = H - 16.0,
        cy = H / 2.0
    );
    for tick in 0..=4 {
        let v = top * tick as f64 / 4.0;
        svg += &format!("<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>\n", M - 6.0, y(v) + 4.0);
    }
    for i in [0, proofs - 1] {
        svg += &format!("<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x(i), H - M + 16.0, i + 1);
    }
    for (n, (name, rss)) in lines.iter().enumerate() {
        let colour = COLOURS[n % COLOURS.len()];
        let points: Vec<String> = rss.iter().enumerate().map(|(i, b)| format!("{:.1},{:.1}", x(i), y(mib(*b)))).collect();
        svg += &format!("<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n", points.join(" "));
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>\n",
            W - M + 4.0,
            M + 16.0 * n as f64,
            name
        );
    }
    svg + "</svg>\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_formats_draw_every_line() {
        let lines = vec![("a".to_string(), vec![1 << 20, 2 << 20, 3 << 20]), ("b".to_string(), vec![5 << 20; 3])];
        assert_eq!(super::rss_svg(&lines).matches("<polyline").count(), 2);
        let png = super::rss_png(&lines).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
