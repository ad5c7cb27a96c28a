//! The report page: one self-contained HTML file (inline CSS) showing what was run (scale,
//! data, trials, compute time, each study's configuration), the verdict on each finding,
//! the figures written beside it with captions, and tables of every statistic. Where a
//! number is missing, the page says why.

use super::analysis::{CorrelationAnalysis, PairedAnalysis};
use super::config::{Scale, settings_of};
use super::{Report, Verdict};
use crate::sweep::metrics::GENERALIZATION_GAP;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number, or `why` it has none.
fn num_or(v: f64, why: &str) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        format!("<span class=na>{}</span>", esc(why))
    }
}

fn pct_or(v: f64, why: &str) -> String {
    if v.is_finite() {
        format!("{:.1}%", 100.0 * v)
    } else {
        format!("<span class=na>{}</span>", esc(why))
    }
}

/// "6 min 12 s", "1 h 03 min".
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1700px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}.wide{overflow-x:auto}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}\
th{background:#f3f3f3;text-align:left}td:first-child,th:first-child{text-align:left}td.t{text-align:left}\
img{max-width:100%;border:1px solid #ddd}.yes{color:#1a7f37;font-weight:bold}.no{color:#c62828;font-weight:bold}\
.na{color:#666}code{background:#f5f5f5}figure{margin:1.5em 0}figcaption{max-width:1200px;color:#333;margin-top:.4em}\
.summary{font-size:1.15em}ul.facts li{margin:.2em 0}";

/// Writes the figures of `section` (only those of `sweep`, when given).
fn figures_of(r: &Report, section: &str, sweep: Option<&str>, out: &mut String) {
    let wanted = |f: &&super::FigureFile| sweep.is_none_or(|s| f.sweep == s);
    for f in r.figures.get(section).into_iter().flatten().filter(wanted) {
        let _ = write!(
            out,
            "<figure><a href=\"{svg}\"><img src=\"{png}\" alt=\"{alt}\"></a><figcaption>{caption} \
             (<a href=\"{svg}\">SVG</a>, <a href=\"{png}\">PNG</a>)</figcaption></figure>",
            svg = esc(&f.svg),
            png = esc(&f.png),
            alt = esc(&f.alt),
            caption = esc(&f.caption)
        );
    }
}

fn figures(r: &Report, section: &str, out: &mut String) {
    figures_of(r, section, None, out);
}

fn scale_text(scale: Scale) -> &'static str {
    match scale {
        Scale::Quick => {
            "quick: the built-in reduced-scale studies of <code>occam reproduce --quick</code> (fewer steps, \
             smaller training sets and fewer networks than the paper; the numbers are indicative)"
        }
        Scale::Paper => "paper: the built-in paper-scale studies of <code>occam reproduce</code>",
        Scale::Custom => {
            "custom: at least one study is not one of the built-in studies as shipped (see the scale row of \
             the configuration table)"
        }
    }
}

fn header(r: &Report, h: &mut String) {
    let statuses: Vec<String> = r.by_status.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = write!(
        h,
        "<h1>Occam report: Sensitivity and Generalization in Neural Networks (Novak et al., ICLR 2018)</h1>\
         <p class=summary><b>{}.</b></p><ul class=facts>\
         <li>Scale: {}.</li><li>Data: {}.</li><li>Trials: {} ({}) in {} {}.</li>\
         <li>Compute time: {} (training plus measurement, summed over trials; parallel trials finish sooner).</li>\
         <li>Store <code>{}</code>, Occam {}.</li></ul>",
        esc(&r.verdicts.sentence()),
        scale_text(r.scale),
        esc(&r.datasets.join(", ")),
        r.trials,
        statuses.join(", "),
        r.studies.len(),
        if r.studies.len() == 1 { "study" } else { "studies" },
        duration(r.wall_seconds),
        esc(&r.store),
        env!("CARGO_PKG_VERSION")
    );
}

fn findings_table(r: &Report, h: &mut String) {
    *h += "<h2>The paper's findings</h2><table><tr><th>#</th><th>claim</th><th>verdict</th><th>evidence</th></tr>";
    for f in &r.findings {
        let class = match f.verdict {
            Verdict::Reproduced => "yes",
            Verdict::NotReproduced => "no",
            Verdict::NotMeasured | Verdict::NotValid => "na",
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=t>{}</td><td class=t><span class={class}>{}</span></td><td class=t>{}</td></tr>",
            f.number,
            esc(&f.claim),
            f.verdict.text(),
            esc(&f.evidence)
        );
    }
    *h += "</table>";
}

/// One column per study: scale, design, trials, then every training and measurement setting.
fn configuration_table(r: &Report, h: &mut String) {
    *h += "<h2>What was run</h2><p>One column per study. Settings that vary within a study list their values \
           (the study trains every combination, or a random sample, as its design says).</p><div class=wide><table><tr><th>setting</th>";
    for s in &r.studies {
        let _ = write!(h, "<th>{}</th>", esc(&s.sweep));
    }
    *h += "</tr>";
    let row = |h: &mut String, name: &str, cell: &dyn Fn(usize) -> String| {
        let _ = write!(h, "<tr><th>{}</th>", esc(name));
        for i in 0..r.studies.len() {
            let _ = write!(h, "<td class=t>{}</td>", cell(i));
        }
        *h += "</tr>";
    };
    row(h, "scale", &|i| r.studies[i].scale.name().to_string());
    row(h, "purpose", &|i| esc(&r.studies[i].description));
    row(h, "design", &|i| esc(&r.studies[i].design));
    row(h, "trials", &|i| {
        let s = &r.studies[i];
        let st: Vec<String> = s.by_status.iter().map(|(k, v)| format!("{v} {k}")).collect();
        format!("{} ({})", s.trials, st.join(", "))
    });
    row(h, "compute time", &|i| duration(r.studies[i].wall_seconds));
    let names: Vec<String> = settings_of(&[]).into_iter().map(|s| s.name).collect();
    for (k, name) in names.iter().enumerate() {
        row(h, name, &|i| esc(&r.studies[i].settings[k].text()));
    }
    let mut measures: Vec<String> = Vec::new();
    for s in &r.studies {
        for (what, _) in &s.measurement {
            if !measures.contains(what) {
                measures.push(what.clone());
            }
        }
    }
    for what in &measures {
        row(h, what, &|i| {
            r.studies[i]
                .measurement
                .iter()
                .find(|m| &m.0 == what)
                .map_or("not measured".into(), |m| esc(&m.1))
        });
    }
    *h += "</table></div>";
}

pub fn page(r: &Report) -> String {
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Occam report</title><style>{STYLE}</style></head><body>"
    );
    header(r, &mut h);
    findings_table(r, &mut h);
    configuration_table(r, &mut h);
    if !r.profiles.is_empty() {
        h += "<h2>Sensitivity along trajectories (Figure 2)</h2><p>Mean input-Jacobian norm and transition density \
              along closed trajectories: random ellipses, and ellipses through three training points of different \
              classes or of one class.</p>";
        figures(r, "profiles", &mut h);
    }
    if !r.regions.is_empty() {
        regions_section(r, &mut h);
    }
    if !r.paired.is_empty() {
        h += "<h2>Paired studies (Figure 4)</h2><p>Each point is one pair of networks identical but for one factor. \
              Agreement: the fraction of pairs in which the network with the smaller generalization gap also has the \
              smaller metric, with a 95% bootstrap interval (2,000 resamples).</p>";
        for p in &r.paired {
            paired_table(p, &mut h);
            figures_of(r, "paired", Some(&p.sweep), &mut h);
        }
    }
    if !r.correlations.is_empty() {
        h += "<h2>Many networks (Figures 1 and 5)</h2><p>Rank correlations between the generalization gap and each \
              metric. Granulated Kendall τ (Jiang et al., 2020): τ within groups of networks that differ in one \
              hyper-parameter only, averaged over groups, then over hyper-parameters. CMI (Jiang et al., 2020, \
              the PGDL score): how much the sign of the metric's difference between two networks tells about \
              the sign of their gaps' difference once at most two hyper-parameters are known, 0 (nothing) to 1 \
              (decides it), the smallest over those conditioning sets.</p>";
        for c in &r.correlations {
            correlation_tables(c, &mut h);
            figures_of(r, "correlations", Some(&c.sweep), &mut h);
        }
    }
    if !r.per_point.is_empty() {
        per_point_section(r, &mut h);
    }
    if !r.training.is_empty() {
        training_section(r, &mut h);
    }
    h += "<p>All numbers: <a href=\"report.json\">report.json</a>.</p></body></html>";
    h
}

fn regions_section(r: &Report, h: &mut String) {
    *h += "<h2>Linear regions in the plane of three training points (Figure 3)</h2><p>Each colour patch is one \
           linear region of the last hidden layer; dark pixels are boundaries, where its activation pattern \
           changes. Maps marked “exact” are instead the convex polygons on which every hidden layer up to the \
           last keeps its linear pieces, computed from the weights when the trial ran (piecewise-linear activations, \
           up to the study's region cap, 1,000,000 regions per map unless its spec sets measure.regions.max_regions) \
           and stored as 1000 × 1000 images; their boundaries are exact lines. A caption says why a map was drawn \
           on the grid instead. Plane coordinates: the three training points sit on a circle of radius 0.8 around the origin \
           of the square [−1, 1]².</p>";
    figures(r, "regions", h);
    let _ = write!(
        h,
        "<table><tr><th>sweep</th><th>boundary pixels within {0} of a training point, before training</th>\
         <th>over the whole map, before</th><th>within {0}, after training</th><th>whole map, after</th></tr>",
        super::figures::NEAR_RADIUS
    );
    for d in &r.region_density {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.1}%</td><td>{:.1}%</td><td>{:.1}%</td><td>{:.1}%</td></tr>",
            esc(&d.sweep),
            100.0 * d.before_near,
            100.0 * d.before_overall,
            100.0 * d.after_near,
            100.0 * d.after_overall
        );
    }
    let _ = write!(
        h,
        "</table><p>Distances in plane units (the training points are 0.8 from the centre; {} is one eighth of that).</p>",
        super::figures::NEAR_RADIUS
    );
    exact_density_table(r, h);
}

/// Boundary length per unit area of the exact maps (studies whose maps were drawn exactly).
fn exact_density_table(r: &Report, h: &mut String) {
    let exact: Vec<_> = r
        .region_density
        .iter()
        .filter_map(|d| d.exact.as_ref().map(|e| (&d.sweep, e)))
        .collect();
    if exact.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<p>Where a map is drawn exactly, the boundaries are lines and their density is a length: boundary length \
         per unit area (plane units), within {0} of a training point and over the whole map.</p><table><tr>\
         <th>sweep</th><th>regions before / after</th><th>within {0}, before</th><th>whole map, before</th>\
         <th>within {0}, after</th><th>whole map, after</th><th>near / whole, after</th></tr>",
        super::figures::NEAR_RADIUS
    );
    for (sweep, e) in exact {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{} / {}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            esc(sweep),
            e.before_regions,
            e.after_regions,
            e.before_near,
            e.before_overall,
            e.after_near,
            e.after_overall,
            e.after_near / e.after_overall
        );
    }
    *h += "</table>";
}

fn paired_table(p: &PairedAnalysis, h: &mut String) {
    let _ = write!(
        h,
        "<h3>{} vs {} — sweep <code>{}</code>, {} pairs{}</h3><table><tr><th>metric</th><th>mean, {}</th>\
         <th>mean, {}</th><th>“{}” larger</th><th>agreement with gap</th></tr>",
        esc(&p.arms.0),
        esc(&p.arms.1),
        esc(&p.sweep),
        p.pairs,
        if p.filtered_to_100 {
            " (both networks at 100% training accuracy)"
        } else {
            " (all complete pairs: fewer than 5 with both at 100%)"
        },
        esc(&p.arms.0),
        esc(&p.arms.1),
        esc(&p.arms.1)
    );
    for m in &p.metrics {
        if let Some(why) = &m.missing {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=t colspan=4><span class=na>{}</span></td></tr>",
                m.metric,
                esc(why)
            );
            continue;
        }
        let a = m.agreement;
        let agree = if m.metric == GENERALIZATION_GAP.name {
            "<span class=na>the reference the other metrics are compared with</span>".to_string()
        } else if a.fraction.is_finite() {
            format!(
                "{:.0}% [{:.0}–{:.0}%] of {}",
                100.0 * a.fraction,
                100.0 * a.ci_low,
                100.0 * a.ci_high,
                a.pairs
            )
        } else {
            "<span class=na>no pair with a gap difference to compare</span>".to_string()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{agree}</td></tr>",
            m.metric,
            num_or(m.mean_off, "no finite value"),
            num_or(m.mean_on, "no finite value"),
            100.0 * m.on_larger
        );
    }
    *h += "</table>";
    let (verdict, evidence) = super::findings::paired_verdict(p);
    let _ = write!(
        h,
        "<p>This study: <b>{}</b> — {}</p><ul class=checks>",
        verdict.text(),
        esc(&evidence)
    );
    for c in &p.validity.checks {
        let _ = write!(
            h,
            "<li>{} {}: {}</li>",
            if c.holds { "✓" } else { "✗" },
            esc(c.name),
            esc(&c.detail)
        );
    }
    *h += "</ul>";
}

/// Networks up to which a sweep's values are listed network by network.
const LIST_NETWORKS_UP_TO: usize = 12;

fn correlation_tables(c: &CorrelationAnalysis, h: &mut String) {
    let _ = write!(
        h,
        "<h3>Sweep <code>{}</code>: {} networks{}</h3>",
        esc(&c.sweep),
        c.networks,
        if c.filtered_to_100 {
            " at 100% training accuracy"
        } else {
            " (all finished; fewer than 10 at 100% training accuracy)"
        }
    );
    if !c.correlations.is_empty() {
        h.push_str(
            "<table><tr><th>metric</th><th>Spearman ρ</th><th>Kendall τ</th><th>granulated τ</th>\
             <th>per hyper-parameter ψ (groups, pairs of networks)</th><th>CMI (conditioned on)</th></tr>",
        );
        for m in &c.correlations {
            let axes: Vec<String> = m
                .per_axis
                .iter()
                .map(|(a, v, groups, pairs)| format!("{a}: {} ({groups}, {pairs})", num_or(*v, "undefined")))
                .collect();
            let cmi = match &m.cmi {
                super::analysis::Stat::Value { value } => format!(
                    "{value:.3} ({})",
                    if m.cmi_given.is_empty() {
                        "nothing".to_string()
                    } else {
                        m.cmi_given.join(", ")
                    }
                ),
                other => format!("<span class=na>{}</span>", esc(&other.text())),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=t>{}</td><td>{cmi}</td></tr>",
                m.metric,
                num_or(m.spearman, "undefined: a constant variable"),
                num_or(m.kendall, "undefined: a constant variable"),
                num_or(m.granulated_kendall, &m.granulated_missing()),
                if axes.is_empty() {
                    "<span class=na>no group of networks differs in one setting only</span>".to_string()
                } else {
                    axes.join(", ")
                }
            );
        }
        h.push_str("</table>");
    }
    if !c.missing.is_empty() {
        h.push_str("<p>No correlation for: ");
        let items: Vec<String> = c.missing.iter().map(|(m, why)| format!("{m} ({})", esc(why))).collect();
        let _ = write!(h, "{}.</p>", items.join("; "));
    }
    let _ = write!(
        h,
        "<p>Spearman ρ(transitions, parameter count), the size confound: {}.</p>",
        esc(&c.transitions_vs_params.text())
    );
    if c.points.len() <= LIST_NETWORKS_UP_TO {
        network_table(c, h);
    }
}

/// Every network's values, with the settings that differ between them.
fn network_table(c: &CorrelationAnalysis, h: &mut String) {
    let configs: Vec<_> = c.points.iter().map(|p| &p.config).collect();
    let varying: Vec<usize> = settings_of(&configs)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.values.len() > 1)
        .map(|(i, _)| i)
        .collect();
    let names = settings_of(&[]);
    h.push_str("<table><tr><th>trial</th>");
    for &i in &varying {
        let _ = write!(h, "<th>{}</th>", esc(&names[i].name));
    }
    h.push_str(
        "<th>parameters</th><th>train accuracy</th><th>test accuracy</th><th>gap</th><th>mean ‖J‖_F</th><th>transitions</th></tr>",
    );
    for p in &c.points {
        let own = settings_of(&[&p.config]);
        let _ = write!(h, "<tr><td>{}</td>", p.trial);
        for &i in &varying {
            let _ = write!(h, "<td>{}</td>", esc(&own[i].text()));
        }
        let _ = write!(
            h,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            super::config::thousands(p.params),
            pct_or(p.train_accuracy, "not available"),
            pct_or(p.test_accuracy, "not available"),
            num_or(p.gap, "not available"),
            num_or(p.jacobian_norm, "not measured"),
            num_or(p.transitions, "not measured: this study counts no transitions")
        );
    }
    h.push_str("</table>");
}

fn per_point_section(r: &Report, h: &mut String) {
    *h += "<h2>Per-point sensitivity and loss (Figure 6, Appendix A.3)</h2><p>Under the assumption that the logit \
           gradients are orthogonal with equal norm C (estimated per network as the median of ‖∂f/∂x‖_F/√n), with \
           s = e^{−loss}: ‖J_y‖/C ∈ [s(1−s)√(n/(n−1)), √2·s(1−s)], and ‖J‖_F/C = ‖diag σ − σσᵀ‖_F, whose exact \
           range over all σ with σ_y = s is computed numerically (the paper's maximum-entropy estimate is drawn \
           too). Curves: these ranges. Derivation: <code>src/measure/bounds.rs</code> and docs/METRICS.md.</p>\
           <table><tr><th>sweep</th><th>networks</th><th>points</th><th>median ρ(loss, ‖J‖)</th><th>pooled ρ</th>\
           <th>‖J_y‖/C in range (within 2×)</th><th>‖J‖/C in range (within 2×)</th></tr>";
    for p in &r.per_point {
        let constant = "undefined: loss or ‖J‖ constant over the points";
        let share = |inside: f64, within_2x: f64| {
            if inside.is_finite() && within_2x.is_finite() {
                format!("{:.0}% ({:.0}%)", 100.0 * inside, 100.0 * within_2x)
            } else {
                "not available: no point with finite loss and norms".to_string()
            }
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.sweep),
            p.networks,
            p.points,
            num_or(p.median_spearman, constant),
            num_or(p.pooled_spearman, constant),
            share(p.target_row_within, p.target_row_within_2x),
            share(p.full_norm_within, p.full_norm_within_2x)
        );
    }
    *h += "</table>";
    figures(r, "per_point", h);
}

/// Sensitivity over training: the figure, then ρ(gap, ‖J‖) across networks per step.
fn training_section(r: &Report, h: &mut String) {
    *h += "<h2>Sensitivity over training (beyond the paper)</h2><p>Each network measured at log-spaced training \
           steps: when during training does the rank relation between the generalization gap and the Jacobian \
           norm form?</p>";
    for t in &r.training {
        figures_of(r, "training", Some(&t.sweep), h);
        let _ = write!(
            h,
            "<table><tr><th>step</th><th>networks</th><th>Spearman ρ(gap, ‖J‖) — sweep <code>{}</code></th></tr>",
            esc(&t.sweep)
        );
        for c in &t.correlations {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.step,
                c.networks,
                esc(&c.spearman.text())
            );
        }
        *h += "</table>";
    }
}
