#include "sae/sparse_ops.hpp"

#include <algorithm>
#include <cstdint>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/check.hpp"
#if defined(EVOSCOPE_HAVE_CUDA_KERNELS)
#include "sae/cuda/sparse_kernels.hpp"
#endif

namespace evoscope::sae::detail {
namespace {

void check_csr(const at::Tensor& row_ptr, const at::Tensor& ids, const at::Tensor& values) {
    EVOSCOPE_CHECK_AS(InternalError,
                      row_ptr.dim() == 1 && row_ptr.scalar_type() == at::kLong,
                      "sparse codes: row_ptr must be int64 [N+1]");
    EVOSCOPE_CHECK_AS(InternalError,
                      ids.dim() == 1 && ids.scalar_type() == at::kLong,
                      "sparse codes: ids must be int64 [nnz]");
    if (values.defined()) {
        EVOSCOPE_CHECK_AS(InternalError,
                          values.dim() == 1 && values.size(0) == ids.size(0),
                          "sparse codes: values must match ids");
    }
}

// y[0..d) += a * x[0..d)
inline void axpy(std::int64_t d, float a, const float* __restrict x, float* __restrict y) {
    for (std::int64_t j = 0; j < d; ++j) {
        y[j] += a * x[j];
    }
}

inline float dot(std::int64_t d, const float* __restrict x, const float* __restrict y) {
    // Four partial sums: vectorisable without -ffast-math, and less rounding drift.
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::int64_t j = 0;
    for (; j + 4 <= d; j += 4) {
        s0 += x[j] * y[j];
        s1 += x[j + 1] * y[j + 1];
        s2 += x[j + 2] * y[j + 2];
        s3 += x[j + 3] * y[j + 3];
    }
    for (; j < d; ++j) {
        s0 += x[j] * y[j];
    }
    return (s0 + s1) + (s2 + s3);
}

bool on_cpu(const at::Tensor& t) {
    return t.device().is_cpu();
}

#if defined(EVOSCOPE_HAVE_CUDA_KERNELS)
// The sae/cuda kernels take fixed-width codes [N, k] (TopK, AuxK): k when row_ptr is 0, k, 2k, ...
// on a CUDA fp32 tensor, else 0 (BatchTopK's variable rows use the generic path). They run on
// the default stream, which libtorch uses unless a caller sets another.
std::int64_t kernel_width(const at::Tensor& t, const at::Tensor& row_ptr, std::int64_t nnz) {
    if (!t.is_cuda() || t.scalar_type() != at::kFloat || !gpu::cuda_kernels_available())
        return 0;
    const std::int64_t N = row_ptr.size(0) - 1;
    if (N == 0 || nnz == 0 || nnz % N != 0)
        return 0;
    const std::int64_t k = nnz / N;
    return at::equal(row_ptr, at::arange(0, nnz + 1, k, row_ptr.options())) ? k : 0;
}
#endif

}  // namespace

at::Tensor rows_of_entries(const at::Tensor& row_ptr, std::int64_t nnz) {
    const auto counts = row_ptr.slice(0, 1) - row_ptr.slice(0, 0, -1);
    const auto n = row_ptr.size(0) - 1;
    auto rows = at::repeat_interleave(
        at::arange(n, row_ptr.options()), counts, /*dim=*/0, /*output_size=*/nnz);
    return rows;
}

at::Tensor sparse_decode(const at::Tensor& W,
                         const at::Tensor& row_ptr,
                         const at::Tensor& ids,
                         const at::Tensor& values,
                         const at::Tensor& bias) {
    check_csr(row_ptr, ids, values);
    const std::int64_t N = row_ptr.size(0) - 1;
    const std::int64_t d = W.size(1);
    if (!on_cpu(W)) {
#if defined(EVOSCOPE_HAVE_CUDA_KERNELS)
        if (const auto k = kernel_width(W, row_ptr, ids.size(0)); k > 0) {
            auto Wc = W.contiguous();
            auto ix = ids.contiguous();
            auto vv = values.contiguous();
            at::Tensor out = at::empty({N, d}, W.options());
            gpu::sparse_decode(Wc.data_ptr(),
                               gpu::WeightDtype::Float32,
                               ix.data_ptr<std::int64_t>(),
                               vv.data_ptr<float>(),
                               bias.defined() ? bias.contiguous().data_ptr<float>() : nullptr,
                               out.data_ptr<float>(),
                               N,
                               k,
                               d,
                               W.size(0),
                               nullptr);
            return out;
        }
#endif
        // embedding_bag(sum, per-sample weights) is exactly a CSR decode on any device.
        auto out = std::get<0>(at::embedding_bag(W, ids, row_ptr, false, 0, false, values, true));
        if (bias.defined()) {
            out.add_(bias);
        }
        return out;
    }
    auto Wc = W.contiguous();
    auto rp = row_ptr.contiguous();
    auto ix = ids.contiguous();
    auto vv = values.contiguous();
    at::Tensor out = bias.defined() ? bias.reshape({1, d}).expand({N, d}).contiguous()
                                    : at::zeros({N, d}, W.options());
    const float* w = Wc.data_ptr<float>();
    const std::int64_t* r = rp.data_ptr<std::int64_t>();
    const std::int64_t* id = ix.data_ptr<std::int64_t>();
    const float* v = vv.data_ptr<float>();
    float* o = out.data_ptr<float>();
    at::parallel_for(0, N, 16, [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t n = b0; n < b1; ++n) {
            for (std::int64_t m = r[n]; m < r[n + 1]; ++m) {
                axpy(d, v[m], w + id[m] * d, o + n * d);
            }
        }
    });
    return out;
}

at::Tensor gather_dot(const at::Tensor& G,
                      const at::Tensor& W,
                      const at::Tensor& row_ptr,
                      const at::Tensor& ids) {
    check_csr(row_ptr, ids, at::Tensor());
    const std::int64_t N = row_ptr.size(0) - 1;
    const std::int64_t d = W.size(1);
    const std::int64_t nnz = ids.size(0);
    if (!on_cpu(W)) {
#if defined(EVOSCOPE_HAVE_CUDA_KERNELS)
        if (const auto k = kernel_width(W, row_ptr, nnz); k > 0) {
            auto Gc = G.contiguous();
            auto Wc = W.contiguous();
            auto ix = ids.contiguous();
            at::Tensor out = at::empty({nnz}, G.options());
            gpu::sparse_decode_backward_values(Gc.data_ptr<float>(),
                                               Wc.data_ptr(),
                                               gpu::WeightDtype::Float32,
                                               ix.data_ptr<std::int64_t>(),
                                               out.data_ptr<float>(),
                                               N,
                                               k,
                                               d,
                                               W.size(0),
                                               nullptr);
            return out;
        }
#endif
        const auto rows = rows_of_entries(row_ptr, nnz);
        // Chunked so that the gathered [chunk, d] copies stay small.
        at::Tensor out = at::empty({nnz}, G.options());
        const std::int64_t chunk =
            std::max<std::int64_t>(1, (std::int64_t{1} << 24) / std::max<std::int64_t>(d, 1));
        for (std::int64_t m0 = 0; m0 < nnz; m0 += chunk) {
            const std::int64_t m1 = std::min(nnz, m0 + chunk);
            auto g = G.index_select(0, rows.slice(0, m0, m1));
            auto w = W.index_select(0, ids.slice(0, m0, m1));
            out.slice(0, m0, m1).copy_((g * w).sum(1));
        }
        return out;
    }
    auto Gc = G.contiguous();
    auto Wc = W.contiguous();
    auto rp = row_ptr.contiguous();
    auto ix = ids.contiguous();
    at::Tensor out = at::empty({nnz}, G.options());
    const float* g = Gc.data_ptr<float>();
    const float* w = Wc.data_ptr<float>();
    const std::int64_t* r = rp.data_ptr<std::int64_t>();
    const std::int64_t* id = ix.data_ptr<std::int64_t>();
    float* o = out.data_ptr<float>();
    at::parallel_for(0, N, 16, [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t n = b0; n < b1; ++n) {
            for (std::int64_t m = r[n]; m < r[n + 1]; ++m) {
                o[m] = dot(d, g + n * d, w + id[m] * d);
            }
        }
    });
    return out;
}

void scatter_outer_add(at::Tensor& grad,
                       const at::Tensor& G,
                       const at::Tensor& row_ptr,
                       const at::Tensor& ids,
                       const at::Tensor& coef) {
    check_csr(row_ptr, ids, coef);
    const std::int64_t N = row_ptr.size(0) - 1;
    const std::int64_t d = grad.size(1);
    const std::int64_t nnz = ids.size(0);
    if (!on_cpu(grad)) {
#if defined(EVOSCOPE_HAVE_CUDA_KERNELS)
        if (const auto k = kernel_width(grad, row_ptr, nnz); k > 0 && grad.is_contiguous()) {
            auto Gc = G.contiguous();
            auto ix = ids.contiguous();
            auto cc = coef.contiguous();
            gpu::sparse_decode_backward_weight(Gc.data_ptr<float>(),
                                               ix.data_ptr<std::int64_t>(),
                                               cc.data_ptr<float>(),
                                               grad.data_ptr<float>(),
                                               N,
                                               k,
                                               d,
                                               grad.size(0),
                                               nullptr);
            return;
        }
#endif
        const auto rows = rows_of_entries(row_ptr, nnz);
        const std::int64_t chunk =
            std::max<std::int64_t>(1, (std::int64_t{1} << 24) / std::max<std::int64_t>(d, 1));
        for (std::int64_t m0 = 0; m0 < nnz; m0 += chunk) {
            const std::int64_t m1 = std::min(nnz, m0 + chunk);
            auto g = G.index_select(0, rows.slice(0, m0, m1)) * coef.slice(0, m0, m1).unsqueeze(1);
            grad.index_add_(0, ids.slice(0, m0, m1), g);
        }
        return;
    }
    EVOSCOPE_CHECK_AS(
        InternalError, grad.is_contiguous(), "scatter_outer_add: gradient must be contiguous");
    auto Gc = G.contiguous();
    auto rp = row_ptr.contiguous();
    auto ix = ids.contiguous();
    auto cc = coef.contiguous();
    const float* g = Gc.data_ptr<float>();
    const std::int64_t* r = rp.data_ptr<std::int64_t>();
    const std::int64_t* id = ix.data_ptr<std::int64_t>();
    const float* c = cc.data_ptr<float>();
    float* out = grad.data_ptr<float>();
    // Threads own column slices [j0, j1): every thread walks all entries, writes only its slice.
    const std::int64_t slice = 64;
    const std::int64_t n_slices = (d + slice - 1) / slice;
    at::parallel_for(0, n_slices, 1, [&](std::int64_t s0, std::int64_t s1) {
        const std::int64_t j0 = s0 * slice;
        const std::int64_t j1 = std::min(d, s1 * slice);
        const std::int64_t w = j1 - j0;
        for (std::int64_t n = 0; n < N; ++n) {
            const float* gn = g + n * d + j0;
            for (std::int64_t m = r[n]; m < r[n + 1]; ++m) {
                axpy(w, c[m], gn, out + id[m] * d + j0);
            }
        }
    });
}

}  // namespace evoscope::sae::detail
