//! The report page: one self-contained HTML file (inline CSS) showing the figures written
//! beside it and tables of every statistic.

use super::Report;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: f64) -> String {
    if v.is_finite() { format!("{v:.3}") } else { "—".into() }
}

fn figures(r: &Report, section: &str, out: &mut String) {
    for f in r.figures.get(section).into_iter().flatten() {
        let svg = f.replace(".png", ".svg");
        let _ = write!(
            out,
            "<figure><a href=\"{svg}\"><img src=\"{f}\" alt=\"{f}\"></a><figcaption>{f} (<a href=\"{svg}\">SVG</a>)</figcaption></figure>"
        );
    }
}

pub fn page(r: &Report) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Occam report</title><style>\
         body{font-family:system-ui,sans-serif;max-width:1700px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         th{background:#f3f3f3;text-align:left}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}\
         .yes{color:#1a7f37;font-weight:bold}.no{color:#c62828;font-weight:bold}.na{color:#777}code{background:#f5f5f5}\
         figure{margin:1em 0}</style></head><body>",
    );
    let statuses: Vec<String> = r.by_status.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = write!(
        h,
        "<h1>Occam report</h1><p>Store <code>{}</code>: {} trials ({}). Occam {}. \
         Sensitivity and Generalization in Neural Networks (Novak et al., ICLR 2018), reproduced.</p>",
        esc(&r.store),
        r.trials,
        statuses.join(", "),
        env!("CARGO_PKG_VERSION")
    );
    h += "<h2>The paper's findings</h2><table><tr><th>#</th><th>claim</th><th>reproduced</th><th>evidence</th></tr>";
    for f in &r.findings {
        let verdict = match f.reproduced {
            Some(true) => "<span class=yes>yes</span>",
            Some(false) => "<span class=no>no</span>",
            None => "<span class=na>not measured</span>",
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{verdict}</td><td style=\"text-align:left\">{}</td></tr>",
            f.number,
            esc(&f.claim),
            esc(&f.evidence)
        );
    }
    h += "</table>";
    if !r.profiles.is_empty() {
        h += "<h2>Sensitivity along trajectories (Figure 2)</h2><p>Mean input-Jacobian norm and transition density \
              along closed trajectories: random ellipses, and ellipses through three training points of different \
              classes or of one class. Dashed lines mark where the data ellipses pass through their training points.</p>";
        figures(r, "profiles", &mut h);
    }
    if !r.regions.is_empty() {
        h += "<h2>Linear regions in the plane of three training points (Figure 3)</h2><p>Black pixels: the code of the \
              last hidden layer changes there. Red: the training points.</p>";
        figures(r, "regions", &mut h);
        h += "<table><tr><th>sweep</th><th>boundary pixels within 0.1 of the training points, before</th><th>overall, before</th><th>near, after</th><th>overall, after</th></tr>";
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
        h += "</table>";
    }
    if !r.paired.is_empty() {
        h += "<h2>Paired studies (Figure 4)</h2><p>Each point is one pair of networks identical but for one factor. \
              Agreement: the fraction of pairs in which the network with the smaller generalization gap also has the \
              smaller metric, with a 95% bootstrap interval (2,000 resamples).</p>";
        for p in &r.paired {
            let _ = write!(
                h,
                "<h3>{} vs {} — sweep <code>{}</code>, {} pairs{}</h3><table><tr><th>metric</th><th>mean, {}</th><th>mean, {}</th><th>“{}” larger</th><th>agreement with gap</th></tr>",
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
                let a = m.agreement;
                let agree = if m.metric == "generalization_gap" {
                    "—".into()
                } else {
                    format!(
                        "{:.0}% [{:.0}–{:.0}%] of {}",
                        100.0 * a.fraction,
                        100.0 * a.ci_low,
                        100.0 * a.ci_high,
                        a.pairs
                    )
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{agree}</td></tr>",
                    m.metric,
                    num(m.mean_off),
                    num(m.mean_on),
                    100.0 * m.on_larger
                );
            }
            h += "</table>";
        }
        figures(r, "paired", &mut h);
    }
    if !r.correlations.is_empty() {
        h += "<h2>Many networks (Figures 1 and 5)</h2><p>Rank correlations between the generalization gap and each \
              metric. Granulated Kendall τ (Jiang et al., 2020): τ within groups of networks that differ in one \
              hyper-parameter only, averaged over groups, then over hyper-parameters.</p>";
        for c in &r.correlations {
            let _ = write!(
                h,
                "<h3>Sweep <code>{}</code>: {} networks{}</h3><table><tr><th>metric</th><th>Spearman ρ</th><th>Kendall τ</th><th>granulated τ</th><th>per hyper-parameter ψ (groups)</th></tr>",
                esc(&c.sweep),
                c.networks,
                if c.filtered_to_100 {
                    " at 100% training accuracy"
                } else {
                    " (all finished; too few at 100% training accuracy)"
                }
            );
            for m in &c.correlations {
                let axes: Vec<String> = m
                    .per_axis
                    .iter()
                    .map(|(a, v, n)| format!("{a}: {} ({n})", num(*v)))
                    .collect();
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                    m.metric,
                    num(m.spearman),
                    num(m.kendall),
                    num(m.granulated_kendall),
                    axes.join(", ")
                );
            }
            let _ = write!(
                h,
                "</table><p>Spearman ρ(transitions, parameter count) = {}.</p>",
                num(c.transitions_vs_params)
            );
        }
        figures(r, "correlations", &mut h);
    }
    if !r.per_point.is_empty() {
        h += "<h2>Per-point sensitivity and loss (Figure 6, Appendix A.3)</h2><p>Under the assumption that the logit \
              gradients are orthogonal with equal norm C (estimated per network as the median of ‖∂f/∂x‖_F/√n), with \
              s = e^{−loss}: ‖J_y‖/C ∈ [s(1−s)√(n/(n−1)), √2·s(1−s)], and ‖J‖_F/C = ‖diag σ − σσᵀ‖_F, whose exact \
              range over all σ with σ_y = s is computed numerically (the paper's maximum-entropy estimate is drawn \
              too). Curves: these ranges. Derivation: <code>src/measure/bounds.rs</code> and docs/METRICS.md.</p><table><tr><th>sweep</th><th>networks</th><th>points</th><th>median ρ(loss, ‖J‖)</th><th>pooled ρ</th><th>‖J_y‖/C in range (within 2×)</th><th>‖J‖/C in range (within 2×)</th></tr>";
        for p in &r.per_point {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}% ({:.0}%)</td><td>{:.0}% ({:.0}%)</td></tr>",
                esc(&p.sweep),
                p.networks,
                p.points,
                num(p.median_spearman),
                num(p.pooled_spearman),
                100.0 * p.target_row_within,
                100.0 * p.target_row_within_2x,
                100.0 * p.full_norm_within,
                100.0 * p.full_norm_within_2x
            );
        }
        h += "</table>";
        figures(r, "per_point", &mut h);
    }
    h += "<p>All numbers: <a href=\"report.json\">report.json</a>.</p></body></html>";
    h
}
