//! The report's charts, drawn as SVG by plotters (text is left to the
//! browser: no fonts are read). Each chart aggregates first (bins), so
//! its size does not grow with the run.

use plotters::prelude::*;

use crate::error::{Error, Result};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 260;
const BAR: RGBColor = RGBColor(70, 110, 170);
const MARK: RGBColor = RGBColor(200, 60, 40);

fn drawing(e: impl std::fmt::Display) -> Error {
    Error::usage(format!("drawing a chart: {e}"))
}

/// A histogram of `counts` (one per bin of equal width over 0..1), on a
/// log scale as counts span orders of magnitude, with `threshold` marked.
pub fn probability_histogram(counts: &[u64], threshold: f32) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 2.0;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, (1f64..top).log_scale())
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("match probability")
            .y_desc("candidate pairs")
            .draw()
            .map_err(drawing)?;
        let width = 1.0 / counts.len().max(1) as f64;
        chart
            .draw_series(counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(i, &c)| {
                let x = i as f64 * width;
                Rectangle::new([(x, 1.0), (x + width * 0.92, c as f64)], BAR.filled())
            }))
            .map_err(drawing)?;
        let t = threshold as f64;
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(t, 1.0), (t, top)], MARK.stroke_width(2))))
            .map_err(drawing)?
            .label(format!("threshold {threshold:.2}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], MARK.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// Bars of `counts` labeled `labels` (cluster sizes), on a log scale.
pub fn bars(labels: &[String], counts: &[u64], x_desc: &str, y_desc: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 2.0;
        let n = labels.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n).into_segmented(), (1f64..top).log_scale())
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(i, &c)| {
                let mut bar = Rectangle::new(
                    [(SegmentValue::Exact(i), 1.0), (SegmentValue::Exact(i + 1), c as f64)],
                    BAR.filled(),
                );
                bar.set_margin(0, 0, 6, 6);
                bar
            }))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}
