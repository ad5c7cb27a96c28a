// Occam's CUDA kernels: the elementwise work of the CUDA backend, each one a line-by-line
// copy of the CPU kernel it replaces (src/compute/kernels.rs and src/net/activation.rs).
// Compiled at run time by NVRTC with --fmad=false, so that no multiply-add is fused and
// the elementwise arithmetic rounds as the CPU's does. Every kernel is a grid-stride loop
// over 64-bit indices; no kernel uses atomics except `first_non_finite` (a minimum, which
// does not depend on the order of the threads).
//
// Activation codes (src/compute/cuda/backend.rs, `activation_code`): 0 relu, 1 relu6,
// 2 hard_tanh, 3 hard_sigmoid, 4 tanh; -1 means "no activation" (the logits).

typedef unsigned long long u64;

// +inf and a quiet NaN, spelled out: NVRTC compiles without the C headers that define them.
#define POSITIVE_INFINITY __int_as_float(0x7f800000)
#define QUIET_NAN_F64 __longlong_as_double(0x7ff8000000000000LL)

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// phi(z) (Activation::apply): the clamps as Rust's max/clamp compute them for a number.
__device__ __forceinline__ float phi(int act, float z) {
    switch (act) {
    case 0: return z > 0.0f ? z : 0.0f;
    case 1: return z < 0.0f ? 0.0f : (z > 6.0f ? 6.0f : z);
    case 2: return z < -1.0f ? -1.0f : (z > 1.0f ? 1.0f : z);
    case 3: { float s = z + 0.5f; return s < 0.0f ? 0.0f : (s > 1.0f ? 1.0f : s); }
    default: return tanhf(z);
    }
}

// phi(z), except that NaN stays NaN (apply_keeping_nan).
__device__ __forceinline__ float phi_keeping_nan(int act, float z) {
    return isnan(z) ? z : phi(act, z);
}

// phi'(z) from the output a = phi(z) (Activation::derivative_from_output): 1 strictly inside
// a linear piece's image, 0 at and beyond its ends (and for NaN); tanh: 1 - a*a.
__device__ __forceinline__ float dphi(int act, float a) {
    switch (act) {
    case 0: return (a > 0.0f && a < POSITIVE_INFINITY) ? 1.0f : 0.0f;
    case 1: return (a > 0.0f && a < 6.0f) ? 1.0f : 0.0f;
    case 2: return (a > -1.0f && a < 1.0f) ? 1.0f : 0.0f;
    case 3: return (a > 0.0f && a < 1.0f) ? 1.0f : 0.0f;
    default: return 1.0f - a * a;
    }
}

// The region code (Activation::code): the number of breakpoints strictly below z.
__device__ __forceinline__ unsigned char region_code(int act, float z) {
    switch (act) {
    case 0: case 4: return z > 0.0f ? 1 : 0;
    case 1: return (z > 0.0f ? 1 : 0) + (z > 6.0f ? 1 : 0);
    case 2: return (z > -1.0f ? 1 : 0) + (z > 1.0f ? 1 : 0);
    default: return (z > -0.5f ? 1 : 0) + (z > 0.5f ? 1 : 0);
    }
}

// dst[i] = value for i < len.
extern "C" __global__ void fill(float* dst, u64 len, float value) {
    GRID_STRIDE(i, len) { dst[i] = value; }
}

// dst[i] += weight * src[i].
extern "C" __global__ void scale_add(float* dst, const float* src, u64 len, float weight) {
    GRID_STRIDE(i, len) { dst[i] += weight * src[i]; }
}

// out (rows x cols): add bias[c] (when bias is not null), then phi keeping NaN (act >= 0).
extern "C" __global__ void bias_and_activation(float* out, const float* bias, u64 rows, u64 cols, int act) {
    GRID_STRIDE(i, rows * cols) {
        float v = out[i];
        if (bias) v += bias[i % cols];
        if (act >= 0) v = phi_keeping_nan(act, v);
        out[i] = v;
    }
}

// dst (rows x width) *= phi'(acts[(r / group) * width + c]): `group` rows of dst share one
// row of acts (the classes of one point).
extern "C" __global__ void mask_by_derivative(float* dst, const float* acts, u64 rows, u64 width, u64 group, int act) {
    GRID_STRIDE(i, rows * width) {
        u64 r = i / width, c = i % width;
        dst[i] *= dphi(act, acts[(r / group) * width + c]);
    }
}

// db[o] = sum over rows i of g[i * outputs + o], summed in row order as the CPU does.
extern "C" __global__ void bias_gradient(float* db, const float* g, u64 n, u64 outputs) {
    GRID_STRIDE(o, outputs) {
        float s = 0.0f;
        for (u64 i = 0; i < n; i++) s += g[i * outputs + o];
        db[o] = s;
    }
}

// One thread per example: the softmax into grad, the loss (f64) and whether the arg-max
// (lowest index on ties) is the label, then grad = (softmax - onehot) / n.
extern "C" __global__ void softmax_cross_entropy(const float* logits, const unsigned int* labels, u64 n, u64 classes,
                                                 float* grad, double* loss, int* correct) {
    GRID_STRIDE(r, n) {
        const float* row = logits + r * classes;
        float* p = grad + r * classes;
        u64 label = labels[r];
        u64 predicted = 0;
        for (u64 j = 0; j < classes; j++)
            if (row[j] > row[predicted]) predicted = j;
        double max = (double)row[predicted];
        double sum = 0.0;
        for (u64 j = 0; j < classes; j++) {
            double e = exp((double)row[j] - max);
            p[j] = (float)e;
            sum += e;
        }
        double inv = 1.0 / sum;
        for (u64 j = 0; j < classes; j++) p[j] = (float)((double)p[j] * inv);
        if (label < classes) {
            loss[r] = log(sum) + max - (double)row[label];
            correct[r] = predicted == label;
            p[label] -= 1.0f;
        } else {
            loss[r] = QUIET_NAN_F64;
            correct[r] = 0;
        }
        for (u64 j = 0; j < classes; j++) p[j] /= (float)n;
    }
}

// w -= lr * g.
extern "C" __global__ void update_sgd(float* w, const float* g, u64 len, float lr) {
    GRID_STRIDE(i, len) { w[i] -= lr * g[i]; }
}

// m = mu * m + g; w -= lr * m.
extern "C" __global__ void update_momentum(float* w, const float* g, float* m, u64 len, float lr, float momentum) {
    GRID_STRIDE(i, len) {
        m[i] = momentum * m[i] + g[i];
        w[i] -= lr * m[i];
    }
}

// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g; w -= lr_t m / (sqrt(v) + eps).
extern "C" __global__ void update_adam(float* w, const float* g, float* m, float* v, u64 len, float lr_t, float beta1,
                                       float beta2, float epsilon) {
    GRID_STRIDE(i, len) {
        float gi = g[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
        v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + epsilon);
    }
}

// ms = rho ms + (1 - rho) g g; w -= lr g / sqrt(ms + eps).
extern "C" __global__ void update_rmsprop(float* w, const float* g, float* ms, u64 len, float lr, float decay,
                                          float epsilon) {
    GRID_STRIDE(i, len) {
        float gi = g[i];
        ms[i] = decay * ms[i] + (1.0f - decay) * gi * gi;
        w[i] -= lr * gi / sqrtf(ms[i] + epsilon);
    }
}

// h[(p * classes + i) * width + c] = w_last[i * width + c] * phi'(acts[p * width + c]).
extern "C" __global__ void cotangent_start(float* h, const float* w_last, const float* acts, u64 points, u64 classes,
                                           u64 width, int act) {
    GRID_STRIDE(idx, points * classes * width) {
        u64 c = idx % width, row = idx / width;
        u64 p = row / classes, i = row % classes;
        h[idx] = w_last[i * width + c] * dphi(act, acts[p * width + c]);
    }
}

// <a, b> over `cols` floats, exactly as the CPU's dot64: blocks of 64, four f32 lanes
// inside a block (then the tail), each block's sum added in f64.
__device__ double dot64(const float* a, const float* b, u64 cols) {
    double total = 0.0;
    for (u64 start = 0; start < cols; start += 64) {
        u64 len = cols - start < 64 ? cols - start : 64;
        const float* ca = a + start;
        const float* cb = b + start;
        float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
        u64 i = 0;
        while (i + 4 <= len) {
            acc0 += ca[i] * cb[i];
            acc1 += ca[i + 1] * cb[i + 1];
            acc2 += ca[i + 2] * cb[i + 2];
            acc3 += ca[i + 3] * cb[i + 3];
            i += 4;
        }
        double s = (double)(acc0 + acc1) + (double)(acc2 + acc3);
        for (u64 j = i; j < len; j++) s += (double)(ca[j] * cb[j]);
        total += s;
    }
    return total;
}

// grams[(p * classes + i) * classes + k] = <y_(p,i), right_(p,k)>, one thread per entry.
extern "C" __global__ void point_grams(const float* y, const float* right, u64 points, u64 classes, u64 cols,
                                       double* grams) {
    GRID_STRIDE(idx, points * classes * classes) {
        u64 k = idx % classes, row = idx / classes;
        u64 p = row / classes;
        grams[idx] = dot64(y + row * cols, right + (p * classes + k) * cols, cols);
    }
}

// *first = the smallest index of a NaN or infinite value (left as it is when there is none;
// the caller sets it to len first).
extern "C" __global__ void first_non_finite(const float* z, u64 len, u64* first) {
    GRID_STRIDE(i, len) {
        if (!isfinite(z[i])) atomicMin(first, i);
    }
}

// codes[i] = the region code of z[i]; then z[i] = phi(z[i]) (every value finite here).
extern "C" __global__ void region_codes(float* z, unsigned char* codes, u64 len, int act) {
    GRID_STRIDE(i, len) {
        codes[i] = region_code(act, z[i]);
        z[i] = phi(act, z[i]);
    }
}
