/// @file
/// CUDA kernels for the sparse SAE decoder (TopK / BatchTopK): the forward gather-sum and the
/// two backward products, without materialising the dense [n_tokens, d_sae] latent matrix.
/// Plain C++ API: device pointers are ordinary pointers (W_dec as `const void*`, its element
/// type given by WeightDtype), streams are `void*` (a cudaStream_t; nullptr is the legacy
/// default stream), so this header needs neither CUDA nor torch. Every call only enqueues work
/// on `stream` (plus stream-ordered workspace allocation); nothing synchronises the host.
/// Shapes are row-major and contiguous; indices are int64. Slots of `idx` holding -1 (or
/// anything outside [0, d_sae)) are "no latent" and are skipped.
#pragma once

#include <cstdint>

namespace evoscope::sae::gpu {

/// Element type of the decoder weight W_dec. Activations, values and gradients are float32.
enum class WeightDtype { Float32, BFloat16 };

/// Whether a CUDA device is visible to this process (cudaGetDeviceCount > 0). Never throws: a
/// missing driver or an error from the runtime count as "no device".
bool cuda_kernels_available() noexcept;

/// Sparse decode: out[n, :] = b_dec + sum_j val[n, j] * W_dec[idx[n, j], :], accumulated in
/// float32 in slot order j = 0..k-1 (skipped slots contribute nothing).
/// @param w_dec   [d_sae, d_in], `dtype`, device
/// @param idx     [n_tokens, k], int64, device; -1 (or out of range) = empty slot
/// @param val     [n_tokens, k], float32, device
/// @param b_dec   [d_in], float32, device, or nullptr for no bias
/// @param out     [n_tokens, d_in], float32, device; overwritten
/// @param stream  cudaStream_t or nullptr
/// @throws InputError for negative sizes, null pointers or sizes beyond the kernels' grid
///         limits; DeviceError for CUDA failures (including earlier asynchronous ones)
void sparse_decode(const void* w_dec,
                   WeightDtype dtype,
                   const std::int64_t* idx,
                   const float* val,
                   const float* b_dec,
                   float* out,
                   std::int64_t n_tokens,
                   std::int64_t k,
                   std::int64_t d_in,
                   std::int64_t d_sae,
                   void* stream);

/// Gradient of the decode with respect to W_dec, accumulated:
/// grad_w_dec[idx[n, j], :] += val[n, j] * grad_out[n, :].
/// Sorts the (n, j) slots by latent (CUB radix sort) and reduces each latent's run without
/// atomics; only runs split between two work chunks meet with atomicAdd, so the last bits of a
/// heavily used latent's row may differ between runs. Allocates about 16 * n_tokens * k bytes
/// of stream-ordered workspace (cudaMallocAsync) and frees it on the same stream; a caller that
/// calls it often should raise cudaMemPoolAttrReleaseThreshold of the device's default memory
/// pool, so that the memory is not returned to the driver at every synchronisation.
/// @param grad_out    [n_tokens, d_in], float32, device
/// @param idx         [n_tokens, k], int64, device
/// @param val         [n_tokens, k], float32, device
/// @param grad_w_dec  [d_sae, d_in], float32, device; added to, never zeroed
/// @throws InputError as sparse_decode, and when n_tokens * k or d_sae reach 2^31;
///         DeviceError for CUDA failures
void sparse_decode_backward_weight(const float* grad_out,
                                   const std::int64_t* idx,
                                   const float* val,
                                   float* grad_w_dec,
                                   std::int64_t n_tokens,
                                   std::int64_t k,
                                   std::int64_t d_in,
                                   std::int64_t d_sae,
                                   void* stream);

/// Gradient of the decode with respect to the values (a batched gather-dot):
/// grad_val[n, j] = grad_out[n, :] . W_dec[idx[n, j], :], and 0 for an empty slot.
/// Works in column tiles sized so that a tile of W_dec stays in L2; the per-tile partial dots
/// are summed in a fixed order (deterministic). May allocate n_tiles * n_tokens * k * 4 bytes
/// of stream-ordered workspace.
/// @param grad_out  [n_tokens, d_in], float32, device
/// @param w_dec     [d_sae, d_in], `dtype`, device
/// @param idx       [n_tokens, k], int64, device
/// @param grad_val  [n_tokens, k], float32, device; overwritten
/// @throws InputError as sparse_decode; DeviceError for CUDA failures
void sparse_decode_backward_values(const float* grad_out,
                                   const void* w_dec,
                                   WeightDtype dtype,
                                   const std::int64_t* idx,
                                   float* grad_val,
                                   std::int64_t n_tokens,
                                   std::int64_t k,
                                   std::int64_t d_in,
                                   std::int64_t d_sae,
                                   void* stream);

}  // namespace evoscope::sae::gpu
