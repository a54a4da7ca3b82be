#include "sae/sae.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "sae/sparse_ops.hpp"

namespace evoscope::sae {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(
        out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

c10::Device parse_sae_device(const std::string& device) {
    if (device == "cpu") {
        return c10::Device(c10::kCPU);
    }
    if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
        EVOSCOPE_CHECK_AS(
            DeviceError,
            torch::cuda::is_available(),
            "device '{}' requested but CUDA is not available (this libtorch {} is CPU-only or sees "
            "no CUDA device)",
            device,
            TORCH_VERSION);
        return c10::Device(device);
    }
    throw InputError(fmt::format("invalid device '{}': expected cpu, cuda or cuda:N", device));
}

std::string shape_str(const at::Tensor& t) {
    if (!t.defined()) {
        return "missing";
    }
    std::string s = "[";
    for (std::int64_t i = 0; i < t.dim(); ++i) {
        s += (i ? ", " : "") + std::to_string(t.size(i));
    }
    return s + "]";
}

void check_shape(const at::Tensor& t, std::initializer_list<std::int64_t> want, const char* name) {
    const std::vector<std::int64_t> w(want);
    bool ok = t.defined() && t.dim() == static_cast<std::int64_t>(w.size());
    for (std::size_t i = 0; ok && i < w.size(); ++i) {
        ok = t.size(static_cast<std::int64_t>(i)) == w[i];
    }
    if (!ok) {
        std::string ws = "[";
        for (std::size_t i = 0; i < w.size(); ++i) {
            ws += (i ? ", " : "") + std::to_string(w[i]);
        }
        throw InputError(
            fmt::format("SAE tensor {}: expected shape {}], found {}", name, ws, shape_str(t)));
    }
}

/// CSR from a dense [N, n] activation tensor (nonzeros only), on the CPU.
SparseCodes dense_to_csr(const at::Tensor& f) {
    const auto fc = f.to(at::kCPU).contiguous();
    const auto nz = fc.nonzero();  // [nnz, 2], row-major order: rows ascending
    SparseCodes c;
    const std::int64_t N = fc.size(0);
    c.ids = nz.select(1, 1).contiguous();
    const auto rows = nz.select(1, 0).contiguous();
    c.values = fc.index({rows, c.ids}).contiguous();
    const auto counts = at::bincount(rows, {}, N);
    c.row_ptr = at::cat({at::zeros({1}, at::kLong), counts.cumsum(0)});
    return c;
}

}  // namespace

const char* arch_name(Arch arch) {
    switch (arch) {
        case Arch::TopK:
            return "topk";
        case Arch::BatchTopK:
            return "batchtopk";
        case Arch::ReLU:
            return "relu";
        case Arch::JumpReLU:
            return "jumprelu";
    }
    return "?";
}

Arch parse_arch(std::string_view name) {
    const auto n = lower(name);
    if (n == "topk")
        return Arch::TopK;
    if (n == "batchtopk" || n == "batch_topk")
        return Arch::BatchTopK;
    if (n == "relu" || n == "standard")
        return Arch::ReLU;
    if (n == "jumprelu")
        return Arch::JumpReLU;
    throw InputError(fmt::format(
        "unknown SAE architecture '{}': expected topk, batchtopk, relu or jumprelu", name));
}

const char* normalization_name(Normalization n) {
    switch (n) {
        case Normalization::None:
            return "none";
        case Normalization::MeanCenter:
            return "mean_center";
        case Normalization::ConstantNorm:
            return "constant_norm";
        case Normalization::MeanCenterConstantNorm:
            return "mean_center_constant_norm";
    }
    return "?";
}

Normalization parse_normalization(std::string_view name) {
    const auto n = lower(name);
    if (n == "none")
        return Normalization::None;
    if (n == "mean" || n == "mean_center")
        return Normalization::MeanCenter;
    if (n == "norm" || n == "constant_norm" || n == "expected_average_only_in")
        return Normalization::ConstantNorm;
    if (n == "mean+norm" || n == "mean_center_constant_norm")
        return Normalization::MeanCenterConstantNorm;
    throw InputError(fmt::format(
        "unknown input normalisation '{}': expected none, mean, norm or mean+norm", name));
}

void SaeConfig::validate() const {
    EVOSCOPE_CHECK(d_in >= 1, "SAE d_in must be >= 1 (got {})", d_in);
    EVOSCOPE_CHECK(d_sae >= 1, "SAE d_sae must be >= 1 (got {})", d_sae);
    if (arch == Arch::TopK) {
        EVOSCOPE_CHECK(k >= 1 && k <= d_sae,
                       "SAE k must be in 1..d_sae = {} for {} (got {})",
                       d_sae,
                       arch_name(arch),
                       k);
    }
    if (arch == Arch::BatchTopK) {
        EVOSCOPE_CHECK(k >= 0 && k <= d_sae,
                       "SAE k must be in 0..d_sae = {} for batchtopk (got {})",
                       d_sae,
                       k);
    }
}

std::int64_t SparseCodes::n_rows() const {
    return row_ptr.defined() ? row_ptr.size(0) - 1 : 0;
}

std::int64_t SparseCodes::nnz() const {
    return ids.defined() ? ids.size(0) : 0;
}

struct Sae::Impl {
    SaeConfig config;
    Params p;
    c10::Device device = c10::Device(c10::kCPU);
    at::Tensor mean;  // [d_in] or undefined
    double scale = 1.0;

    at::Tensor normalise(const at::Tensor& x) const {
        at::Tensor y = x.to(device, at::kFloat);
        if (mean.defined()) {
            y = y - mean;
        }
        if (scale != 1.0) {
            y = y * scale;
        }
        return y;
    }

    at::Tensor denormalise(const at::Tensor& y) const {
        at::Tensor x = y;
        if (scale != 1.0) {
            x = x / scale;
        }
        if (mean.defined()) {
            x = x + mean;
        }
        return x;
    }

    at::Tensor pre(const at::Tensor& x) const {
        EVOSCOPE_CHECK(x.dim() == 2 && x.size(1) == config.d_in,
                       "activations have shape {}, the SAE expects [N, {}] (d_in)",
                       shape_str(x),
                       config.d_in);
        at::Tensor u = normalise(x);
        if (config.apply_b_dec_to_input) {
            u = u - p.b_dec;
        }
        return at::addmm(p.b_enc, u, p.W_encT.t());
    }

    std::int64_t k_of(std::int64_t k_override) const {
        const std::int64_t k = k_override > 0 ? k_override : config.k;
        EVOSCOPE_CHECK(k >= 1 && k <= config.d_sae,
                       "this {} SAE needs k in 1..{} (the file does not store it: pass --k)",
                       arch_name(config.arch),
                       config.d_sae);
        return k;
    }
};

Sae::Sae(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Sae::~Sae() = default;
Sae::Sae(Sae&&) noexcept = default;
Sae& Sae::operator=(Sae&&) noexcept = default;

Sae Sae::init(const SaeConfig& config,
              std::uint64_t seed,
              const std::string& device,
              double dec_init_norm,
              double jumprelu_init_threshold) {
    config.validate();
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->device = parse_sae_device(device);
    torch::NoGradGuard no_grad;
    at::Generator gen = at::detail::createCPUGenerator(seed);
    at::Tensor W = at::empty({config.d_sae, config.d_in}, at::kFloat);
    W.normal_(0.0, 1.0, gen);
    W = W * (dec_init_norm / W.norm(2, {1}, true).clamp_min(1e-12));
    auto& p = impl->p;
    p.W_dec = W.to(impl->device).contiguous();
    p.W_encT = config.tied ? p.W_dec : p.W_dec.clone();
    p.b_enc = at::zeros({config.d_sae}, at::TensorOptions().dtype(at::kFloat).device(impl->device));
    p.b_dec = at::zeros({config.d_in}, at::TensorOptions().dtype(at::kFloat).device(impl->device));
    if (config.arch == Arch::JumpReLU) {
        p.threshold = at::full({config.d_sae},
                               jumprelu_init_threshold,
                               at::TensorOptions().dtype(at::kFloat).device(impl->device));
    }
    return Sae(std::move(impl));
}

Sae Sae::from_tensors(const SaeConfig& config,
                      const at::Tensor& W_enc,
                      const at::Tensor& W_dec,
                      const at::Tensor& b_enc,
                      const at::Tensor& b_dec,
                      const at::Tensor& threshold,
                      const std::string& device) {
    config.validate();
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->device = parse_sae_device(device);
    torch::NoGradGuard no_grad;
    const auto d = config.d_in;
    const auto n = config.d_sae;
    check_shape(W_dec, {n, d}, "W_dec");
    check_shape(b_enc, {n}, "b_enc");
    check_shape(b_dec, {d}, "b_dec");
    auto to = [&](const at::Tensor& t) {
        return t.to(impl->device, at::kFloat).contiguous().clone();
    };
    auto& p = impl->p;
    p.W_dec = to(W_dec);
    if (config.tied) {
        if (W_enc.defined()) {
            check_shape(W_enc, {d, n}, "W_enc");
            EVOSCOPE_CHECK(
                at::equal(W_enc.to(at::kCPU, at::kFloat).t(), W_dec.to(at::kCPU, at::kFloat)),
                "SAE is marked tied but W_enc is not W_dec transposed");
        }
        p.W_encT = p.W_dec;
    } else {
        check_shape(W_enc, {d, n}, "W_enc");
        p.W_encT = to(W_enc.t());
    }
    p.b_enc = to(b_enc);
    p.b_dec = to(b_dec);
    if (threshold.defined()) {
        EVOSCOPE_CHECK(threshold.numel() == 1 || (threshold.dim() == 1 && threshold.size(0) == n),
                       "SAE tensor threshold: expected shape [{}] or a scalar, found {}",
                       n,
                       shape_str(threshold));
        p.threshold = to(threshold.reshape({-1}).expand({n}));
    }
    for (const auto& [name, t] : {std::pair{"W_dec", p.W_dec},
                                  {"W_enc", p.W_encT},
                                  {"b_enc", p.b_enc},
                                  {"b_dec", p.b_dec}}) {
        EVOSCOPE_CHECK(
            at::isfinite(t).all().item<bool>(), "SAE tensor {} holds NaN or Inf values", name);
    }
    return Sae(std::move(impl));
}

Sae Sae::clone() const {
    auto impl = std::make_unique<Impl>(*impl_);
    auto& p = impl->p;
    p.W_dec = p.W_dec.clone();
    p.W_encT = impl_->config.tied ? p.W_dec : p.W_encT.clone();
    p.b_enc = p.b_enc.clone();
    p.b_dec = p.b_dec.clone();
    if (p.threshold.defined())
        p.threshold = p.threshold.clone();
    if (impl->mean.defined())
        impl->mean = impl->mean.clone();
    return Sae(std::move(impl));
}

const SaeConfig& Sae::config() const {
    return impl_->config;
}

std::string Sae::device() const {
    return impl_->device.str();
}

bool Sae::has_threshold() const {
    return impl_->p.threshold.defined();
}

Sae::Params& Sae::params() {
    return impl_->p;
}

const Sae::Params& Sae::params() const {
    return impl_->p;
}

void Sae::set_threshold(const at::Tensor& threshold) {
    const auto n = impl_->config.d_sae;
    EVOSCOPE_CHECK(
        threshold.numel() == 1 || threshold.numel() == n, "threshold must be a scalar or [{}]", n);
    impl_->p.threshold =
        threshold.to(impl_->device, at::kFloat).reshape({-1}).expand({n}).contiguous().clone();
}

void Sae::set_normalization(Normalization n, const at::Tensor& mean, double scale) {
    impl_->config.normalization = n;
    const bool centre =
        n == Normalization::MeanCenter || n == Normalization::MeanCenterConstantNorm;
    const bool scaled =
        n == Normalization::ConstantNorm || n == Normalization::MeanCenterConstantNorm;
    if (centre) {
        check_shape(mean, {impl_->config.d_in}, "normalisation mean");
        impl_->mean = mean.to(impl_->device, at::kFloat).contiguous().clone();
    } else {
        impl_->mean = at::Tensor();
    }
    EVOSCOPE_CHECK(!scaled || (std::isfinite(scale) && scale > 0),
                   "normalisation scale must be positive (got {})",
                   scale);
    impl_->scale = scaled ? scale : 1.0;
}

const at::Tensor& Sae::norm_mean() const {
    return impl_->mean;
}

double Sae::norm_scale() const {
    return impl_->scale;
}

void Sae::fit_normalization(Normalization n, const at::Tensor& sample) {
    torch::NoGradGuard no_grad;
    EVOSCOPE_CHECK(sample.dim() == 2 && sample.size(1) == impl_->config.d_in && sample.size(0) >= 1,
                   "normalisation sample has shape {}, expected [N, {}]",
                   shape_str(sample),
                   impl_->config.d_in);
    const auto x = sample.to(impl_->device, at::kFloat);
    const bool centre =
        n == Normalization::MeanCenter || n == Normalization::MeanCenterConstantNorm;
    at::Tensor mean = centre ? x.mean(0) : at::Tensor();
    const auto xc = centre ? x - mean : x;
    // SAELens "expected_average_only_in": scale so that the mean norm becomes sqrt(d_in).
    const double mean_norm = xc.norm(2, {1}).mean().item<double>();
    const double scale =
        mean_norm > 0 ? std::sqrt(static_cast<double>(impl_->config.d_in)) / mean_norm : 1.0;
    set_normalization(n, mean, scale);
}

void Sae::fold_normalization() {
    torch::NoGradGuard no_grad;
    auto& c = impl_->config;
    auto& p = impl_->p;
    const double s = impl_->scale;
    const at::Tensor mu = impl_->mean.defined() ? impl_->mean : at::zeros_like(p.b_dec);
    if (s == 1.0 && !impl_->mean.defined()) {
        c.normalization = Normalization::None;
        return;
    }
    // x' = (x - mu) s.  With b_dec subtracted: pre = (x - (mu + b_dec/s)) (s W_enc) + b_enc.
    // Without: pre = x (s W_enc) + (b_enc - s mu W_enc).  Decoder: x̂ = f (W_dec/s) + (b_dec/s +
    // mu).
    at::Tensor W_encT = p.W_encT * s;
    at::Tensor b_enc = p.b_enc;
    if (!c.apply_b_dec_to_input) {
        b_enc = p.b_enc - at::mv(p.W_encT, mu) * s;
    }
    const at::Tensor b_dec = p.b_dec / s + mu;
    const at::Tensor W_dec = p.W_dec / s;
    if (c.tied && s != 1.0) {
        c.tied = false;  // s W and W/s are no longer one matrix
    }
    p.W_dec = W_dec.contiguous();
    p.W_encT = c.tied ? p.W_dec : W_encT.contiguous();
    p.b_enc = b_enc.contiguous();
    p.b_dec = b_dec.contiguous();
    impl_->mean = at::Tensor();
    impl_->scale = 1.0;
    c.normalization = Normalization::None;
}

std::vector<std::pair<std::string, at::Tensor>> Sae::saelens_tensors() const {
    const auto& p = impl_->p;
    auto cpu = [](const at::Tensor& t) {
        return t.to(at::kCPU, at::kFloat).contiguous();
    };
    std::vector<std::pair<std::string, at::Tensor>> out{{"W_enc", cpu(p.W_encT.t())},
                                                        {"W_dec", cpu(p.W_dec)},
                                                        {"b_enc", cpu(p.b_enc)},
                                                        {"b_dec", cpu(p.b_dec)}};
    if (p.threshold.defined()) {
        out.emplace_back("threshold", cpu(p.threshold));
    }
    return out;
}

at::Tensor Sae::normalize_input(const at::Tensor& x) const {
    return impl_->normalise(x);
}

at::Tensor Sae::denormalize_output(const at::Tensor& y) const {
    return impl_->denormalise(y);
}

at::Tensor Sae::pre_activations(const at::Tensor& x) const {
    torch::NoGradGuard no_grad;
    return impl_->pre(x);
}

SparseCodes Sae::encode(const at::Tensor& x, EncodeMode mode, std::int64_t k_override) const {
    torch::NoGradGuard no_grad;
    const auto& c = impl_->config;
    const auto pre = impl_->pre(x);
    const std::int64_t N = pre.size(0);
    if (c.arch == Arch::TopK && mode != EncodeMode::Threshold) {
        const std::int64_t k = impl_->k_of(k_override);
        auto [vals, idx] = pre.topk(k, 1);
        const auto mask = vals > 0;
        SparseCodes out;
        out.ids = idx.masked_select(mask).to(at::kCPU);
        out.values = vals.masked_select(mask).to(at::kCPU);
        out.row_ptr =
            at::cat({at::zeros({1}, at::kLong), mask.sum(1).cumsum(0).to(at::kCPU, at::kLong)});
        return out;
    }
    if (c.arch == Arch::BatchTopK) {
        const bool threshold =
            mode == EncodeMode::Threshold || (mode == EncodeMode::Default && has_threshold());
        if (threshold) {
            EVOSCOPE_CHECK(
                has_threshold(),
                "this BatchTopK SAE has no inference threshold: use --mode batchtopk (and --k)");
            return dense_to_csr(
                at::where(pre > impl_->p.threshold, pre.clamp_min(0), at::zeros_like(pre)));
        }
        const std::int64_t k = impl_->k_of(k_override);
        // Goodfire's notebook: ReLU, then the top k·N values over the flattened [N, d_sae] batch.
        const auto flat = pre.clamp_min(0).reshape({-1});
        const std::int64_t keep = std::min<std::int64_t>(k * N, flat.size(0));
        auto [vals, idx] = flat.topk(keep);
        auto [sorted, order] = idx.sort();
        auto v = vals.index_select(0, order);
        const auto mask = v > 0;
        sorted = sorted.masked_select(mask).to(at::kCPU);
        SparseCodes out;
        out.values = v.masked_select(mask).to(at::kCPU);
        out.ids = sorted.remainder(c.d_sae);
        const auto rows = sorted.div(c.d_sae, "floor");
        out.row_ptr = at::cat({at::zeros({1}, at::kLong), at::bincount(rows, {}, N).cumsum(0)});
        return out;
    }
    return dense_to_csr(encode_dense(x, mode));
}

at::Tensor Sae::encode_dense(const at::Tensor& x, EncodeMode mode) const {
    torch::NoGradGuard no_grad;
    const auto& c = impl_->config;
    if (c.arch == Arch::TopK || c.arch == Arch::BatchTopK) {
        const auto codes = encode(x, mode);
        const std::int64_t N = codes.n_rows();
        at::Tensor f = at::zeros({N, c.d_sae}, at::kFloat);
        const auto rows = detail::rows_of_entries(codes.row_ptr, codes.nnz());
        f.index_put_({rows, codes.ids}, codes.values);
        return f.to(impl_->device);
    }
    const auto pre = impl_->pre(x);
    if (c.arch == Arch::ReLU) {
        return pre.clamp_min(0);
    }
    // JumpReLU: pre where pre > threshold (threshold > 0, so the output is never negative).
    return at::where(pre > impl_->p.threshold, pre, at::zeros_like(pre));
}

at::Tensor Sae::decode_dense(const at::Tensor& f) const {
    torch::NoGradGuard no_grad;
    const auto& p = impl_->p;
    return impl_->denormalise(at::addmm(p.b_dec, f.to(impl_->device, at::kFloat), p.W_dec));
}

at::Tensor Sae::decode(const SparseCodes& codes) const {
    torch::NoGradGuard no_grad;
    const auto& p = impl_->p;
    const auto dev = impl_->device;
    const auto y = detail::sparse_decode(p.W_dec,
                                         codes.row_ptr.to(dev),
                                         codes.ids.to(dev),
                                         codes.values.to(dev, at::kFloat),
                                         p.b_dec);
    return impl_->denormalise(y);
}

at::Tensor Sae::reconstruct(const at::Tensor& x, EncodeMode mode) const {
    const auto& c = impl_->config;
    if (c.arch == Arch::TopK || c.arch == Arch::BatchTopK) {
        return decode(encode(x, mode));
    }
    return decode_dense(encode_dense(x, mode));
}

}  // namespace evoscope::sae
