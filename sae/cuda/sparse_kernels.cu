/// @file
/// Kernels behind sae/cuda/sparse_kernels.hpp. Layout shared by all three: a warp owns one
/// column tile of 32 * kCols columns (16-byte loads when the shape and pointers allow, else one
/// column per lane), and grid.y walks the column tiles slowest, so the blocks resident at any
/// moment touch one narrow column slice of W_dec / grad_out / grad_W_dec, which stays in L2
/// (for d_sae 32768 a 128-column float32 slice of W_dec is 16 MiB; H100 has 50 MiB of L2).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cuda_bf16.h>

#include "core/error.hpp"
#include "sae/cuda/cuda_check.cuh"
#include "sae/cuda/sparse_kernels.hpp"

namespace evoscope::sae::gpu {

namespace {

constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = 8;
constexpr int kThreadsPerBlock = kWarpSize * kWarpsPerBlock;
constexpr unsigned kFullMask = 0xffffffffu;
// Latent rows whose loads a warp keeps in flight before it uses them (decode, backward values)
// and (n, j) slots per batch in the weight gradient: enough 16-byte loads per lane to cover
// DRAM/L2 latency without spilling.
constexpr int kLoadBatch = 8;
// Sorted (latent, slot) pairs per warp in the weight gradient. Larger chunks mean fewer runs
// split across chunks (atomics) but fewer warps when N * k is small.
constexpr int kPairsPerWarp = 64;
// Column slice of W_dec that the backward-values kernel keeps hot in L2 per tile.
constexpr std::int64_t kL2SliceBytes = std::int64_t{16} << 20;
constexpr std::int64_t kMaxGridX = 2147483647;
constexpr std::int64_t kMaxGridY = 65535;

// ---- loads and stores of kCols consecutive columns as float ---------------------------------

template <int kCols>
__device__ __forceinline__ void load_f32(const float* p, float (&x)[kCols]) {
    if constexpr (kCols % 4 == 0) {
#pragma unroll
        for (int i = 0; i < kCols / 4; ++i) {
            const float4 v = __ldg(reinterpret_cast<const float4*>(p) + i);
            x[4 * i + 0] = v.x;
            x[4 * i + 1] = v.y;
            x[4 * i + 2] = v.z;
            x[4 * i + 3] = v.w;
        }
    } else {
#pragma unroll
        for (int i = 0; i < kCols; ++i) {
            x[i] = __ldg(p + i);
        }
    }
}

// bfloat16 is the top half of a float32, so widening is a shift (exact, no rounding).
__device__ __forceinline__ float bf16_bits_to_float(unsigned bits16) {
    return __uint_as_float(bits16 << 16);
}

template <int kCols>
__device__ __forceinline__ void load_weight(const float* p, float (&x)[kCols]) {
    load_f32<kCols>(p, x);
}

template <int kCols>
__device__ __forceinline__ void load_weight(const __nv_bfloat16* p, float (&x)[kCols]) {
    if constexpr (kCols % 8 == 0) {
#pragma unroll
        for (int i = 0; i < kCols / 8; ++i) {
            const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p) + i);
            const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                x[8 * i + 2 * q + 0] = bf16_bits_to_float(words[q] & 0xffffu);
                x[8 * i + 2 * q + 1] = __uint_as_float(words[q] & 0xffff0000u);
            }
        }
    } else {
        const auto* bits = reinterpret_cast<const unsigned short*>(p);
#pragma unroll
        for (int i = 0; i < kCols; ++i) {
            x[i] = bf16_bits_to_float(__ldg(bits + i));
        }
    }
}

// Evict-first store: the decoded rows are not read again by this kernel, keep L2 for W_dec.
template <int kCols>
__device__ __forceinline__ void store_streaming(float* p, const float (&x)[kCols]) {
    if constexpr (kCols % 4 == 0) {
#pragma unroll
        for (int i = 0; i < kCols / 4; ++i) {
            __stcs(reinterpret_cast<float4*>(p) + i,
                   make_float4(x[4 * i], x[4 * i + 1], x[4 * i + 2], x[4 * i + 3]));
        }
    } else {
#pragma unroll
        for (int i = 0; i < kCols; ++i) {
            __stcs(p + i, x[i]);
        }
    }
}

template <int kCols>
__device__ __forceinline__ void add_in_place(float* p, const float (&x)[kCols]) {
    if constexpr (kCols % 4 == 0) {
#pragma unroll
        for (int i = 0; i < kCols / 4; ++i) {
            float4* q = reinterpret_cast<float4*>(p) + i;
            float4 v = *q;
            v.x += x[4 * i];
            v.y += x[4 * i + 1];
            v.z += x[4 * i + 2];
            v.w += x[4 * i + 3];
            *q = v;
        }
    } else {
#pragma unroll
        for (int i = 0; i < kCols; ++i) {
            p[i] += x[i];
        }
    }
}

template <int kCols>
__device__ __forceinline__ void add_atomic_scalar(float* p, const float (&x)[kCols]) {
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
        atomicAdd(p + i, x[i]);
    }
}

// sm_90 has a 16-byte float atomicAdd (one L2 operation instead of four).
template <int kCols>
__device__ __forceinline__ void add_atomic(float* p, const float (&x)[kCols]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if constexpr (kCols % 4 == 0) {
#pragma unroll
        for (int i = 0; i < kCols / 4; ++i) {
            atomicAdd(reinterpret_cast<float4*>(p) + i,
                      make_float4(x[4 * i], x[4 * i + 1], x[4 * i + 2], x[4 * i + 3]));
        }
    } else {
        add_atomic_scalar<kCols>(p, x);
    }
#else
    add_atomic_scalar<kCols>(p, x);
#endif
}

__device__ __forceinline__ bool valid_latent(std::int64_t latent, std::int64_t d_sae) {
    return latent >= 0 && latent < d_sae;
}

// ---- forward: out[n, :] = b_dec + sum_j val[n, j] * W_dec[idx[n, j], :] ----------------------

// One warp per (token, column tile). The warp compacts the token's valid slots 32 at a time
// into shared memory (keeping slot order, so the float32 sum runs in slot order j = 0..k-1, as
// documented), then gathers kLoadBatch rows per step.
template <typename T, int kCols>
__global__ void __launch_bounds__(kThreadsPerBlock)
    decode_kernel(const T* __restrict__ w_dec,
                  const std::int64_t* __restrict__ idx,
                  const float* __restrict__ val,
                  const float* __restrict__ b_dec,
                  float* __restrict__ out,
                  std::int64_t n_tokens,
                  int k,
                  std::int64_t d_in,
                  std::int64_t d_sae) {
    __shared__ int s_row[kWarpsPerBlock][kWarpSize];
    __shared__ float s_val[kWarpsPerBlock][kWarpSize];
    const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
    const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
    const std::int64_t n = std::int64_t{blockIdx.x} * kWarpsPerBlock + warp;
    if (n >= n_tokens) {
        return;
    }
    const std::int64_t col = std::int64_t{blockIdx.y} * kWarpSize * kCols + lane * kCols;
    const bool in_range = col < d_in;
    const std::int64_t safe_col = in_range ? col : 0;

    float acc[kCols];
    if (b_dec != nullptr && in_range) {
        load_f32<kCols>(b_dec + col, acc);
    } else {
#pragma unroll
        for (int c = 0; c < kCols; ++c) {
            acc[c] = 0.0f;
        }
    }

    const std::int64_t* idx_row = idx + n * k;
    const float* val_row = val + n * k;
    for (int j0 = 0; j0 < k; j0 += kWarpSize) {
        const int j = j0 + lane;
        std::int64_t latent = -1;
        float v = 0.0f;
        if (j < k) {
            latent = idx_row[j];
            v = val_row[j];
        }
        const bool valid = valid_latent(latent, d_sae);
        const unsigned mask = __ballot_sync(kFullMask, valid);
        if (valid) {
            const int rank = __popc(mask & ((1u << lane) - 1u));
            s_row[warp][rank] = static_cast<int>(latent);
            s_val[warp][rank] = v;
        }
        __syncwarp();
        const int count = __popc(mask);
        for (int i = 0; i < count; i += kLoadBatch) {
            float w[kLoadBatch][kCols];
#pragma unroll
            for (int u = 0; u < kLoadBatch; ++u) {
                // Past the end of the batch, reload the first row (already in cache) rather
                // than branch, so all kLoadBatch loads issue back to back.
                const int row = s_row[warp][i + u < count ? i + u : i];
                load_weight<kCols>(w_dec + std::int64_t{row} * d_in + safe_col, w[u]);
            }
#pragma unroll
            for (int u = 0; u < kLoadBatch; ++u) {
                if (i + u < count) {
                    const float vu = s_val[warp][i + u];
#pragma unroll
                    for (int c = 0; c < kCols; ++c) {
                        acc[c] = fmaf(vu, w[u][c], acc[c]);
                    }
                }
            }
        }
        __syncwarp();
    }
    if (in_range) {
        store_streaming<kCols>(out + n * d_in + col, acc);
    }
}

// ---- backward values: grad_val[n, j] = grad_out[n, :] . W_dec[idx[n, j], :] ------------------

// One step of transpose_reduce: a lane keeps the half of its 2 * kHalf values selected by bit
// kHalf of its lane id, sends the other half to lane ^ kHalf and adds what it receives.
template <int kHalf>
__device__ __forceinline__ void transpose_reduce_step(float (&p)[kWarpSize], int lane) {
    const bool upper = (lane & kHalf) != 0;
#pragma unroll
    for (int i = 0; i < kHalf; ++i) {
        const float send = upper ? p[i] : p[i + kHalf];
        const float keep = upper ? p[i + kHalf] : p[i];
        p[i] = keep + __shfl_xor_sync(kFullMask, send, kHalf);
    }
}

// Afterwards lane l holds the warp-wide sum of p[l]: 31 shuffles for 32 sums, instead of
// 5 * 32 with one butterfly per sum.
__device__ __forceinline__ float transpose_reduce(float (&p)[kWarpSize], int lane) {
    transpose_reduce_step<16>(p, lane);
    transpose_reduce_step<8>(p, lane);
    transpose_reduce_step<4>(p, lane);
    transpose_reduce_step<2>(p, lane);
    transpose_reduce_step<1>(p, lane);
    return p[0];
}

// One warp per (token, column tile of n_sub * 32 * kCols columns); writes the tile's partial
// dot for each slot to partial[tile, n, j] (or straight to grad_val when there is one tile).
// grad_out's slice sits in registers; each W_dec row slice is one coalesced 512-byte load.
template <typename T, int kCols>
__global__ void __launch_bounds__(kThreadsPerBlock, 2)
    values_kernel(const float* __restrict__ grad_out,
                  const T* __restrict__ w_dec,
                  const std::int64_t* __restrict__ idx,
                  float* __restrict__ partial,
                  std::int64_t n_tokens,
                  int k,
                  std::int64_t d_in,
                  std::int64_t d_sae,
                  int n_sub) {
    __shared__ int s_row[kWarpsPerBlock][kWarpSize];
    const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
    const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
    const std::int64_t n = std::int64_t{blockIdx.x} * kWarpsPerBlock + warp;
    if (n >= n_tokens) {
        return;
    }
    const std::int64_t tile_cols = std::int64_t{n_sub} * kWarpSize * kCols;
    const std::int64_t tile_begin = std::int64_t{blockIdx.y} * tile_cols;
    const std::int64_t n_pairs = n_tokens * k;
    float* partial_tile = partial + std::int64_t{blockIdx.y} * n_pairs;

    for (int j0 = 0; j0 < k; j0 += kWarpSize) {
        const int j = j0 + lane;
        int row = -1;
        if (j < k) {
            const std::int64_t latent = idx[n * k + j];
            row = valid_latent(latent, d_sae) ? static_cast<int>(latent) : -1;
        }
        s_row[warp][lane] = row;
        __syncwarp();

        float p[kWarpSize];
#pragma unroll
        for (int i = 0; i < kWarpSize; ++i) {
            p[i] = 0.0f;
        }
        for (int s = 0; s < n_sub; ++s) {
            const std::int64_t col =
                tile_begin + std::int64_t{s} * kWarpSize * kCols + lane * kCols;
            const bool in_range = col < d_in;
            const std::int64_t safe_col = in_range ? col : 0;
            float g[kCols];
            load_f32<kCols>(grad_out + n * d_in + safe_col, g);
#pragma unroll
            for (int b = 0; b < kWarpSize; b += kLoadBatch) {
                float w[kLoadBatch][kCols];
#pragma unroll
                for (int u = 0; u < kLoadBatch; ++u) {
                    // Empty slots load row 0 (harmless, cached) and are masked below, so the
                    // batch's loads are not split by branches.
                    const int r = s_row[warp][b + u];
                    load_weight<kCols>(w_dec + std::int64_t{r < 0 ? 0 : r} * d_in + safe_col, w[u]);
                }
#pragma unroll
                for (int u = 0; u < kLoadBatch; ++u) {
                    float d = 0.0f;
#pragma unroll
                    for (int c = 0; c < kCols; ++c) {
                        d = fmaf(g[c], w[u][c], d);
                    }
                    // A select, not a multiply by 0, so inf/NaN in skipped data stays out.
                    p[b + u] += (in_range && s_row[warp][b + u] >= 0) ? d : 0.0f;
                }
            }
        }
        const float sum = transpose_reduce(p, lane);
        if (j < k) {
            partial_tile[n * k + j] = sum;
        }
        __syncwarp();
    }
}

// grad_val[p] = sum over tiles t (in order) of partial[t, p].
__global__ void sum_tiles_kernel(const float* __restrict__ partial,
                                 float* __restrict__ grad_val,
                                 std::int64_t n_pairs,
                                 int n_tiles) {
    const std::int64_t stride = std::int64_t{gridDim.x} * blockDim.x;
    for (std::int64_t p = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; p < n_pairs;
         p += stride) {
        float sum = 0.0f;
        for (int t = 0; t < n_tiles; ++t) {
            sum += partial[std::int64_t{t} * n_pairs + p];
        }
        grad_val[p] = sum;
    }
}

// ---- backward weight: grad_W[idx[n, j], :] += val[n, j] * grad_out[n, :] ---------------------

// Radix-sort keys: the latent, or d_sae (sorts last, ignored) for an empty slot.
__global__ void make_keys_kernel(const std::int64_t* __restrict__ idx,
                                 int* __restrict__ keys,
                                 int* __restrict__ slots,
                                 std::int64_t n_pairs,
                                 std::int64_t d_sae) {
    const std::int64_t stride = std::int64_t{gridDim.x} * blockDim.x;
    for (std::int64_t p = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; p < n_pairs;
         p += stride) {
        const std::int64_t latent = idx[p];
        keys[p] = static_cast<int>(valid_latent(latent, d_sae) ? latent : d_sae);
        slots[p] = static_cast<int>(p);
    }
}

// One warp per (chunk of kPairsPerWarp sorted pairs, column tile). Walking the chunk, a lane
// accumulates val * grad_out[n, its columns] for the current latent and flushes at the end of
// each run. A run lying wholly inside the chunk belongs to this warp alone (plain
// read-add-write); only the first and last run of a chunk can continue into a neighbouring
// chunk, and those flush with atomicAdd.
template <int kCols>
__global__ void __launch_bounds__(kThreadsPerBlock)
    weight_grad_kernel(const float* __restrict__ grad_out,
                       const float* __restrict__ val,
                       const int* __restrict__ keys,
                       const int* __restrict__ slots,
                       float* __restrict__ grad_w,
                       std::int64_t n_pairs,
                       int k,
                       std::int64_t d_in,
                       int sentinel) {
    const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
    const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
    const std::int64_t c0 = (std::int64_t{blockIdx.x} * kWarpsPerBlock + warp) * kPairsPerWarp;
    if (c0 >= n_pairs) {
        return;
    }
    const std::int64_t c1 = c0 + kPairsPerWarp < n_pairs ? c0 + kPairsPerWarp : n_pairs;
    const int first_key = keys[c0];
    if (first_key == sentinel) {
        return;  // empty slots sort last: nothing left for this warp
    }
    const int last_key = keys[c1 - 1];
    const bool first_split = c0 > 0 && keys[c0 - 1] == first_key;
    const bool last_split = c1 < n_pairs && keys[c1] == last_key;

    const std::int64_t col = std::int64_t{blockIdx.y} * kWarpSize * kCols + lane * kCols;
    const bool in_range = col < d_in;
    const std::int64_t safe_col = in_range ? col : 0;

    float acc[kCols];
#pragma unroll
    for (int c = 0; c < kCols; ++c) {
        acc[c] = 0.0f;
    }
    for (std::int64_t base = c0; base < c1; base += kWarpSize) {
        // Lane l describes pair base + l; the loop below broadcasts one pair at a time.
        const std::int64_t e = base + lane;
        int key = sentinel;
        int token = 0;
        float v = 0.0f;
        int run_end = 0;
        if (e < c1) {
            key = keys[e];
            if (key != sentinel) {
                const int slot = slots[e];
                token = slot / k;
                v = val[slot];
                run_end = (e + 1 == c1 || keys[e + 1] != key) ? 1 : 0;
            }
        }
        const int count = static_cast<int>(c1 - base < kWarpSize ? c1 - base : kWarpSize);
        for (int i = 0; i < count; i += kLoadBatch) {
            int key_u[kLoadBatch];
            float v_u[kLoadBatch];
            int end_u[kLoadBatch];
            float g[kLoadBatch][kCols];
#pragma unroll
            for (int u = 0; u < kLoadBatch; ++u) {
                const int src = (i + u) & (kWarpSize - 1);
                key_u[u] = __shfl_sync(kFullMask, key, src);
                v_u[u] = __shfl_sync(kFullMask, v, src);
                end_u[u] = __shfl_sync(kFullMask, run_end, src);
                const int token_u = __shfl_sync(kFullMask, token, src);
                // Token 0 stands in for pairs past the chunk or empty slots: a valid, cached
                // row, so the loads issue unconditionally.
                load_f32<kCols>(grad_out + std::int64_t{token_u} * d_in + safe_col, g[u]);
            }
#pragma unroll
            for (int u = 0; u < kLoadBatch; ++u) {
                if (i + u < count && key_u[u] != sentinel) {
#pragma unroll
                    for (int c = 0; c < kCols; ++c) {
                        acc[c] = fmaf(v_u[u], g[u][c], acc[c]);
                    }
                    if (end_u[u] != 0) {
                        if (in_range) {
                            float* dst = grad_w + std::int64_t{key_u[u]} * d_in + col;
                            const bool split = (key_u[u] == first_key && first_split) ||
                                               (key_u[u] == last_key && last_split);
                            if (split) {
                                add_atomic<kCols>(dst, acc);
                            } else {
                                add_in_place<kCols>(dst, acc);
                            }
                        }
#pragma unroll
                        for (int c = 0; c < kCols; ++c) {
                            acc[c] = 0.0f;
                        }
                    }
                }
            }
        }
    }
}

// ---- host side ------------------------------------------------------------------------------

cudaStream_t as_stream(void* stream) {
    return static_cast<cudaStream_t>(stream);
}

bool aligned16(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

unsigned grid_for(std::int64_t items, int per_block) {
    return static_cast<unsigned>((items + per_block - 1) / per_block);
}

// Grid-stride kernels: enough blocks to fill a large GPU, not one per element.
unsigned elementwise_blocks(std::int64_t items) {
    return static_cast<unsigned>(
        std::clamp<std::int64_t>((items + kThreadsPerBlock - 1) / kThreadsPerBlock, 1, 4096));
}

// {fmt}'s consteval format strings do not compile under nvcc's front end (EDG), so checks in
// this file build their messages by hand, and only on failure.
void append_part(std::string& message, const char* part) {
    message += part;
}

void append_part(std::string& message, std::int64_t part) {
    message += std::to_string(part);
}

template <typename... Parts>
void require(bool cond, const Parts&... parts) {
    if (!cond) {
        std::string message;
        (append_part(message, parts), ...);
        throw InputError(message);
    }
}

void check_sizes(std::int64_t n_tokens, std::int64_t k, std::int64_t d_in, std::int64_t d_sae) {
    require(n_tokens >= 0 && k >= 0 && d_in >= 0,
            "sparse decode: negative size (n_tokens ",
            n_tokens,
            ", k ",
            k,
            ", d_in ",
            d_in,
            ")");
    require(d_sae > 0 && d_sae < std::numeric_limits<int>::max(),
            "sparse decode: d_sae ",
            d_sae,
            " must be in [1, 2^31 - 1)");
    require(k <= std::numeric_limits<int>::max(), "sparse decode: k ", k, " is too large");
    require(n_tokens / kWarpsPerBlock < kMaxGridX,
            "sparse decode: n_tokens ",
            n_tokens,
            " exceeds the grid limit");
}

// Column tile of one warp: 16 bytes per lane when the row length and all base pointers allow.
template <typename... Ptrs>
bool can_vectorize(std::int64_t d_in, int cols, Ptrs... ptrs) {
    return d_in % cols == 0 && (aligned16(ptrs) && ...);
}

void check_grid_y(std::int64_t tiles, const char* what) {
    require(tiles <= kMaxGridY,
            what,
            ": d_in needs ",
            tiles,
            " column tiles, more than the grid allows (",
            kMaxGridY,
            ")");
}

template <typename T, int kCols>
void launch_decode(const T* w,
                   const std::int64_t* idx,
                   const float* val,
                   const float* b_dec,
                   float* out,
                   std::int64_t n_tokens,
                   std::int64_t k,
                   std::int64_t d_in,
                   std::int64_t d_sae,
                   cudaStream_t stream) {
    const std::int64_t tiles = (d_in + kWarpSize * kCols - 1) / (kWarpSize * kCols);
    check_grid_y(tiles, "sparse_decode");
    const dim3 grid(grid_for(n_tokens, kWarpsPerBlock), static_cast<unsigned>(tiles));
    decode_kernel<T, kCols><<<grid, kThreadsPerBlock, 0, stream>>>(
        w, idx, val, b_dec, out, n_tokens, static_cast<int>(k), d_in, d_sae);
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void decode_typed(const T* w,
                  const std::int64_t* idx,
                  const float* val,
                  const float* b_dec,
                  float* out,
                  std::int64_t n_tokens,
                  std::int64_t k,
                  std::int64_t d_in,
                  std::int64_t d_sae,
                  cudaStream_t stream) {
    constexpr int kVec = 16 / sizeof(T);
    const bool bias_ok = b_dec == nullptr || aligned16(b_dec);
    if (bias_ok && can_vectorize(d_in, kVec, w, out)) {
        launch_decode<T, kVec>(w, idx, val, b_dec, out, n_tokens, k, d_in, d_sae, stream);
    } else {
        launch_decode<T, 1>(w, idx, val, b_dec, out, n_tokens, k, d_in, d_sae, stream);
    }
}

// Holds stream-ordered device memory; frees it on the same stream, also when unwinding.
class StreamBuffer {
public:
    StreamBuffer(std::size_t size_bytes, cudaStream_t stream) : stream_(stream) {
        if (size_bytes > 0) {
            EVOSCOPE_CUDA_CHECK(cudaMallocAsync(&ptr_, size_bytes, stream_));
        }
    }

    StreamBuffer(const StreamBuffer&) = delete;
    StreamBuffer& operator=(const StreamBuffer&) = delete;

    ~StreamBuffer() {
        if (ptr_ != nullptr) {
            (void)cudaFreeAsync(ptr_, stream_);
        }
    }

    char* bytes() const { return static_cast<char*>(ptr_); }

private:
    void* ptr_ = nullptr;
    cudaStream_t stream_;
};

std::size_t round_up_256(std::size_t n) {
    return (n + 255) / 256 * 256;
}

template <typename T, int kCols>
void launch_values(const float* grad_out,
                   const T* w,
                   const std::int64_t* idx,
                   float* grad_val,
                   std::int64_t n_tokens,
                   std::int64_t k,
                   std::int64_t d_in,
                   std::int64_t d_sae,
                   cudaStream_t stream) {
    const std::int64_t warp_cols = kWarpSize * kCols;
    const std::int64_t col_groups = (d_in + warp_cols - 1) / warp_cols;
    // Widest tile whose W_dec slice (d_sae rows) fits the L2 budget, at least one warp wide.
    const std::int64_t fit =
        kL2SliceBytes / (d_sae * static_cast<std::int64_t>(sizeof(T)) * warp_cols);
    const std::int64_t n_sub =
        std::clamp<std::int64_t>(fit, 1, std::max<std::int64_t>(col_groups, 1));
    const std::int64_t n_tiles = (col_groups + n_sub - 1) / n_sub;
    check_grid_y(n_tiles, "sparse_decode_backward_values");
    const std::int64_t n_pairs = n_tokens * k;

    StreamBuffer partial(
        n_tiles > 1 ? static_cast<std::size_t>(n_tiles * n_pairs) * sizeof(float) : 0, stream);
    float* dst = n_tiles > 1 ? reinterpret_cast<float*>(partial.bytes()) : grad_val;
    const dim3 grid(grid_for(n_tokens, kWarpsPerBlock), static_cast<unsigned>(n_tiles));
    values_kernel<T, kCols><<<grid, kThreadsPerBlock, 0, stream>>>(
        grad_out, w, idx, dst, n_tokens, static_cast<int>(k), d_in, d_sae, static_cast<int>(n_sub));
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());
    if (n_tiles > 1) {
        sum_tiles_kernel<<<elementwise_blocks(n_pairs), kThreadsPerBlock, 0, stream>>>(
            dst, grad_val, n_pairs, static_cast<int>(n_tiles));
        EVOSCOPE_CUDA_CHECK(cudaGetLastError());
    }
}

template <typename T>
void values_typed(const float* grad_out,
                  const T* w,
                  const std::int64_t* idx,
                  float* grad_val,
                  std::int64_t n_tokens,
                  std::int64_t k,
                  std::int64_t d_in,
                  std::int64_t d_sae,
                  cudaStream_t stream) {
    constexpr int kVec = 16 / sizeof(T);
    if (can_vectorize(d_in, kVec, w, grad_out)) {
        launch_values<T, kVec>(grad_out, w, idx, grad_val, n_tokens, k, d_in, d_sae, stream);
    } else {
        launch_values<T, 1>(grad_out, w, idx, grad_val, n_tokens, k, d_in, d_sae, stream);
    }
}

template <int kCols>
void launch_weight_grad(const float* grad_out,
                        const float* val,
                        const int* keys,
                        const int* slots,
                        float* grad_w,
                        std::int64_t n_pairs,
                        std::int64_t k,
                        std::int64_t d_in,
                        std::int64_t d_sae,
                        cudaStream_t stream) {
    const std::int64_t tiles = (d_in + kWarpSize * kCols - 1) / (kWarpSize * kCols);
    check_grid_y(tiles, "sparse_decode_backward_weight");
    const dim3 grid(grid_for(n_pairs, kWarpsPerBlock * kPairsPerWarp),
                    static_cast<unsigned>(tiles));
    weight_grad_kernel<kCols><<<grid, kThreadsPerBlock, 0, stream>>>(grad_out,
                                                                     val,
                                                                     keys,
                                                                     slots,
                                                                     grad_w,
                                                                     n_pairs,
                                                                     static_cast<int>(k),
                                                                     d_in,
                                                                     static_cast<int>(d_sae));
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

bool cuda_kernels_available() noexcept {
    int n_devices = 0;
    if (cudaGetDeviceCount(&n_devices) != cudaSuccess) {
        (void)cudaGetLastError();  // clear it, so the next CUDA call does not report it
        return false;
    }
    return n_devices > 0;
}

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
                   void* stream) {
    check_sizes(n_tokens, k, d_in, d_sae);
    if (n_tokens == 0 || d_in == 0) {
        return;
    }
    require(out != nullptr && (k == 0 || (w_dec && idx && val)),
            "sparse_decode: null device pointer");
    switch (dtype) {
        case WeightDtype::Float32:
            decode_typed(static_cast<const float*>(w_dec),
                         idx,
                         val,
                         b_dec,
                         out,
                         n_tokens,
                         k,
                         d_in,
                         d_sae,
                         as_stream(stream));
            return;
        case WeightDtype::BFloat16:
            decode_typed(static_cast<const __nv_bfloat16*>(w_dec),
                         idx,
                         val,
                         b_dec,
                         out,
                         n_tokens,
                         k,
                         d_in,
                         d_sae,
                         as_stream(stream));
            return;
    }
    require(false, "sparse_decode: unknown weight dtype ", std::int64_t{static_cast<int>(dtype)});
}

void sparse_decode_backward_weight(const float* grad_out,
                                   const std::int64_t* idx,
                                   const float* val,
                                   float* grad_w_dec,
                                   std::int64_t n_tokens,
                                   std::int64_t k,
                                   std::int64_t d_in,
                                   std::int64_t d_sae,
                                   void* stream) {
    check_sizes(n_tokens, k, d_in, d_sae);
    const std::int64_t n_pairs = n_tokens * k;
    if (n_pairs == 0 || d_in == 0) {
        return;
    }
    require(n_pairs < std::numeric_limits<int>::max(),
            "sparse_decode_backward_weight: n_tokens * k = ",
            n_pairs,
            " must stay below 2^31");
    require(grad_out && idx && val && grad_w_dec,
            "sparse_decode_backward_weight: null device pointer");
    const cudaStream_t s = as_stream(stream);
    const int n_items = static_cast<int>(n_pairs);
    // Sort only the bits a key can use (latents and the sentinel d_sae): 16 bits, two 8-bit
    // passes, for d_sae 32768.
    int end_bit = 0;
    while (end_bit < 31 && (std::int64_t{1} << end_bit) <= d_sae) {
        ++end_bit;
    }

    std::size_t sort_bytes = 0;
    EVOSCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr,
                                                        sort_bytes,
                                                        static_cast<const int*>(nullptr),
                                                        static_cast<int*>(nullptr),
                                                        static_cast<const int*>(nullptr),
                                                        static_cast<int*>(nullptr),
                                                        n_items,
                                                        0,
                                                        end_bit,
                                                        s));
    const std::size_t array_bytes = round_up_256(static_cast<std::size_t>(n_pairs) * sizeof(int));
    StreamBuffer workspace(4 * array_bytes + sort_bytes, s);
    int* keys_in = reinterpret_cast<int*>(workspace.bytes());
    int* slots_in = reinterpret_cast<int*>(workspace.bytes() + array_bytes);
    int* keys = reinterpret_cast<int*>(workspace.bytes() + 2 * array_bytes);
    int* slots = reinterpret_cast<int*>(workspace.bytes() + 3 * array_bytes);
    void* sort_temp = workspace.bytes() + 4 * array_bytes;

    make_keys_kernel<<<elementwise_blocks(n_pairs), kThreadsPerBlock, 0, s>>>(
        idx, keys_in, slots_in, n_pairs, d_sae);
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());
    // Radix sort is stable: within a latent, slots stay in (n, j) order, so the float32 sums
    // of runs inside one chunk are reproducible.
    EVOSCOPE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        sort_temp, sort_bytes, keys_in, keys, slots_in, slots, n_items, 0, end_bit, s));
    if (can_vectorize(d_in, 4, grad_out, grad_w_dec)) {
        launch_weight_grad<4>(grad_out, val, keys, slots, grad_w_dec, n_pairs, k, d_in, d_sae, s);
    } else {
        launch_weight_grad<1>(grad_out, val, keys, slots, grad_w_dec, n_pairs, k, d_in, d_sae, s);
    }
}

void sparse_decode_backward_values(const float* grad_out,
                                   const void* w_dec,
                                   WeightDtype dtype,
                                   const std::int64_t* idx,
                                   float* grad_val,
                                   std::int64_t n_tokens,
                                   std::int64_t k,
                                   std::int64_t d_in,
                                   std::int64_t d_sae,
                                   void* stream) {
    check_sizes(n_tokens, k, d_in, d_sae);
    const std::int64_t n_pairs = n_tokens * k;
    if (n_pairs == 0) {
        return;
    }
    require(grad_val && idx && (d_in == 0 || (grad_out && w_dec)),
            "sparse_decode_backward_values: null device pointer");
    const cudaStream_t s = as_stream(stream);
    if (d_in == 0) {
        EVOSCOPE_CUDA_CHECK(
            cudaMemsetAsync(grad_val, 0, static_cast<std::size_t>(n_pairs) * sizeof(float), s));
        return;
    }
    switch (dtype) {
        case WeightDtype::Float32:
            values_typed(grad_out,
                         static_cast<const float*>(w_dec),
                         idx,
                         grad_val,
                         n_tokens,
                         k,
                         d_in,
                         d_sae,
                         s);
            return;
        case WeightDtype::BFloat16:
            values_typed(grad_out,
                         static_cast<const __nv_bfloat16*>(w_dec),
                         idx,
                         grad_val,
                         n_tokens,
                         k,
                         d_in,
                         d_sae,
                         s);
            return;
    }
    require(false,
            "sparse_decode_backward_values: unknown weight dtype ",
            std::int64_t{static_cast<int>(dtype)});
}

}  // namespace evoscope::sae::gpu
