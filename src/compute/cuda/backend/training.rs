//! The elementwise training operations of the CUDA backend: fill, scaled add, the softmax
//! cross-entropy of a batch (losses summed on the host in example order) and the optimizer
//! updates, each one kernel of `kernels.cu` mirroring the CPU's arithmetic.

use super::{Arg, CudaBackend, CudaBuf};
use crate::compute::{BatchLoss, UpdateRule};
use cudarc::driver::DevicePtr;

impl CudaBackend {
    /// `dst[..len] = value`.
    pub(super) fn fill_kernel(&self, dst: &mut CudaBuf, len: usize, value: f32) {
        let (p, n) = (self.ptr(dst, len), len as u64);
        self.launch(
            "fill",
            &self.gpu.kernels.fill,
            len,
            &[Arg::Ptr(p), Arg::Len(n), Arg::F32(value)],
        );
    }

    /// `dst[..len] += weight · src[..len]`.
    pub(super) fn scale_add_kernel(&self, dst: &mut CudaBuf, src: &CudaBuf, len: usize, weight: f32) {
        let (pd, ps, n) = (self.ptr(dst, len), self.ptr(src, len), len as u64);
        self.launch(
            "scale_add",
            &self.gpu.kernels.scale_add,
            len,
            &[Arg::Ptr(pd), Arg::Ptr(ps), Arg::Len(n), Arg::F32(weight)],
        );
    }

    /// The softmax cross-entropy of a batch and its gradient in `grad`; per-example
    /// losses (f64) and hits come back and are summed here in example order, as the CPU
    /// sums.
    pub(super) fn loss_kernel(
        &self,
        logits: &CudaBuf,
        labels: &[u16],
        classes: usize,
        grad: &mut CudaBuf,
    ) -> BatchLoss {
        let n = labels.len();
        if n == 0 {
            return BatchLoss::default();
        }
        let (pl, pg) = (self.ptr(logits, n * classes), self.ptr(grad, n * classes));
        let host_labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let uploaded = self.record("copying labels to the GPU", self.gpu.stream.clone_htod(&host_labels));
        let (Some(dev_labels), Some(loss), Some(correct)) = (uploaded, self.scratch::<f64>(n), self.scratch::<i32>(n))
        else {
            return BatchLoss {
                loss_sum: f64::NAN,
                correct: 0,
            };
        };
        let plab = dev_labels.device_ptr(&self.gpu.stream).0;
        let ploss = loss.device_ptr(&self.gpu.stream).0;
        let pcorrect = correct.device_ptr(&self.gpu.stream).0;
        let (rows, cls) = (n as u64, classes as u64);
        self.launch(
            "softmax_cross_entropy",
            &self.gpu.kernels.softmax_cross_entropy,
            n,
            &[
                Arg::Ptr(pl),
                Arg::Ptr(plab),
                Arg::Len(rows),
                Arg::Len(cls),
                Arg::Ptr(pg),
                Arg::Ptr(ploss),
                Arg::Ptr(pcorrect),
            ],
        );
        if self.failed() {
            return BatchLoss {
                loss_sum: f64::NAN,
                correct: 0,
            };
        }
        // Summed on the host in example order, as the CPU backend sums.
        let losses = self.download(&loss, n);
        let hits = self.download(&correct, n);
        if self.failed() {
            return BatchLoss {
                loss_sum: f64::NAN,
                correct: 0,
            };
        }
        BatchLoss {
            loss_sum: losses.iter().fold(0.0, |s, l| s + l),
            correct: hits.iter().filter(|&&c| c != 0).count(),
        }
    }

    /// One optimizer update of `len` parameters from their gradient and state.
    pub(super) fn update_kernel(
        &self,
        rule: UpdateRule,
        param: &mut CudaBuf,
        grad: &CudaBuf,
        state: &mut [Box<CudaBuf>],
        len: usize,
    ) {
        assert_eq!(state.len(), rule.state_buffers(), "optimizer state buffers");
        let (pw, pg, n) = (self.ptr(param, len), self.ptr(grad, len), len as u64);
        let s0 = state.first().map_or(0, |s| self.ptr(s, len));
        let s1 = state.get(1).map_or(0, |s| self.ptr(s, len));
        let k = &self.gpu.kernels;
        match rule {
            UpdateRule::Sgd { lr } => self.launch(
                "update_sgd",
                &k.update_sgd,
                len,
                &[Arg::Ptr(pw), Arg::Ptr(pg), Arg::Len(n), Arg::F32(lr)],
            ),
            UpdateRule::Momentum { lr, momentum } => self.launch(
                "update_momentum",
                &k.update_momentum,
                len,
                &[
                    Arg::Ptr(pw),
                    Arg::Ptr(pg),
                    Arg::Ptr(s0),
                    Arg::Len(n),
                    Arg::F32(lr),
                    Arg::F32(momentum),
                ],
            ),
            UpdateRule::Adam {
                lr_t,
                beta1,
                beta2,
                epsilon,
            } => self.launch(
                "update_adam",
                &k.update_adam,
                len,
                &[
                    Arg::Ptr(pw),
                    Arg::Ptr(pg),
                    Arg::Ptr(s0),
                    Arg::Ptr(s1),
                    Arg::Len(n),
                    Arg::F32(lr_t),
                    Arg::F32(beta1),
                    Arg::F32(beta2),
                    Arg::F32(epsilon),
                ],
            ),
            UpdateRule::RmsProp { lr, decay, epsilon } => self.launch(
                "update_rmsprop",
                &k.update_rmsprop,
                len,
                &[
                    Arg::Ptr(pw),
                    Arg::Ptr(pg),
                    Arg::Ptr(s0),
                    Arg::Len(n),
                    Arg::F32(lr),
                    Arg::F32(decay),
                    Arg::F32(epsilon),
                ],
            ),
        }
    }
}
