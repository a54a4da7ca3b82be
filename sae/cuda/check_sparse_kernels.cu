/// @file
/// Standalone GPU check of sae/cuda/sparse_kernels: runs each kernel on random inputs (small
/// edge-case shapes, then the target shape n_tokens 8192, k 64, d_in 4096, d_sae 32768),
/// compares with a double-precision CPU reference, and times the target shape next to cuBLAS
/// GEMMs of the dense equivalents. Exit codes: 0 pass, 1 mismatch or error, 77 no CUDA device
/// (CTest SKIP_RETURN_CODE). `--quick` skips the target shape.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cuda_runtime.h>

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "core/error.hpp"
#include "sae/cuda/cuda_check.cuh"
#include "sae/cuda/sparse_kernels.hpp"

namespace {

namespace gpu = evoscope::sae::gpu;
using gpu::WeightDtype;

constexpr int kExitSkipped = 77;
// Pass when |gpu - ref| <= tol * sum_i |term_i| for every element (ref in double). Float32
// accumulation of a few thousand terms stays far below 1e-4 of the absolute sum. The bfloat16
// reference widens the very same bf16 weights, so there too only the float32 summation order
// differs and the same bound applies; the bf16-vs-float32-weights difference is a property
// of the model, not of the kernels, and is not tested here.
constexpr double kRelTolF32 = 1e-4;
constexpr double kRelTolBf16 = 1e-4;

#define CHECK_CUBLAS(expr)                                                                   \
    do {                                                                                     \
        const cublasStatus_t check_cublas_status_ = (expr);                                  \
        if (check_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                 \
            throw evoscope::DeviceError(                                                     \
                std::string("cuBLAS error ") + cublasGetStatusString(check_cublas_status_) + \
                " in '" #expr "' at " + __FILE__ + ":" + std::to_string(__LINE__));          \
        }                                                                                    \
    } while (0)

// ---- host helpers -------------------------------------------------------------------------

// splitmix64: fast, seedable, good enough for test data.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    /// Uniform in [0, 1).
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(uniform()); }

private:
    std::uint64_t state_;
};

std::uint16_t float_to_bf16_bits(float f) {
    std::uint32_t u = 0;
    std::memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (test data has no NaN)
    return static_cast<std::uint16_t>(u >> 16);
}

float bf16_bits_to_float(std::uint16_t bits) {
    const std::uint32_t u = std::uint32_t{bits} << 16;
    float f = 0.0f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Device allocation that frees itself.
class DeviceBuffer {
public:
    DeviceBuffer() = default;

    explicit DeviceBuffer(std::size_t size_bytes) {
        if (size_bytes > 0) {
            EVOSCOPE_CUDA_CHECK(cudaMalloc(&ptr_, size_bytes));
        }
    }

    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_) { other.ptr_ = nullptr; }

    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        std::swap(ptr_, other.ptr_);
        return *this;
    }

    ~DeviceBuffer() {
        if (ptr_ != nullptr) {
            (void)cudaFree(ptr_);
        }
    }

    template <typename T>
    T* as(std::size_t offset_elements = 0) const {
        return static_cast<T*>(ptr_) + offset_elements;
    }

private:
    void* ptr_ = nullptr;
};

template <typename T>
void upload(T* dst, const std::vector<T>& src) {
    EVOSCOPE_CUDA_CHECK(
        cudaMemcpy(dst, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice));
}

template <typename T>
std::vector<T> download(const T* src, std::size_t n) {
    std::vector<T> out(n);
    EVOSCOPE_CUDA_CHECK(cudaMemcpy(out.data(), src, n * sizeof(T), cudaMemcpyDeviceToHost));
    return out;
}

// ---- test data ----------------------------------------------------------------------------

struct Shape {
    std::int64_t n_tokens;
    std::int64_t k;
    std::int64_t d_in;
    std::int64_t d_sae;
};

struct Case {
    const char* name;
    Shape shape;
    double empty_frac;  // share of slots set to -1 (or, one in ten of those, to d_sae + 3)
    double hot_frac;    // share of slots on one hot latent (long runs across many chunks)
    bool bias;
    bool misalign;  // offset W_dec, out, grad_out by one element: forces the scalar path
    bool distinct;  // distinct latents within a token, as TopK produces
};

struct HostData {
    Shape shape;
    std::vector<std::int64_t> idx;
    std::vector<float> val;
    std::vector<float> w;               // float32 weights as generated
    std::vector<std::uint16_t> w_bf16;  // the same, rounded to bfloat16
    std::vector<float> b_dec;
    std::vector<float> grad_out;
    std::vector<float> grad_w_init;
};

bool slot_valid(std::int64_t latent, std::int64_t d_sae) {
    return latent >= 0 && latent < d_sae;
}

HostData make_data(const Case& c, std::uint64_t seed) {
    const Shape& s = c.shape;
    Rng rng(seed);
    HostData d;
    d.shape = s;
    const auto n_pairs = static_cast<std::size_t>(s.n_tokens * s.k);
    d.idx.resize(n_pairs);
    d.val.resize(n_pairs);
    const std::int64_t hot = 7 % s.d_sae;
    std::vector<std::int64_t> row;
    for (std::int64_t n = 0; n < s.n_tokens; ++n) {
        row.clear();
        for (std::int64_t j = 0; j < s.k; ++j) {
            std::int64_t latent = 0;
            for (int attempt = 0; attempt < 64; ++attempt) {
                const double u = rng.uniform();
                if (u < c.empty_frac) {
                    latent = rng.uniform() < 0.1 ? s.d_sae + 3 : -1;
                } else if (u < c.empty_frac + c.hot_frac) {
                    latent = hot;
                } else {
                    // Skewed towards low ids, like latent frequencies in a trained SAE.
                    const double v = rng.uniform();
                    latent = std::min<std::int64_t>(
                        static_cast<std::int64_t>(v * v * static_cast<double>(s.d_sae)),
                        s.d_sae - 1);
                }
                const bool repeat = std::find(row.begin(), row.end(), latent) != row.end();
                if (!c.distinct || !slot_valid(latent, s.d_sae) || !repeat) {
                    break;
                }
            }
            row.push_back(latent);
            d.idx[static_cast<std::size_t>(n * s.k + j)] = latent;
            d.val[static_cast<std::size_t>(n * s.k + j)] = rng.uniform(0.0f, 2.0f);
        }
    }
    const auto w_size = static_cast<std::size_t>(s.d_sae * s.d_in);
    d.w.resize(w_size);
    d.w_bf16.resize(w_size);
    for (std::size_t i = 0; i < w_size; ++i) {
        d.w[i] = rng.uniform(-1.0f, 1.0f);
        d.w_bf16[i] = float_to_bf16_bits(d.w[i]);
    }
    d.b_dec.resize(static_cast<std::size_t>(s.d_in));
    for (float& x : d.b_dec) {
        x = rng.uniform(-0.5f, 0.5f);
    }
    d.grad_out.resize(static_cast<std::size_t>(s.n_tokens * s.d_in));
    for (float& x : d.grad_out) {
        x = rng.uniform(-1.0f, 1.0f);
    }
    d.grad_w_init.resize(w_size);
    for (float& x : d.grad_w_init) {
        x = rng.uniform(-1.0f, 1.0f);
    }
    return d;
}

// ---- comparison ---------------------------------------------------------------------------

struct Tally {
    double worst = 0.0;  // max |gpu - ref| / sum |terms|
    std::string where;
    std::int64_t n_checked = 0;

    void add(double gpu_value, double ref, double magnitude, const std::string& at) {
        ++n_checked;
        const double err = std::fabs(gpu_value - ref);
        const double rel = err == 0.0 ? 0.0 : err / std::max(magnitude, 1e-30);
        if (!(rel <= worst)) {  // also catches NaN
            worst = std::isnan(rel) ? INFINITY : rel;
            where = at + " gpu " + std::to_string(gpu_value) + " ref " + std::to_string(ref);
        }
    }
};

bool report(const std::string& what, const Tally& t, double tol) {
    const bool ok = t.worst <= tol;
    std::printf("  %-44s %s  max rel err %.2e (tol %.0e, %lld values)%s%s\n",
                what.c_str(),
                ok ? "ok  " : "FAIL",
                t.worst,
                tol,
                static_cast<long long>(t.n_checked),
                ok ? "" : " at ",
                ok ? "" : t.where.c_str());
    return ok;
}

// ---- one case -----------------------------------------------------------------------------

struct Selection {
    std::vector<std::int64_t> tokens;   // rows of out / grad_val to check
    std::vector<std::int64_t> latents;  // rows of grad_W_dec to check
};

Selection select_all(const Shape& s) {
    Selection sel;
    for (std::int64_t n = 0; n < s.n_tokens; ++n) {
        sel.tokens.push_back(n);
    }
    for (std::int64_t l = 0; l < s.d_sae; ++l) {
        sel.latents.push_back(l);
    }
    return sel;
}

// A sample for the target shape: first/last tokens and random ones; the most used latents
// (long runs split across chunks), random latents (some unused) and the last latent.
Selection select_sample(const HostData& d, std::uint64_t seed) {
    const Shape& s = d.shape;
    Rng rng(seed);
    Selection sel;
    sel.tokens = {0, s.n_tokens - 1};
    for (int i = 0; i < 254; ++i) {
        sel.tokens.push_back(
            static_cast<std::int64_t>(rng.uniform() * static_cast<double>(s.n_tokens)));
    }
    std::vector<std::int64_t> counts(static_cast<std::size_t>(s.d_sae), 0);
    for (const std::int64_t l : d.idx) {
        if (slot_valid(l, s.d_sae)) {
            ++counts[static_cast<std::size_t>(l)];
        }
    }
    std::vector<std::int64_t> order(counts.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = static_cast<std::int64_t>(i);
    }
    std::partial_sort(
        order.begin(), order.begin() + 8, order.end(), [&](std::int64_t a, std::int64_t b) {
            return counts[static_cast<std::size_t>(a)] > counts[static_cast<std::size_t>(b)];
        });
    sel.latents.assign(order.begin(), order.begin() + 8);
    for (int i = 0; i < 56; ++i) {
        sel.latents.push_back(
            static_cast<std::int64_t>(rng.uniform() * static_cast<double>(s.d_sae)));
    }
    sel.latents.push_back(s.d_sae - 1);
    return sel;
}

struct DeviceData {
    DeviceBuffer idx, val, w, b_dec, grad_out, out, grad_w, grad_val;
    std::int64_t offset = 0;  // elements of misalignment applied to w, out, grad_out
};

DeviceData upload_data(const HostData& d, WeightDtype dtype, bool misalign) {
    const Shape& s = d.shape;
    const auto n_pairs = static_cast<std::size_t>(s.n_tokens * s.k);
    const auto w_size = static_cast<std::size_t>(s.d_sae * s.d_in);
    const auto io_size = static_cast<std::size_t>(s.n_tokens * s.d_in);
    const std::size_t w_elem =
        dtype == WeightDtype::Float32 ? sizeof(float) : sizeof(std::uint16_t);
    DeviceData g;
    g.offset = misalign ? 1 : 0;
    const auto off = static_cast<std::size_t>(g.offset);
    g.idx = DeviceBuffer(n_pairs * sizeof(std::int64_t));
    g.val = DeviceBuffer(n_pairs * sizeof(float));
    g.w = DeviceBuffer((w_size + off) * w_elem);
    g.b_dec = DeviceBuffer(static_cast<std::size_t>(s.d_in) * sizeof(float));
    g.grad_out = DeviceBuffer((io_size + off) * sizeof(float));
    g.out = DeviceBuffer((io_size + off) * sizeof(float));
    g.grad_w = DeviceBuffer(w_size * sizeof(float));
    g.grad_val = DeviceBuffer(n_pairs * sizeof(float));
    upload(g.idx.as<std::int64_t>(), d.idx);
    upload(g.val.as<float>(), d.val);
    if (dtype == WeightDtype::Float32) {
        upload(g.w.as<float>(off), d.w);
    } else {
        upload(g.w.as<std::uint16_t>(off), d.w_bf16);
    }
    upload(g.b_dec.as<float>(), d.b_dec);
    upload(g.grad_out.as<float>(off), d.grad_out);
    upload(g.grad_w.as<float>(), d.grad_w_init);
    return g;
}

const void* weight_ptr(const DeviceData& g, WeightDtype dtype) {
    const auto off = static_cast<std::size_t>(g.offset);
    return dtype == WeightDtype::Float32 ? static_cast<const void*>(g.w.as<float>(off))
                                         : static_cast<const void*>(g.w.as<std::uint16_t>(off));
}

bool run_case(const Case& c,
              const HostData& d,
              WeightDtype dtype,
              const Selection& sel,
              cudaStream_t stream) {
    const Shape& s = d.shape;
    const bool bf16 = dtype == WeightDtype::BFloat16;
    const double tol = bf16 ? kRelTolBf16 : kRelTolF32;
    std::printf("%s, %s weights (n_tokens %lld, k %lld, d_in %lld, d_sae %lld)\n",
                c.name,
                bf16 ? "bfloat16" : "float32",
                static_cast<long long>(s.n_tokens),
                static_cast<long long>(s.k),
                static_cast<long long>(s.d_in),
                static_cast<long long>(s.d_sae));
    const DeviceData g = upload_data(d, dtype, c.misalign);
    const auto off = static_cast<std::size_t>(g.offset);
    void* st = stream;

    gpu::sparse_decode(weight_ptr(g, dtype),
                       dtype,
                       g.idx.as<std::int64_t>(),
                       g.val.as<float>(),
                       c.bias ? g.b_dec.as<float>() : nullptr,
                       g.out.as<float>(off),
                       s.n_tokens,
                       s.k,
                       s.d_in,
                       s.d_sae,
                       st);
    gpu::sparse_decode_backward_weight(g.grad_out.as<float>(off),
                                       g.idx.as<std::int64_t>(),
                                       g.val.as<float>(),
                                       g.grad_w.as<float>(),
                                       s.n_tokens,
                                       s.k,
                                       s.d_in,
                                       s.d_sae,
                                       st);
    gpu::sparse_decode_backward_values(g.grad_out.as<float>(off),
                                       weight_ptr(g, dtype),
                                       dtype,
                                       g.idx.as<std::int64_t>(),
                                       g.grad_val.as<float>(),
                                       s.n_tokens,
                                       s.k,
                                       s.d_in,
                                       s.d_sae,
                                       st);
    EVOSCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));

    const auto w_at = [&](std::int64_t latent, std::int64_t col) -> double {
        const auto i = static_cast<std::size_t>(latent * s.d_in + col);
        return bf16 ? bf16_bits_to_float(d.w_bf16[i]) : d.w[i];
    };
    const auto at = [](const char* what, std::int64_t a, std::int64_t b) {
        return std::string(what) + "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
    };

    const std::vector<float> out =
        download(g.out.as<float>(off), static_cast<std::size_t>(s.n_tokens * s.d_in));
    Tally t_out;
    for (const std::int64_t n : sel.tokens) {
        for (std::int64_t col = 0; col < s.d_in; ++col) {
            double ref = c.bias ? d.b_dec[static_cast<std::size_t>(col)] : 0.0;
            double mag = std::fabs(ref);
            for (std::int64_t j = 0; j < s.k; ++j) {
                const std::int64_t l = d.idx[static_cast<std::size_t>(n * s.k + j)];
                if (slot_valid(l, s.d_sae)) {
                    const double term = d.val[static_cast<std::size_t>(n * s.k + j)] * w_at(l, col);
                    ref += term;
                    mag += std::fabs(term);
                }
            }
            t_out.add(out[static_cast<std::size_t>(n * s.d_in + col)], ref, mag, at("out", n, col));
        }
    }

    const std::vector<float> grad_val =
        download(g.grad_val.as<float>(), static_cast<std::size_t>(s.n_tokens * s.k));
    Tally t_val;
    for (const std::int64_t n : sel.tokens) {
        for (std::int64_t j = 0; j < s.k; ++j) {
            const std::int64_t l = d.idx[static_cast<std::size_t>(n * s.k + j)];
            double ref = 0.0;
            double mag = 0.0;
            if (slot_valid(l, s.d_sae)) {
                for (std::int64_t col = 0; col < s.d_in; ++col) {
                    const double term =
                        d.grad_out[static_cast<std::size_t>(n * s.d_in + col)] * w_at(l, col);
                    ref += term;
                    mag += std::fabs(term);
                }
            }
            t_val.add(
                grad_val[static_cast<std::size_t>(n * s.k + j)], ref, mag, at("grad_val", n, j));
        }
    }

    // Pairs of each latent, for the weight-gradient reference.
    std::vector<std::vector<std::int64_t>> pairs_of(static_cast<std::size_t>(s.d_sae));
    for (std::int64_t p = 0; p < s.n_tokens * s.k; ++p) {
        const std::int64_t l = d.idx[static_cast<std::size_t>(p)];
        if (slot_valid(l, s.d_sae)) {
            pairs_of[static_cast<std::size_t>(l)].push_back(p);
        }
    }
    Tally t_w;
    std::vector<float> grad_row(static_cast<std::size_t>(s.d_in));
    for (const std::int64_t l : sel.latents) {
        EVOSCOPE_CUDA_CHECK(cudaMemcpy(grad_row.data(),
                                       g.grad_w.as<float>(static_cast<std::size_t>(l * s.d_in)),
                                       grad_row.size() * sizeof(float),
                                       cudaMemcpyDeviceToHost));
        for (std::int64_t col = 0; col < s.d_in; ++col) {
            double ref = d.grad_w_init[static_cast<std::size_t>(l * s.d_in + col)];
            double mag = std::fabs(ref);
            for (const std::int64_t p : pairs_of[static_cast<std::size_t>(l)]) {
                const std::int64_t n = p / s.k;
                const double term = static_cast<double>(d.val[static_cast<std::size_t>(p)]) *
                                    d.grad_out[static_cast<std::size_t>(n * s.d_in + col)];
                ref += term;
                mag += std::fabs(term);
            }
            t_w.add(grad_row[static_cast<std::size_t>(col)], ref, mag, at("grad_w_dec", l, col));
        }
    }

    bool ok = report("sparse_decode", t_out, tol);
    ok = report("sparse_decode_backward_weight (+= into W grad)", t_w, kRelTolF32) && ok;
    ok = report("sparse_decode_backward_values", t_val, tol) && ok;
    return ok;
}

// ---- argument checks ------------------------------------------------------------------------

bool check_arguments() {
    bool ok = true;
    try {
        gpu::sparse_decode(nullptr,
                           WeightDtype::Float32,
                           nullptr,
                           nullptr,
                           nullptr,
                           nullptr,
                           -1,
                           4,
                           8,
                           8,
                           nullptr);
        ok = false;
    } catch (const evoscope::InputError&) {
    }
    try {
        gpu::sparse_decode_backward_weight(nullptr, nullptr, nullptr, nullptr, 4, 4, 8, 0, nullptr);
        ok = false;
    } catch (const evoscope::InputError&) {
    }
    // Empty problems are no-ops, even with null pointers.
    gpu::sparse_decode(
        nullptr, WeightDtype::BFloat16, nullptr, nullptr, nullptr, nullptr, 0, 4, 8, 8, nullptr);
    gpu::sparse_decode_backward_weight(nullptr, nullptr, nullptr, nullptr, 0, 4, 8, 8, nullptr);
    gpu::sparse_decode_backward_values(
        nullptr, nullptr, WeightDtype::Float32, nullptr, nullptr, 5, 0, 8, 8, nullptr);
    std::printf("argument checks: %s\n", ok ? "ok" : "FAIL (no InputError for a bad size)");
    return ok;
}

// ---- timings --------------------------------------------------------------------------------

// Median over `reps` timed calls after two warm-up calls, in milliseconds.
double time_ms(const std::function<void()>& f, cudaStream_t stream, int reps = 15) {
    cudaEvent_t begin = nullptr;
    cudaEvent_t end = nullptr;
    EVOSCOPE_CUDA_CHECK(cudaEventCreate(&begin));
    EVOSCOPE_CUDA_CHECK(cudaEventCreate(&end));
    f();
    f();
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
        EVOSCOPE_CUDA_CHECK(cudaEventRecord(begin, stream));
        f();
        EVOSCOPE_CUDA_CHECK(cudaEventRecord(end, stream));
        EVOSCOPE_CUDA_CHECK(cudaEventSynchronize(end));
        float ms = 0.0f;
        EVOSCOPE_CUDA_CHECK(cudaEventElapsedTime(&ms, begin, end));
        times.push_back(ms);
    }
    (void)cudaEventDestroy(begin);
    (void)cudaEventDestroy(end);
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

__global__ void scatter_dense_kernel(const std::int64_t* idx,
                                     const float* val,
                                     float* a,
                                     std::int64_t n_pairs,
                                     std::int64_t k,
                                     std::int64_t d_sae) {
    const std::int64_t p = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
    if (p < n_pairs && idx[p] >= 0 && idx[p] < d_sae) {
        atomicAdd(a + (p / k) * d_sae + idx[p], val[p]);
    }
}

__global__ void to_bf16_kernel(const float* x, __nv_bfloat16* y, std::int64_t n) {
    const std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = __float2bfloat16_rn(x[i]);
    }
}

unsigned blocks_for(std::int64_t n) {
    return static_cast<unsigned>((n + 255) / 256);
}

void print_sparse(const char* what, double ms, double gathered_bytes) {
    std::printf("  %-40s %9.3f ms  (%7.1f GB/s counting every gathered row)\n",
                what,
                ms,
                gathered_bytes / ms * 1e-6);
}

void print_dense(const char* what, double ms, double flops) {
    std::printf("  %-40s %9.3f ms  (%7.1f TFLOP/s dense)\n", what, ms, flops / ms * 1e-9);
}

void run_timings(const HostData& d, cudaStream_t stream) {
    const Shape& s = d.shape;
    const std::int64_t n_pairs = s.n_tokens * s.k;
    const auto w_size = static_cast<std::size_t>(s.d_sae * s.d_in);
    const auto io_size = static_cast<std::size_t>(s.n_tokens * s.d_in);
    const auto dense_size = static_cast<std::size_t>(s.n_tokens * s.d_sae);
    void* st = stream;
    std::printf("timings at the target shape (median of 15; stream-ordered, device time):\n");

    DeviceBuffer idx(static_cast<std::size_t>(n_pairs) * sizeof(std::int64_t));
    DeviceBuffer val(static_cast<std::size_t>(n_pairs) * sizeof(float));
    DeviceBuffer w(w_size * sizeof(float));
    DeviceBuffer w_bf16(w_size * sizeof(std::uint16_t));
    DeviceBuffer b_dec(static_cast<std::size_t>(s.d_in) * sizeof(float));
    DeviceBuffer grad_out(io_size * sizeof(float));
    DeviceBuffer out(io_size * sizeof(float));
    DeviceBuffer grad_w(w_size * sizeof(float));
    DeviceBuffer grad_val(static_cast<std::size_t>(n_pairs) * sizeof(float));
    upload(idx.as<std::int64_t>(), d.idx);
    upload(val.as<float>(), d.val);
    upload(w.as<float>(), d.w);
    upload(w_bf16.as<std::uint16_t>(), d.w_bf16);
    upload(b_dec.as<float>(), d.b_dec);
    upload(grad_out.as<float>(), d.grad_out);
    EVOSCOPE_CUDA_CHECK(cudaMemset(grad_w.as<float>(), 0, w_size * sizeof(float)));

    const double row_f32 = static_cast<double>(s.d_in) * 4.0;
    const double gathered_f32 = static_cast<double>(n_pairs) * row_f32;
    const double gathered_bf16 = gathered_f32 / 2.0;
    const double io_bytes = static_cast<double>(io_size) * 4.0;

    const auto* i64 = idx.as<std::int64_t>();
    print_sparse("sparse_decode, float32 W_dec",
                 time_ms(
                     [&] {
                         gpu::sparse_decode(w.as<float>(),
                                            WeightDtype::Float32,
                                            i64,
                                            val.as<float>(),
                                            b_dec.as<float>(),
                                            out.as<float>(),
                                            s.n_tokens,
                                            s.k,
                                            s.d_in,
                                            s.d_sae,
                                            st);
                     },
                     stream),
                 gathered_f32 + io_bytes);
    print_sparse("sparse_decode, bfloat16 W_dec",
                 time_ms(
                     [&] {
                         gpu::sparse_decode(w_bf16.as<std::uint16_t>(),
                                            WeightDtype::BFloat16,
                                            i64,
                                            val.as<float>(),
                                            b_dec.as<float>(),
                                            out.as<float>(),
                                            s.n_tokens,
                                            s.k,
                                            s.d_in,
                                            s.d_sae,
                                            st);
                     },
                     stream),
                 gathered_bf16 + io_bytes);
    print_sparse("sparse_decode_backward_weight",
                 time_ms(
                     [&] {
                         gpu::sparse_decode_backward_weight(grad_out.as<float>(),
                                                            i64,
                                                            val.as<float>(),
                                                            grad_w.as<float>(),
                                                            s.n_tokens,
                                                            s.k,
                                                            s.d_in,
                                                            s.d_sae,
                                                            st);
                     },
                     stream),
                 gathered_f32);
    print_sparse("sparse_decode_backward_values, float32 W",
                 time_ms(
                     [&] {
                         gpu::sparse_decode_backward_values(grad_out.as<float>(),
                                                            w.as<float>(),
                                                            WeightDtype::Float32,
                                                            i64,
                                                            grad_val.as<float>(),
                                                            s.n_tokens,
                                                            s.k,
                                                            s.d_in,
                                                            s.d_sae,
                                                            st);
                     },
                     stream),
                 gathered_f32);
    print_sparse("sparse_decode_backward_values, bf16 W",
                 time_ms(
                     [&] {
                         gpu::sparse_decode_backward_values(grad_out.as<float>(),
                                                            w_bf16.as<std::uint16_t>(),
                                                            WeightDtype::BFloat16,
                                                            i64,
                                                            grad_val.as<float>(),
                                                            s.n_tokens,
                                                            s.k,
                                                            s.d_in,
                                                            s.d_sae,
                                                            st);
                     },
                     stream),
                 gathered_bf16);

    // Dense equivalents: A = the latent matrix [n_tokens, d_sae] with k non-zeros per row.
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    EVOSCOPE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const std::size_t dense_need = dense_size * (4 + 2 + 4) + io_size * 2 + (std::size_t{1} << 28);
    if (free_bytes < dense_need) {
        std::printf("  dense cuBLAS comparison skipped: needs %.1f GiB, %.1f GiB free\n",
                    static_cast<double>(dense_need) / (1 << 30),
                    static_cast<double>(free_bytes) / (1 << 30));
        return;
    }
    DeviceBuffer a(dense_size * sizeof(float));
    DeviceBuffer a_bf16(dense_size * sizeof(std::uint16_t));
    DeviceBuffer c_dense(dense_size * sizeof(float));  // [n_tokens, d_sae] result of W-backward
    DeviceBuffer grad_out_bf16(io_size * sizeof(std::uint16_t));
    EVOSCOPE_CUDA_CHECK(cudaMemsetAsync(a.as<float>(), 0, dense_size * sizeof(float), stream));
    scatter_dense_kernel<<<blocks_for(n_pairs), 256, 0, stream>>>(
        i64, val.as<float>(), a.as<float>(), n_pairs, s.k, s.d_sae);
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());
    to_bf16_kernel<<<blocks_for(static_cast<std::int64_t>(dense_size)), 256, 0, stream>>>(
        a.as<float>(), a_bf16.as<__nv_bfloat16>(), static_cast<std::int64_t>(dense_size));
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());
    to_bf16_kernel<<<blocks_for(static_cast<std::int64_t>(io_size)), 256, 0, stream>>>(
        grad_out.as<float>(),
        grad_out_bf16.as<__nv_bfloat16>(),
        static_cast<std::int64_t>(io_size));
    EVOSCOPE_CUDA_CHECK(cudaGetLastError());

    cublasHandle_t handle = nullptr;
    CHECK_CUBLAS(cublasCreate(&handle));
    CHECK_CUBLAS(cublasSetStream(handle, stream));
    const float one = 1.0f;
    const float zero = 0.0f;
    const int m_in = static_cast<int>(s.d_in);
    const int m_sae = static_cast<int>(s.d_sae);
    const int m_tok = static_cast<int>(s.n_tokens);
    const double flops = 2.0 * static_cast<double>(s.n_tokens) * static_cast<double>(s.d_sae) *
                         static_cast<double>(s.d_in);

    // cuBLAS is column-major: a row-major [r, c] matrix is a column-major [c, r] one.
    // out = A W          ->  out^T [d_in, N]    = W^T [d_in, d_sae] * A^T [d_sae, N]
    // grad_W += A^T G    ->  grad_W^T [d_in, d_sae] += G^T [d_in, N] * A [N, d_sae]  (op T on A)
    // grad_A = G W^T     ->  grad_A^T [d_sae, N] = W [d_sae, d_in] * G^T [d_in, N]  (op T on W)
    struct Gemm {
        const char* name;
        cublasOperation_t op_a, op_b;
        int m, n, k;
        const void* a;
        cudaDataType type_a;
        int lda;
        const void* b;
        cudaDataType type_b;
        int ldb;
        const float* beta;
        float* c;
        int ldc;
        cublasComputeType_t compute;
    };

    const void* w32 = w.as<float>();
    const void* w16 = w_bf16.as<std::uint16_t>();
    const void* a32 = a.as<float>();
    const void* a16 = a_bf16.as<std::uint16_t>();
    const void* g32 = grad_out.as<float>();
    const void* g16 = grad_out_bf16.as<std::uint16_t>();
    // One row per GEMM reads better than one argument per line.
    // clang-format off
    const Gemm gemms[] = {
        // name                                   op_a         op_b         m      n      k      A    type         lda    B    type         ldb    beta   C                    ldc    compute
        {"dense decode, SGEMM float32",           CUBLAS_OP_N, CUBLAS_OP_N, m_in,  m_tok, m_sae, w32, CUDA_R_32F,  m_in,  a32, CUDA_R_32F,  m_sae, &zero, out.as<float>(),     m_in,  CUBLAS_COMPUTE_32F},
        {"dense decode, TF32 tensor cores",       CUBLAS_OP_N, CUBLAS_OP_N, m_in,  m_tok, m_sae, w32, CUDA_R_32F,  m_in,  a32, CUDA_R_32F,  m_sae, &zero, out.as<float>(),     m_in,  CUBLAS_COMPUTE_32F_FAST_TF32},
        {"dense decode, bfloat16 in",             CUBLAS_OP_N, CUBLAS_OP_N, m_in,  m_tok, m_sae, w16, CUDA_R_16BF, m_in,  a16, CUDA_R_16BF, m_sae, &zero, out.as<float>(),     m_in,  CUBLAS_COMPUTE_32F},
        {"dense W-gradient, SGEMM float32",       CUBLAS_OP_N, CUBLAS_OP_T, m_in,  m_sae, m_tok, g32, CUDA_R_32F,  m_in,  a32, CUDA_R_32F,  m_sae, &one,  grad_w.as<float>(),  m_in,  CUBLAS_COMPUTE_32F},
        {"dense W-gradient, bfloat16 in",         CUBLAS_OP_N, CUBLAS_OP_T, m_in,  m_sae, m_tok, g16, CUDA_R_16BF, m_in,  a16, CUDA_R_16BF, m_sae, &one,  grad_w.as<float>(),  m_in,  CUBLAS_COMPUTE_32F},
        {"dense latent gradient, SGEMM float32",  CUBLAS_OP_T, CUBLAS_OP_N, m_sae, m_tok, m_in,  w32, CUDA_R_32F,  m_in,  g32, CUDA_R_32F,  m_in,  &zero, c_dense.as<float>(), m_sae, CUBLAS_COMPUTE_32F},
        {"dense latent gradient, bfloat16 in",    CUBLAS_OP_T, CUBLAS_OP_N, m_sae, m_tok, m_in,  w16, CUDA_R_16BF, m_in,  g16, CUDA_R_16BF, m_in,  &zero, c_dense.as<float>(), m_sae, CUBLAS_COMPUTE_32F},
    };
    // clang-format on
    for (const Gemm& g : gemms) {
        const double ms = time_ms(
            [&] {
                CHECK_CUBLAS(cublasGemmEx(handle,
                                          g.op_a,
                                          g.op_b,
                                          g.m,
                                          g.n,
                                          g.k,
                                          &one,
                                          g.a,
                                          g.type_a,
                                          g.lda,
                                          g.b,
                                          g.type_b,
                                          g.ldb,
                                          g.beta,
                                          g.c,
                                          CUDA_R_32F,
                                          g.ldc,
                                          g.compute,
                                          CUBLAS_GEMM_DEFAULT));
            },
            stream);
        print_dense(g.name, ms, flops);
    }
    (void)cublasDestroy(handle);
}

int run(bool quick) {
    int n_devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&n_devices);
    if (status != cudaSuccess || n_devices == 0) {
        std::printf("check_sparse_kernels: no CUDA device (%s); skipping\n",
                    status != cudaSuccess ? cudaGetErrorString(status) : "device count is 0");
        return kExitSkipped;
    }
    if (!gpu::cuda_kernels_available()) {
        std::printf(
            "check_sparse_kernels: cuda_kernels_available() disagrees with cudaGetDeviceCount\n");
        return 1;
    }
    cudaDeviceProp prop{};
    EVOSCOPE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device 0: %s, sm_%d%d, %d SMs, L2 %.0f MiB, %.1f GiB\n",
                prop.name,
                prop.major,
                prop.minor,
                prop.multiProcessorCount,
                prop.l2CacheSize / 1048576.0,
                static_cast<double>(prop.totalGlobalMem) / (1 << 30));

    // Keep the kernels' stream-ordered workspaces in the pool between calls (as the header
    // advises callers to), so the timings do not include returning memory to the driver.
    cudaMemPool_t pool = nullptr;
    EVOSCOPE_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, 0));
    std::uint64_t keep_all = UINT64_MAX;
    EVOSCOPE_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
    cudaStream_t stream = nullptr;
    EVOSCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    bool ok = check_arguments();

    // clang-format off
    const Case cases[] = {
        // name                                            {n_tokens, k, d_in, d_sae}  empty hot   bias   misalign distinct
        {"padded rows + hot latent",                        {300, 64, 512, 2048},     0.10, 0.30, true,  false,   true},
        {"k not a multiple of 32, odd d_in (scalar path)",  {257, 37, 333, 1000},     0.05, 0.0,  false, false,   true},
        {"d_in multiple of 4, not of 8",                    {64, 16, 1004, 512},      0.0,  0.0,  true,  false,   true},
        {"misaligned pointers (scalar path)",               {100, 32, 256, 700},      0.2,  0.1,  true,  true,    true},
        {"tiny d_sae, repeated latents (long runs)",        {1000, 4, 160, 3},        0.1,  0.0,  true,  false,   false},
        {"one token, one slot",                             {1, 1, 128, 10},          0.0,  0.0,  true,  false,   true},
        {"wide d_in, few tokens",                           {9, 8, 8192, 64},         0.0,  0.5,  false, false,   true},
        // W_dec slices too big for one tile: backward values sums per-tile partials.
        {"large d_sae (several column tiles)",              {64, 8, 512, 40000},      0.1,  0.0,  true,  false,   true},
    };
    // clang-format on
    std::uint64_t seed = 42;
    for (const Case& c : cases) {
        const HostData d = make_data(c, seed++);
        const Selection sel = select_all(d.shape);
        ok = run_case(c, d, WeightDtype::Float32, sel, stream) && ok;
        ok = run_case(c, d, WeightDtype::BFloat16, sel, stream) && ok;
    }

    if (!quick) {
        const Case target{
            "target shape (sampled rows)", {8192, 64, 4096, 32768}, 0.0, 0.0, true, false, true};
        const HostData d = make_data(target, 7);
        const Selection sel = select_sample(d, 11);
        ok = run_case(target, d, WeightDtype::Float32, sel, stream) && ok;
        ok = run_case(target, d, WeightDtype::BFloat16, sel, stream) && ok;
        run_timings(d, stream);
    }
    (void)cudaStreamDestroy(stream);
    std::printf("%s\n", ok ? "all checks passed" : "SOME CHECKS FAILED");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--quick") {
            quick = true;
        } else {
            const bool help = arg == "--help" || arg == "-h";
            std::fprintf(
                help ? stdout : stderr,
                "usage: check_sparse_kernels [--quick]\n"
                "  checks the sparse SAE decoder kernels against a CPU reference and times\n"
                "  them at n_tokens 8192, k 64, d_in 4096, d_sae 32768 (--quick: small shapes "
                "only)\n"
                "  exit 0 pass, 1 fail, 2 usage error, 77 no CUDA device\n");
            return help ? 0 : 2;
        }
    }
    try {
        return run(quick);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "check_sparse_kernels: %s\n", e.what());
        return 1;
    }
}
