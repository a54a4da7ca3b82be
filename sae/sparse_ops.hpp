/// @file
/// The sparse kernels of the SAE engine, on CSR codes (row_ptr [N+1] int64, ids [nnz] int64,
/// values [nnz] float32): decoding by gathering the active rows of W_dec, the gradient of the
/// code values (a gather-dot), and the scatter of outer products into a weight gradient. On the
/// CPU they are plain loops over raw pointers split across libtorch's intra-op threads (rows for
/// the gathers, column slices for the scatter, so threads never write the same element); on
/// other devices they fall back to embedding_bag / index ops (and, when built with
/// EVOSCOPE_HAVE_CUDA_KERNELS, the kernels in sae/cuda/ for fixed-width codes).
/// Internal to sae/ (used by sae.cpp, sae_trainer.cpp and the benchmark).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace evoscope::sae::detail {

/// out[n] = bias + Σ_{m in row n} values[m] · W[ids[m]].  W [n_latents, d] fp32.
/// @return [N, d] (bias undefined: no bias)
at::Tensor sparse_decode(const at::Tensor& W,
                         const at::Tensor& row_ptr,
                         const at::Tensor& ids,
                         const at::Tensor& values,
                         const at::Tensor& bias);

/// out[m] = G[row(m)] · W[ids[m]] for every entry m.  G [N, d]. @return [nnz]
at::Tensor gather_dot(const at::Tensor& G,
                      const at::Tensor& W,
                      const at::Tensor& row_ptr,
                      const at::Tensor& ids);

/// grad[ids[m]] += coef[m] · G[row(m)] for every entry m (grad [n_latents, d], in place).
void scatter_outer_add(at::Tensor& grad,
                       const at::Tensor& G,
                       const at::Tensor& row_ptr,
                       const at::Tensor& ids,
                       const at::Tensor& coef);

/// The row of each entry: [nnz] int64 from row_ptr.
at::Tensor rows_of_entries(const at::Tensor& row_ptr, std::int64_t nnz);

}  // namespace evoscope::sae::detail
