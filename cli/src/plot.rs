//! A line chart of RSS against proof number, one line per approach, drawn by
//! plotters into an SVG or a PNG from the same code: title, axis labels with
//! units, tick figures and a legend in both.
//!
//! Text in the PNG is rasterised by ab_glyph from a font that a crate on
//! crates.io embeds, so it needs no system fonts; the SVG names the family
//! and leaves the font to the viewer.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// What the chart shows: one `(name, bytes after each proof)` per line.
pub struct RssChart<'a> {
    pub title: &'a str,
    /// The workload, under the title.
    pub subtitle: &'a str,
    pub lines: &'a [(String, Vec<u64>)],
    /// The proof number of each point; empty for 1, 2, 3, ...
    pub proofs: &'a [u32],
    /// The y axis label (with its unit, MiB); [`Y_LABEL`] for RSS.
    pub y_label: &'a str,
}

pub const X_LABEL: &str = "proof (number)";
pub const Y_LABEL: &str = "RSS after the proof (MiB)";

const SIZE: (u32, u32) = (900, 520);
const LEGEND_WIDTH: u32 = 150;
const FONT: &str = "sans-serif";
const COLOURS: [RGBColor; 8] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// Writes the chart to `path`: PNG when the name ends in `.png`, else SVG.
pub fn write(path: &Path, chart: &RssChart<'_>) -> Result<()> {
    let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let bytes = if png { chart.png()? } else { chart.svg()?.into_bytes() };
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

impl RssChart<'_> {
    pub fn svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| anyhow!("drawing the chart: {e}"))?;
        }
        Ok(svg)
    }

    pub fn png(&self) -> Result<Vec<u8>> {
        let (w, h) = SIZE;
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| anyhow!("drawing the chart: {e}"))?;
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&rgb)?;
        Ok(out)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        register_font();
        self.draw_on(root).map_err(|e| anyhow!("drawing the chart: {e}"))
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let points = self.lines.iter().map(|l| l.1.len()).max().unwrap_or(0);
        let x = |i: usize| self.proofs.get(i).copied().unwrap_or(i as u32 + 1);
        let proofs = x(points.saturating_sub(1)).max(2);
        let top = self.lines.iter().flat_map(|l| l.1.iter().copied()).map(mib).fold(1.0, f64::max) * 1.1;
        root.fill(&WHITE)?;
        let root = root.titled(self.title, (FONT, 17))?;
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot)
            .caption(self.subtitle, (FONT, 14))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(1u32..proofs, 0f64..top)?;
        chart
            .configure_mesh()
            .x_labels((proofs as usize).min(12))
            .x_desc(X_LABEL)
            .y_desc(self.y_label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .light_line_style(WHITE)
            .draw()?;
        for (n, (name, rss)) in self.lines.iter().enumerate() {
            let colour = COLOURS[n % COLOURS.len()];
            let points: Vec<(u32, f64)> = rss.iter().enumerate().map(|(i, &b)| (x(i), mib(b))).collect();
            chart.draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            // The legend, beside the plot so that it never hides a line.
            let y = 60 + 24 * n as i32;
            legend.draw(&PathElement::new([(4, y), (32, y)], colour.stroke_width(3)))?;
            legend.draw(&Text::new(name.as_str(), (40, y - 8), (FONT, 15)))?;
        }
        Ok(())
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

/// plotters' ab_glyph backend draws only fonts registered by name.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Ubuntu Light (Ubuntu Font Licence), embedded by egui's font crate.
        if plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT).is_err() {
            eprintln!("warning: the embedded font did not load; the PNG will have no text");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart_of(lines: &[(String, Vec<u64>)]) -> RssChart<'_> {
        RssChart { title: "RSS after each proof", subtitle: "a made-up workload", lines, proofs: &[], y_label: Y_LABEL }
    }

    fn lines() -> Vec<(String, Vec<u64>)> {
        let ramp = |start: u64, step: u64| (0..8).map(|i| (start + step * i) << 20).collect();
        vec![("baseline".into(), ramp(20, 16)), ("recreate".into(), ramp(60, 0)), ("private-view".into(), ramp(50, 1))]
    }

    /// The texts of the SVG's `<text>` elements.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text").skip(1).filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string())).collect()
    }

    #[test]
    fn the_svg_names_every_approach_both_axes_and_their_units() {
        let lines = lines();
        let svg = chart_of(&lines).svg().unwrap();
        let texts = texts(&svg);
        for wanted in ["baseline", "recreate", "private-view", X_LABEL, Y_LABEL, "RSS after each proof"] {
            assert!(texts.iter().any(|t| t == wanted), "no text {wanted:?} in {texts:?}");
        }
        assert!(Y_LABEL.contains("(MiB)") && X_LABEL.contains("proof"), "the axis labels carry their units");
        // Tick figures on both axes: proof numbers 1..=8 and MiB values up to the top line (132 MiB).
        for proof in 1..=8 {
            assert!(texts.contains(&proof.to_string()), "no tick for proof {proof} in {texts:?}");
        }
        assert!(texts.iter().any(|t| t.parse::<u32>().is_ok_and(|v| v >= 100)), "no MiB ticks in {texts:?}");
    }

    #[test]
    fn the_png_is_the_same_chart_with_its_text_drawn() {
        let lines = lines();
        let png = chart_of(&lines).png().unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!((info.width, info.height), SIZE);
        // The y axis label sits alone in the leftmost 30 pixels: anything dark there is text.
        let dark_in_left_strip = (0..info.height as usize)
            .flat_map(|y| (0..30).map(move |x| (y * info.width as usize + x) * 3))
            .filter(|&i| rgb[i..i + 3].iter().all(|&c| c < 128))
            .count();
        assert!(dark_in_left_strip > 50, "the y axis label is drawn ({dark_in_left_strip} dark pixels)");
    }
}
