//! The report's charts, drawn as SVG by plotters (text is left to the
//! browser: no fonts are read). Each chart aggregates first (bins), so
//! its size does not grow with the run.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::evaluate::CurvePoint;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 260;
const BAR: RGBColor = RGBColor(70, 110, 170);
const MARK: RGBColor = RGBColor(200, 60, 40);

/// An SVG of `size` pixels on white, `draw` drawing on it.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        draw(&root)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

fn drawing(e: impl std::fmt::Display) -> Error {
    Error::usage(format!("drawing a chart: {e}"))
}

/// A histogram of `counts` (one per bin of equal width over 0..1), on a
/// log scale as counts span orders of magnitude, with `threshold` marked.
pub fn probability_histogram(counts: &[u64], threshold: f32) -> Result<String> {
    svg((WIDTH, HEIGHT), |root| {
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 2.0;
        let mut chart = ChartBuilder::on(root)
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
        Ok(())
    })
}

/// Bars of `counts` labeled `labels` (cluster sizes), on a log scale.
pub fn bars(labels: &[String], counts: &[u64], x_desc: &str, y_desc: &str) -> Result<String> {
    svg((WIDTH, HEIGHT), |root| {
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 2.0;
        let n = labels.len().max(1);
        let mut chart = ChartBuilder::on(root)
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
        Ok(())
    })
}

/// Horizontal bars of what each column's agreement levels add to the
/// log-odds (Splink's "match weights" chart), "missing" left out (always 0).
pub fn weights(model: &super::ModelSection) -> Result<String> {
    let mut rows: Vec<(String, f64)> = Vec::new();
    for c in &model.columns {
        for l in c.levels.iter().filter(|l| l.level != "missing") {
            rows.push((format!("{} · {}", c.column, l.level), l.log_odds));
        }
    }
    rows.extend(model.other.iter().map(|(f, w)| (f.clone(), *w)));
    let lo = rows.iter().map(|r| r.1).fold(-1.0f64, f64::min).floor();
    let hi = rows.iter().map(|r| r.1).fold(1.0f64, f64::max).ceil();
    let n = rows.len().max(1);
    let height = 60 + 15 * n as u32;
    svg((WIDTH, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(200)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows.get(n - 1 - *i).map(|r| r.0.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("log-odds added (match weight)")
            .draw()
            .map_err(drawing)?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, (_, w))| {
                let y = n - 1 - i;
                let color = if *w >= 0.0 { BAR } else { MARK };
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(y)), (*w, SegmentValue::Exact(y + 1))],
                    color.filled(),
                );
                bar.set_margin(2, 2, 0, 0);
                bar
            }))
            .map_err(drawing)?;
        Ok(())
    })
}

/// Held-out precision against recall, one point per threshold step.
pub fn precision_recall(curve: &[CurvePoint]) -> Result<String> {
    lines(
        "recall",
        "precision",
        0.0..1.0,
        &[("precision", BAR, curve.iter().map(|p| (p.recall, p.precision)).collect())],
        None,
    )
}

/// Held-out precision, recall and F1 against the threshold, the model's marked.
pub fn against_threshold(curve: &[CurvePoint], threshold: f32) -> Result<String> {
    let of = |f: fn(&CurvePoint) -> f64| curve.iter().map(|p| (p.threshold, f(p))).collect::<Vec<_>>();
    lines(
        "threshold",
        "held-out figure",
        0.0..1.0,
        &[
            ("precision", BAR, of(|p| p.precision)),
            ("recall", RGBColor(60, 150, 80), of(|p| p.recall)),
            ("F1", BLACK, of(|p| p.f1)),
        ],
        Some(threshold as f64),
    )
}

type Line = (&'static str, RGBColor, Vec<(f64, f64)>);

/// Lines over 0..1 × 0..1, a legend, and optionally a marked x.
fn lines(
    x_desc: &str,
    y_desc: &str,
    x: std::ops::Range<f64>,
    series: &[Line],
    mark: Option<f64>,
) -> Result<String> {
    svg((WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x, 0f64..1.02f64)
            .map_err(drawing)?;
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(drawing)?;
        for (name, color, points) in series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(drawing)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        if let Some(t) = mark {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t, 0.0), (t, 1.02)],
                    MARK.stroke_width(2),
                )))
                .map_err(drawing)?
                .label(format!("threshold {t:.2}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], MARK.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        Ok(())
    })
}
