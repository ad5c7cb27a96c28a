//! The training log: the mean batch loss and accuracy over each interval of steps, with
//! the epoch and the learning rate at its end. `occam train --log-every N` writes it as
//! `train_log.csv`.

use serde::Serialize;

/// One interval of training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRow {
    /// Steps taken at the end of the interval.
    pub step: usize,
    /// Completed epochs at the end of the interval.
    pub epoch: usize,
    /// Mean cross-entropy of the interval's batches (before each update).
    pub loss: f64,
    /// Fraction of the interval's batch examples classified correctly.
    pub batch_accuracy: f64,
    /// The learning rate of the interval's last step.
    pub lr: f64,
}

/// Accumulates batches into [`LogRow`]s, one per `every` steps (`every` = 0: no log).
#[derive(Debug, Clone, Default)]
pub struct TrainLog {
    every: usize,
    rows: Vec<LogRow>,
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

impl TrainLog {
    /// A log of one row every `every` steps (0 = no rows).
    pub fn new(every: usize) -> Self {
        TrainLog {
            every,
            ..Default::default()
        }
    }

    /// Adds one step's batch: its summed loss, correct count and size.
    pub fn step(&mut self, step: usize, epoch: usize, lr: f64, batch: (f64, usize, usize)) {
        if self.every == 0 {
            return;
        }
        self.loss_sum += batch.0;
        self.correct += batch.1;
        self.seen += batch.2;
        if step.is_multiple_of(self.every) {
            self.close(step, epoch, lr);
        }
    }

    /// Closes a partly filled last interval.
    pub fn finish(mut self, step: usize, epoch: usize, lr: f64) -> Vec<LogRow> {
        if self.seen > 0 {
            self.close(step, epoch, lr);
        }
        self.rows
    }

    fn close(&mut self, step: usize, epoch: usize, lr: f64) {
        let n = self.seen.max(1) as f64;
        self.rows.push(LogRow {
            step,
            epoch,
            loss: self.loss_sum / n,
            batch_accuracy: self.correct as f64 / n,
            lr,
        });
        (self.loss_sum, self.correct, self.seen) = (0.0, 0, 0);
    }
}

/// The log as CSV: `step,epoch,loss,batch_accuracy,lr`.
pub fn to_csv(rows: &[LogRow]) -> String {
    let mut out = String::from("step,epoch,loss,batch_accuracy,lr\n");
    for r in rows {
        out += &format!("{},{},{},{},{}\n", r.step, r.epoch, r.loss, r.batch_accuracy, r.lr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_average_their_batches_and_the_tail_is_kept() {
        let mut log = TrainLog::new(2);
        log.step(1, 0, 0.1, (4.0, 1, 2));
        log.step(2, 0, 0.1, (2.0, 2, 2));
        log.step(3, 1, 0.01, (1.0, 2, 2));
        let rows = log.finish(3, 1, 0.01);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].step, rows[0].loss, rows[0].batch_accuracy), (2, 1.5, 0.75));
        assert_eq!(
            (rows[1].step, rows[1].epoch, rows[1].loss, rows[1].lr),
            (3, 1, 0.5, 0.01)
        );
        assert!(TrainLog::new(0).finish(5, 0, 0.1).is_empty());
        assert_eq!(to_csv(&rows).lines().count(), 3);
    }
}
