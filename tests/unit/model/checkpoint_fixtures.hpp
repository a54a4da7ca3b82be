/// @file
/// Expected contents of the torch.save fixtures in tests/data/model/, recomputed with the
/// formulas of tests/data/model/gen_fixtures.py (keep both in step), and small comparison
/// helpers for the checkpoint-format tests.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <torch/torch.h>

namespace evoscope::test {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// gen_fixtures.py basic_state(), in pickle order.
inline NamedTensors expected_basic() {
    using torch::arange;
    const auto shared = arange(20, torch::kFloat) * 0.125;
    return {
        {"embedding_layer.weight",
         (arange(24, torch::kFloat).reshape({4, 6}) * 0.5).to(torch::kBFloat16)},
        {"norm.scale", arange(6, torch::kFloat) * 0.25 - 1.0},
        {"blocks.0.proj.weight_t", (arange(12, torch::kFloat).reshape({3, 4}) * 0.5).t()},
        {"blocks.0.ids", arange(5, torch::kLong) - 2},
        {"shared.a", shared.slice(0, 0, 8)},
        {"shared.b", shared.slice(0, 8, 20).view({3, 4})},
        {"blocks.0.h", (arange(6, torch::kFloat) * 0.5 - 1.0).to(torch::kHalf)},
        {"blocks.0.f64", arange(3, torch::kDouble) / 3.0},
        {"blocks.0.i32", arange(4, torch::kInt) * -3},
        {"blocks.0.i16", arange(4, torch::kShort) * 1000},
        {"blocks.0.i8", arange(4, torch::kChar) - 2},
        {"blocks.0.u8", arange(4, torch::kByte) * 60},
        {"blocks.0.mask", arange(5).remainder(2).eq(0)},
        {"scalar", torch::scalar_tensor(3.5, torch::kFloat)},
        {"empty", torch::zeros({0, 3})},
        {"param", arange(4, torch::kFloat) * 2.0},
    };
}

/// gen_fixtures.py extra_state_state(), tensors only, in pickle order.
inline NamedTensors expected_extra_state() {
    using torch::arange;
    const auto embedding = arange(12, torch::kFloat).reshape({4, 3}) - 5;
    return {
        {"embedding_layer.weight", embedding},
        {"blocks.0.projections.weight",
         (arange(12, torch::kFloat).reshape({3, 4}) * 0.25).to(torch::kBFloat16)},
        {"blocks.0.filter.t", arange(4, torch::kFloat).reshape({1, 1, 4})},
        {"unembed.weight", embedding.clone()},
    };
}

/// Same dtype, shape and bytes (bit-exact, NaN payloads included).
inline bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) {
        return false;
    }
    const auto ca = a.contiguous();
    const auto cb = b.contiguous();
    const auto n = static_cast<std::size_t>(ca.numel()) * ca.element_size();
    return n == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), n) == 0;
}

/// Byte range [begin, end) of a file's contents.
inline std::string slice(const std::string& bytes, std::size_t begin, std::size_t end) {
    return bytes.substr(begin, end - begin);
}

}  // namespace evoscope::test
