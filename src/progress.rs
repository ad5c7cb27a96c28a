//! Progress of long work, on stderr: a live bar in a terminal, and plain dated lines at a
//! steady interval when stderr is a file or pipe (Slurm logs, notebooks, `2> log`), so a
//! long run is never silent.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seconds between plain progress lines, unless `OCCAM_PROGRESS_SECONDS` says otherwise.
pub const PLAIN_INTERVAL_S: f64 = 15.0;

/// A bar over `len` units named `unit`; hidden when `show` is false.
pub fn bar(show: bool, len: u64, unit: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        return bar;
    }
    // An unreadable, negative or absurd value falls back to the default interval.
    let every = std::env::var("OCCAM_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs_f64(PLAIN_INTERVAL_S));
    let lines = PlainLines {
        every,
        last: Mutex::new(None),
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::term_like(Box::new(lines)));
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "progress: {{pos}}/{{len}} {unit} ({{percent}}%), elapsed {{elapsed}}, ETA {{eta}}  {{msg}}"
        ))
        .expect("valid template"),
    );
    bar
}

/// A training run's progress callback drawing on `bar` (its length is set from the run's
/// total): the step and the latest mean loss, redrawn every 25 steps and at the end.
/// It never cancels.
pub fn training_callback(
    bar: &ProgressBar,
) -> impl FnMut(crate::train::TrainProgress) -> std::ops::ControlFlow<()> + Send + '_ {
    move |p| {
        if p.step % 25 == 0 || p.step == p.total || p.step == 1 {
            bar.set_length(p.total as u64);
            bar.set_position(p.step as u64);
            if let Some(loss) = p.loss {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// A "terminal" that turns the bar's redraws into one printed line per interval.
#[derive(Debug)]
struct PlainLines {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl PlainLines {
    fn line(&self, text: &str) -> std::io::Result<()> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= self.every) {
            *last = Some(Instant::now());
            eprintln!("{text}");
        }
        Ok(())
    }
}

impl TermLike for PlainLines {
    fn width(&self) -> u16 {
        200
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.line(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}
