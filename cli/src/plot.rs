//! An SVG line chart of RSS against proof number, one line per approach.

const W: f64 = 720.0;
const H: f64 = 360.0;
const M: f64 = 56.0;
const COLOURS: [&str; 6] = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/// The chart of `(name, RSS after each proof)` series.
pub fn rss_svg(lines: &[(String, Vec<u64>)]) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    let proofs = lines.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let top = lines.iter().flat_map(|s| s.1.iter().map(|x| mib(*x))).fold(1.0, f64::max) * 1.1;
    let x = |i: usize| M + (W - 2.0 * M) * i as f64 / (proofs - 1) as f64;
    let y = |v: f64| H - M - (H - 2.0 * M) * v / top;
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
