//! `lede-bench-chart`: draws the PNG chart of `make bench` from its `results.json`.
//!
//! `bench/run.py` measures lede against the reference Python worker and writes
//! `bench/results/results.json`; this binary turns it into `chart.png` with
//! [plotters](https://docs.rs/plotters) — the de-facto Rust plotting crate, used here with only its
//! bitmap backend and PNG encoder, and `ab_glyph` text rendering from a TrueType file so that no
//! system library (fontconfig, freetype) is needed. Six panels: pipeline alone (articles/s and
//! peak RSS by threads), entity agreement, and end to end through NATS (articles/s, latency,
//! peak RSS by worker processes).
//!
//! ```text
//! lede-bench-chart --from bench/results/results.json --out bench/results/chart.png
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;

/// Fonts tried in order when `--font` (or `LEDE_CHART_FONT`) is not given: Debian's
/// fonts-dejavu-core, then other common locations of a sans-serif TrueType font.
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];
/// Chart size in pixels.
const SIZE: (u32, u32) = (1800, 1000);
/// lede's colour in every panel.
const LEDE: RGBColor = RGBColor(230, 97, 1);
/// lede's default configuration (cleaning, rules, no NER on non-English text).
const LEDE_DEFAULT: RGBColor = RGBColor(253, 184, 99);
/// spaCy NER only / the Python worker.
const SPACY: RGBColor = RGBColor(49, 104, 168);
/// spaCy's full pipeline.
const SPACY_FULL: RGBColor = RGBColor(137, 176, 220);

/// The parts of `results.json` the chart shows.
#[derive(Debug, Deserialize)]
struct Results {
    meta: Meta,
    #[serde(default)]
    pipeline: Vec<PipelineRow>,
    #[serde(default)]
    e2e: Vec<E2eRow>,
    #[serde(default)]
    agreement: Vec<Agreement>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    date: String,
    machine: String,
    #[serde(default)]
    corpus: String,
    #[serde(default)]
    corpus_articles: usize,
}

#[derive(Debug, Deserialize)]
struct PipelineRow {
    system: String,
    threads: usize,
    articles_per_s: f64,
    peak_mb: f64,
}

#[derive(Debug, Deserialize)]
struct E2eRow {
    system: String,
    workers: usize,
    articles_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_mb: f64,
}

#[derive(Debug, Deserialize)]
struct Agreement {
    name: String,
    articles: usize,
    identical_articles: usize,
    reference_entities: usize,
    exact_matches: usize,
    f1: f64,
}

/// One coloured series of a grouped bar chart.
struct Series {
    name: String,
    color: RGBColor,
    values: Vec<f64>,
}

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), Error> {
    let mut from = None;
    let mut out = None;
    let mut font = std::env::var_os("LEDE_CHART_FONT").map(PathBuf::from);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--from" => from = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--font" => font = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!(
                    "usage: lede-bench-chart --from results.json --out chart.png [--font FILE.ttf]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (see --help)").into()),
        }
    }
    let from = from.ok_or("--from results.json is required")?;
    let out = out.ok_or("--out chart.png is required")?;
    let text = std::fs::read_to_string(&from)
        .map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let results: Results = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a bench results file: {e}", from.display()))?;
    register_font(font.as_deref())?;
    draw(&results, &out)
}

/// Registers a TrueType font as plotters' `sans-serif`.
fn register_font(explicit: Option<&Path>) -> Result<(), Error> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => FONT_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "no TrueType font found (tried {}); install fonts-dejavu-core or pass --font FILE.ttf",
                    FONT_CANDIDATES.join(", ")
                )
            })?,
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // plotters keeps registered fonts for the life of the process; the chart is drawn once.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, bytes)
            .map_err(|_| format!("{} is not a usable TrueType font", path.display()))?;
    }
    Ok(())
}

/// Draws the whole chart into `out` (PNG).
fn draw(results: &Results, out: &Path) -> Result<(), Error> {
    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(70);
    title.draw(&Text::new(
        "lede vs a Python worker (nats-py + spaCy en_core_web_sm)",
        (20, 10),
        ("sans-serif", 30).into_font().style(FontStyle::Bold),
    ))?;
    title.draw(&Text::new(
        format!(
            "{} · {} · corpus: {} articles of {}",
            results.meta.date,
            results.meta.machine,
            results.meta.corpus_articles,
            results.meta.corpus
        ),
        (20, 45),
        ("sans-serif", 17).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    let panels = body.split_evenly((2, 3));

    let threads = sorted_unique(results.pipeline.iter().map(|r| r.threads));
    let pipeline_series = |field: fn(&PipelineRow) -> f64| -> Vec<Series> {
        [
            ("lede, spaCy NER's work", "lede", LEDE),
            ("lede, default stages", "lede-default", LEDE_DEFAULT),
            ("spaCy NER only", "spacy-ner", SPACY),
            ("spaCy full pipeline", "spacy-full", SPACY_FULL),
        ]
        .into_iter()
        .map(|(name, system, color)| Series {
            name: name.into(),
            color,
            values: threads
                .iter()
                .map(|t| {
                    results
                        .pipeline
                        .iter()
                        .find(|r| r.system == system && r.threads == *t)
                        .map_or(0.0, field)
                })
                .collect(),
        })
        .collect()
    };
    let thread_groups: Vec<String> = threads
        .iter()
        .map(|t| format!("{t} thread{}", if *t == 1 { "" } else { "s" }))
        .collect();
    bars(
        &panels[0],
        "Pipeline alone: articles/s (higher is better)",
        &thread_groups,
        &pipeline_series(|r| r.articles_per_s),
    )?;
    bars(
        &panels[1],
        "Pipeline alone: peak RSS, MB (lower is better)",
        &thread_groups,
        &pipeline_series(|r| r.peak_mb),
    )?;
    agreement_panel(&panels[2], &results.agreement)?;

    let workers = sorted_unique(results.e2e.iter().map(|r| r.workers));
    let e2e_value = |system: &str, w: usize, field: fn(&E2eRow) -> f64| {
        results
            .e2e
            .iter()
            .find(|r| r.system == system && r.workers == w)
            .map_or(0.0, field)
    };
    let e2e_series = |field: fn(&E2eRow) -> f64| -> Vec<Series> {
        [
            ("lede worker", "lede", LEDE),
            ("Python worker", "peer", SPACY),
        ]
        .into_iter()
        .map(|(name, system, color)| Series {
            name: name.into(),
            color,
            values: workers
                .iter()
                .map(|w| e2e_value(system, *w, field))
                .collect(),
        })
        .collect()
    };
    let worker_groups: Vec<String> = workers
        .iter()
        .map(|w| format!("{w} process{}", if *w == 1 { "" } else { "es" }))
        .collect();
    bars(
        &panels[3],
        "Through NATS: articles/s (higher is better)",
        &worker_groups,
        &e2e_series(|r| r.articles_per_s),
    )?;
    let mut latency_groups = Vec::new();
    for group in &worker_groups {
        latency_groups.push(format!("{group} p50"));
        latency_groups.push(format!("{group} p99"));
    }
    let latency_series: Vec<Series> = [
        ("lede worker", "lede", LEDE),
        ("Python worker", "peer", SPACY),
    ]
    .into_iter()
    .map(|(name, system, color)| Series {
        name: name.into(),
        color,
        values: workers
            .iter()
            .flat_map(|w| {
                [
                    e2e_value(system, *w, |r| r.p50_ms),
                    e2e_value(system, *w, |r| r.p99_ms),
                ]
            })
            .collect(),
    })
    .collect();
    bars(
        &panels[4],
        "Through NATS: latency publish → record, ms (lower is better)",
        &latency_groups,
        &latency_series,
    )?;
    bars(
        &panels[5],
        "Through NATS: peak RSS of the workers, MB (lower is better)",
        &worker_groups,
        &e2e_series(|r| r.peak_mb),
    )?;
    root.present()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(())
}

fn sorted_unique(values: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut v: Vec<usize> = values.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A value as printed above its bar.
fn label(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A grouped bar chart: one group per `groups` entry, one bar per series in each group.
fn bars(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    groups: &[String],
    series: &[Series],
) -> Result<(), Error> {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    // Headroom above the tallest bar keeps its value clear of the legend (upper left).
    let top = if max > 0.0 { max * 1.4 } else { 1.0 };
    let n = groups.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 19))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| {
            if top >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .y_label_style(("sans-serif", 14))
        .draw()?;
    let width = 0.8 / series.len().max(1) as f64;
    for (k, s) in series.iter().enumerate() {
        let color = s.color;
        let rects = s.values.iter().enumerate().map(move |(g, v)| {
            let x0 = g as f64 + 0.1 + k as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.92, *v)], color.filled())
        });
        chart
            .draw_series(rects)?
            .label(s.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        let value_style = ("sans-serif", 14)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(s.values.iter().enumerate().map(|(g, v)| {
            let x = g as f64 + 0.1 + (k as f64 + 0.46) * width;
            Text::new(label(*v), (x, *v + top * 0.01), value_style.clone())
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 14))
        .draw()?;
    // Group names under the x axis, centred on their group.
    let plot = chart.plotting_area();
    let (x_range, _) = plot.get_pixel_range();
    let group_px = (x_range.end - x_range.start) as f64 / n as f64;
    let (_, y_px) = plot.map_coordinate(&(0.0, 0.0));
    for (g, name) in groups.iter().enumerate() {
        let x = x_range.start as f64 + group_px * (g as f64 + 0.5);
        area.draw(&Text::new(
            name.clone(),
            (
                x as i32 - area.get_base_pixel().0,
                y_px + 8 - area.get_base_pixel().1,
            ),
            ("sans-serif", 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(())
}

/// The agreement figures as text: how many of spaCy's entities lede reproduces exactly.
fn agreement_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    rows: &[Agreement],
) -> Result<(), Error> {
    let heading = ("sans-serif", 19).into_font();
    area.draw(&Text::new(
        "Entity agreement with spaCy (exact span + label)",
        (20, 14),
        heading,
    ))?;
    let mut y = 60;
    if rows.is_empty() {
        area.draw(&Text::new("not measured", (20, y), ("sans-serif", 16)))?;
    }
    for row in rows {
        // The name without its parenthesised remark, which the table in results.md keeps.
        let name = row
            .name
            .split(" (")
            .next()
            .unwrap_or(&row.name)
            .replace('`', "");
        area.draw(&Text::new(
            name,
            (20, y),
            ("sans-serif", 16).into_font().style(FontStyle::Bold),
        ))?;
        area.draw(&Text::new(
            format!(
                "{} of {} entities ({:.2} %), F1 {:.4}; {} of {} articles identical",
                row.exact_matches,
                row.reference_entities,
                100.0 * row.exact_matches as f64 / row.reference_entities.max(1) as f64,
                row.f1,
                row.identical_articles,
                row.articles
            ),
            (20, y + 22),
            ("sans-serif", 15),
        ))?;
        y += 60;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "meta": {"date": "2026-11-28 21:00 UTC", "machine": "2 cores", "corpus": "news_dev.jsonl", "corpus_articles": 40},
      "pipeline": [
        {"system": "lede", "threads": 1, "articles_per_s": 120.5, "peak_mb": 80},
        {"system": "lede", "threads": 2, "articles_per_s": 230.1, "peak_mb": 90},
        {"system": "spacy-ner", "threads": 1, "articles_per_s": 6.5, "peak_mb": 500},
        {"system": "spacy-ner", "threads": 2, "articles_per_s": 11.0, "peak_mb": 700},
        {"system": "spacy-full", "threads": 1, "articles_per_s": 3.2, "peak_mb": 720},
        {"system": "spacy-full", "threads": 2, "articles_per_s": 5.9, "peak_mb": 900}
      ],
      "e2e": [
        {"system": "lede", "workers": 1, "articles_per_s": 200, "p50_ms": 20, "p99_ms": 60, "peak_mb": 100},
        {"system": "peer", "workers": 1, "articles_per_s": 6, "p50_ms": 300, "p99_ms": 900, "peak_mb": 400}
      ],
      "agreement": [
        {"name": "lede vs spaCy", "articles": 40, "identical_articles": 40, "reference_entities": 3516,
         "exact_matches": 3516, "f1": 1.0}
      ]
    }"#;

    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG file");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    #[test]
    fn draws_a_png_of_the_chart_size_from_results() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results.json");
        std::fs::write(&results, SAMPLE).unwrap();
        let out = dir.path().join("chart.png");
        run(vec![
            "--from".into(),
            results.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ])
        .unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(png_size(&bytes), SIZE);
        // A chart with bars and text is far from a blank canvas, which compresses to ~10 KB.
        assert!(
            bytes.len() > 30_000,
            "suspiciously small PNG: {} bytes",
            bytes.len()
        );
    }

    #[test]
    fn rejects_a_file_that_is_not_bench_results() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results.json");
        std::fs::write(&results, r#"{"rows": []}"#).unwrap();
        let err = run(vec![
            "--from".into(),
            results.display().to_string(),
            "--out".into(),
            dir.path().join("c.png").display().to_string(),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("not a bench results file"),
            "{err}"
        );
    }

    #[test]
    fn value_labels_keep_three_significant_digits() {
        assert_eq!(label(1234.4), "1234");
        assert_eq!(label(12.34), "12.3");
        assert_eq!(label(1.234), "1.23");
    }
}
