// SAE file formats (sae/formats.hpp): bit-exact round trips through every writable format,
// imports of the Goodfire and dictionary_learning fixtures (tests/data/sae/, made by PyTorch)
// with encodings checked against PyTorch's, error messages, and torch.load reading our files.
#include "sae/formats.hpp"

#include <cstring>
#include <filesystem>
#include <set>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "formats/npy.hpp"
#include "formats/safetensors.hpp"
#include "model/torch_checkpoint.hpp"
#include "sae/sae.hpp"
#include "tests/support/catch_torch.hpp"  // after libtorch: Catch2's CHECK, not glog's
#include "tests/support/test_support.hpp"

// libtorch's glog headers define a one-argument CHECK that aborts; use Catch's again.
#undef CHECK
#define CHECK(...) \
    INTERNAL_CATCH_TEST("CHECK", Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)

using namespace evoscope;
using namespace evoscope::sae;
using Catch::Matchers::Contains;
using evoscope::test::fixture_path;
using evoscope::test::TempDir;
namespace fs = std::filesystem;

namespace {

/// Float tolerance against PyTorch's encoding: fp32 matmuls of 16 terms summed in another order.
constexpr double kEncodeTolerance = 1e-5;

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) {
        return false;
    }
    const auto ac = a.contiguous();
    const auto bc = b.contiguous();
    return std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.nbytes()) == 0;
}

void require_same_tensors(const Sae& got, const Sae& want) {
    const auto g = got.saelens_tensors();
    const auto w = want.saelens_tensors();
    REQUIRE(g.size() == w.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
        INFO("tensor " << w[i].first);
        REQUIRE(g[i].first == w[i].first);
        REQUIRE(same_bits(g[i].second, w[i].second));
    }
}

at::Tensor randn(std::vector<std::int64_t> shape, std::uint64_t seed, double std = 1.0) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return at::empty(shape, at::kFloat).normal_(0.0, std, gen);
}

struct Spec {
    const char* name;
    Arch arch;
    bool tied;
    bool b_dec_input;
    bool threshold;
};

Sae make_sae(const Spec& s, std::uint64_t seed) {
    SaeConfig c;
    c.d_in = 12;
    c.d_sae = 40;
    c.arch = s.arch;
    c.k = s.arch == Arch::TopK || s.arch == Arch::BatchTopK ? 5 : 0;
    c.tied = s.tied;
    c.apply_b_dec_to_input = s.b_dec_input;
    c.model_name = "tiny.safetensors";
    c.hook_name = "blocks.3";
    Sae sae = Sae::init(c, seed, "cpu");
    auto& p = sae.params();
    p.b_enc.copy_(randn({c.d_sae}, seed + 1, 0.1));
    p.b_dec.copy_(randn({c.d_in}, seed + 2, 0.1));
    if (!s.tied) {
        p.W_encT.copy_(randn({c.d_sae, c.d_in}, seed + 3, 0.3));
    }
    if (s.threshold) {
        sae.set_threshold(s.arch == Arch::JumpReLU ? randn({c.d_sae}, seed + 4, 0.01).abs()
                                                   : at::scalar_tensor(0.0375, at::kFloat));
    }
    return sae;
}

fs::path output_for(const TempDir& dir, SaeFormat format, const std::string& stem) {
    switch (format) {
        case SaeFormat::SaeLens:
            return dir / stem;
        case SaeFormat::Goodfire:
            return dir / (stem + "_k_5.pt");
        case SaeFormat::DictionaryLearning:
            return dir / stem / "ae.pt";
    }
    return {};
}

std::vector<float> npy(const std::string& relative, std::vector<std::int64_t>* shape) {
    NpyInfo info;
    auto v = read_npy_float32(fixture_path(relative), &info);
    *shape = std::vector<std::int64_t>(info.shape.begin(), info.shape.end());
    return v;
}

at::Tensor npy_tensor(const std::string& relative) {
    std::vector<std::int64_t> shape;
    auto v = npy(relative, &shape);
    return at::from_blob(v.data(), shape, at::kFloat).clone();
}

/// LoadOptions with one field set (designated initializers would warn about the others).
LoadOptions with_k(std::int64_t k) {
    LoadOptions o;
    o.k_override = k;
    return o;
}

LoadOptions with_d_in(std::int64_t d_in, const std::string& site = "") {
    LoadOptions o;
    o.expected_d_in = d_in;
    o.site = site;
    return o;
}

LoadOptions with_format(SaeFormat format) {
    LoadOptions o;
    o.format = format;
    return o;
}

/// Dense [N, d_sae] from Sae::encode's CSR codes.
at::Tensor dense(const SparseCodes& codes, std::int64_t d_sae) {
    const auto n = codes.n_rows();
    at::Tensor f = at::zeros({n, d_sae}, at::kFloat);
    const auto row_ptr = codes.row_ptr.to(at::kCPU);
    const auto ids = codes.ids.to(at::kCPU);
    const auto values = codes.values.to(at::kCPU);
    for (std::int64_t r = 0; r < n; ++r) {
        for (auto e = row_ptr[r].item<std::int64_t>(); e < row_ptr[r + 1].item<std::int64_t>();
             ++e) {
            f[r][ids[e].item<std::int64_t>()] = values[e].item<float>();
        }
    }
    return f;
}

/// Values within kEncodeTolerance and the same nonzero pattern.
void require_same_codes(const at::Tensor& got, const at::Tensor& want) {
    REQUIRE(got.sizes() == want.sizes());
    const auto g = got.to(at::kCPU);
    CHECK(at::equal(g != 0, want != 0));
    const double max_diff = (g - want).abs().max().item<double>();
    INFO("max abs difference " << max_diff);
    CHECK(max_diff <= kEncodeTolerance);
    CHECK((want != 0).sum().item<std::int64_t>() > 0);
}

}  // namespace

TEST_CASE("SAE formats: save then load is bit-exact for every writable format",
          "[sae][sae_formats]") {
    const std::vector<Spec> specs{
        {"topk", Arch::TopK, false, true, false},
        {"batchtopk_theta", Arch::BatchTopK, false, true, true},
        {"goodfire_like", Arch::BatchTopK, true, false, false},
        {"relu", Arch::ReLU, false, true, false},
        {"jumprelu", Arch::JumpReLU, false, true, true},
        {"tied_topk", Arch::TopK, true, true, false},
    };
    TempDir dir;
    std::uint64_t seed = 100;
    for (const Spec& spec : specs) {
        const Sae sae = make_sae(spec, seed += 10);
        for (const SaeFormat format :
             {SaeFormat::SaeLens, SaeFormat::Goodfire, SaeFormat::DictionaryLearning}) {
            const bool writable =
                format == SaeFormat::SaeLens ||
                (format == SaeFormat::Goodfire && spec.tied && !spec.b_dec_input &&
                 spec.arch == Arch::BatchTopK && !spec.threshold) ||
                (format == SaeFormat::DictionaryLearning && spec.arch != Arch::JumpReLU &&
                 spec.b_dec_input);
            INFO(spec.name << " as " << format_name(format));
            const auto out =
                output_for(dir, format, std::string(spec.name) + "_" + format_name(format));
            if (!writable) {
                if (format == SaeFormat::Goodfire || spec.arch == Arch::JumpReLU) {
                    REQUIRE_THROWS_AS(save_sae(sae, out, format), InputError);
                    REQUIRE_FALSE(fs::exists(out));
                }
                continue;
            }
            save_sae(sae, out, format);
            SaeFormat used{};
            const Sae back = load_sae(out, {}, &used);
            CHECK(used == format);
            CHECK(detect_sae_format(out) == format);
            require_same_tensors(back, sae);
            const auto& c = back.config();
            CHECK(c.arch == sae.config().arch);
            CHECK(c.k == sae.config().k);
            CHECK(c.tied == sae.config().tied);
            CHECK(c.apply_b_dec_to_input == sae.config().apply_b_dec_to_input);
            CHECK(c.d_in == 12);
            CHECK(c.d_sae == 40);
            if (format != SaeFormat::Goodfire) {
                CHECK(c.model_name == "tiny.safetensors");
                CHECK(c.hook_name == "blocks.3");
            }
            require_same_tensors(load_sae(out), sae);
        }
    }
}

TEST_CASE("SAE formats: chains through other formats keep every bit", "[sae][sae_formats]") {
    TempDir dir;
    SECTION("goodfire -> saelens -> goodfire") {
        const Sae sae = make_sae({"gf", Arch::BatchTopK, true, false, false}, 7);
        save_sae(sae, dir / "a_k_5.pt", SaeFormat::Goodfire);
        save_sae(load_sae(dir / "a_k_5.pt"), dir / "b", SaeFormat::SaeLens);
        save_sae(load_sae(dir / "b"), dir / "c_k_5.pt", SaeFormat::Goodfire);
        const Sae back = load_sae(dir / "c_k_5.pt");
        require_same_tensors(back, sae);
        CHECK(back.config().tied);
    }
    SECTION("dictionary_learning -> saelens -> dictionary_learning") {
        const Sae sae = make_sae({"dl", Arch::BatchTopK, false, true, true}, 8);
        save_sae(sae, dir / "a" / "ae.pt", SaeFormat::DictionaryLearning);
        save_sae(load_sae(dir / "a"), dir / "b", SaeFormat::SaeLens);
        save_sae(load_sae(dir / "b"), dir / "c" / "ae.pt", SaeFormat::DictionaryLearning);
        require_same_tensors(load_sae(dir / "c" / "ae.pt"), sae);
        CHECK(evoscope::test::read_file(dir / "a" / "ae.pt").size() > 0);
    }
    SECTION(
        "a tied SAE without b_dec subtraction folds b_dec into encoder.bias for "
        "dictionary_learning") {
        const Sae sae = make_sae({"gf", Arch::BatchTopK, true, false, false}, 9);
        save_sae(sae, dir / "d" / "ae.pt", SaeFormat::DictionaryLearning);
        const Sae back = load_sae(dir / "d" / "ae.pt");
        CHECK(back.config().apply_b_dec_to_input);
        CHECK(back.config().tied);
        const auto x = randn({6, 12}, 10);
        const auto want = sae.pre_activations(x);
        CHECK((back.pre_activations(x) - want).abs().max().item<double>() < 1e-5);
    }
    SECTION("input normalisation is folded before writing") {
        Sae sae = make_sae({"n", Arch::TopK, false, true, false}, 11);
        sae.set_normalization(Normalization::MeanCenterConstantNorm, randn({12}, 12), 1.75);
        save_sae(sae, dir / "n", SaeFormat::SaeLens);
        Sae folded = sae.clone();
        folded.fold_normalization();
        const Sae back = load_sae(dir / "n");
        require_same_tensors(back, folded);
        CHECK(back.config().normalization == Normalization::None);
        CHECK_THAT(evoscope::test::read_file(dir / "n" / "cfg.json"),
                   Contains("mean_center_constant_norm"));
    }
}

TEST_CASE("SAE formats: Goodfire's Evo 2 layout imports and encodes as PyTorch does",
          "[sae][sae_formats]") {
    const fs::path file = fixture_path("sae/goodfire_tiny_k_4.pt");
    SECTION("a Module.state_dict() (OrderedDict) reads without any reader installed") {
        REQUIRE_NOTHROW(load_sae(file));
    }
    REQUIRE(detect_sae_format(file) == SaeFormat::Goodfire);
    const Sae sae = load_sae(file);
    const auto& c = sae.config();
    CHECK(c.d_in == 16);
    CHECK(c.d_sae == 64);
    CHECK(c.k == 4);  // from the file name
    CHECK(c.arch == Arch::BatchTopK);
    CHECK(c.tied);
    CHECK_FALSE(c.apply_b_dec_to_input);
    CHECK_FALSE(sae.has_threshold());

    // The `_orig_mod.` prefixes are stripped and W is used as W_enc and, transposed, as W_dec.
    const model::TorchCheckpoint raw({file});
    REQUIRE(raw.find("_orig_mod.W") != nullptr);
    const auto W = raw.tensor(*raw.find("_orig_mod.W"));
    const auto t = sae.saelens_tensors();
    CHECK(same_bits(t[0].second, W));
    CHECK(same_bits(t[1].second, W.t().contiguous()));
    CHECK(same_bits(t[3].second, raw.tensor(*raw.find("_orig_mod.b_dec"))));

    const auto x = npy_tensor("sae/goodfire_tiny_k_4.input.npy");
    const auto want = npy_tensor("sae/goodfire_tiny_k_4.codes.npy");
    require_same_codes(dense(sae.encode(x, EncodeMode::BatchTopK), 64), want);
    require_same_codes(dense(sae.encode(x), 64), want);  // no threshold: Default is batch top-k too

    SECTION("--k overrides the file name") {
        CHECK(load_sae(file, with_k(2)).config().k == 2);
    }
    SECTION("without k in the name or options the error says to pass --k") {
        TempDir dir;
        fs::copy_file(file, dir / "goodfire_tiny.pt");
        REQUIRE_THROWS_AS(load_sae(dir / "goodfire_tiny.pt"), InputError);
        REQUIRE_THROWS_WITH(load_sae(dir / "goodfire_tiny.pt"), Contains("--k"));
        CHECK(load_sae(dir / "goodfire_tiny.pt", with_k(4)).config().k == 4);
    }
}

TEST_CASE("SAE formats: dictionary_learning's ae.pt imports and encodes as PyTorch does",
          "[sae][sae_formats]") {
    const auto x = npy_tensor("sae/goodfire_tiny_k_4.input.npy");
    const auto want = npy_tensor("sae/dl_tiny/codes.npy");
    for (const fs::path& path : {fixture_path("sae/dl_tiny"), fixture_path("sae/dl_tiny/ae.pt")}) {
        INFO(path.string());
        REQUIRE(detect_sae_format(path) == SaeFormat::DictionaryLearning);
        const Sae sae = load_sae(path);
        const auto& c = sae.config();
        CHECK(c.d_in == 16);
        CHECK(c.d_sae == 64);
        CHECK(c.k == 4);
        CHECK(c.arch == Arch::BatchTopK);
        CHECK(c.apply_b_dec_to_input);
        CHECK_FALSE(c.tied);
        CHECK(c.hook_name == "blocks.2");
        CHECK(c.model_name == "tiny-sdh");
        REQUIRE(sae.has_threshold());
        CHECK(sae.params().threshold[0].item<float>() == 0.3f);
        require_same_codes(dense(sae.encode(x), 64), want);
    }
    SECTION("without config.json: k and threshold buffers mean BatchTopK") {
        TempDir dir;
        fs::copy_file(fixture_path("sae/dl_tiny/ae.pt"), dir / "ae.pt");
        const Sae sae = load_sae(dir / "ae.pt");
        CHECK(sae.config().arch == Arch::BatchTopK);
        CHECK(sae.config().k == 4);
        CHECK(sae.config().hook_name.empty());
        require_same_codes(dense(sae.encode(x), 64), want);
    }
}

TEST_CASE("SAE formats: bad files and mismatches are rejected naming the file and key",
          "[sae][sae_formats]") {
    TempDir dir;
    auto write_pt = [&](const std::string& name,
                        std::vector<std::pair<std::string, at::Tensor>> tensors) {
        write_state_dict(dir / name, tensors);
        return dir / name;
    };
    SECTION("d_in not matching the model") {
        REQUIRE_THROWS_AS(
            load_sae(fixture_path("sae/goodfire_tiny_k_4.pt"), with_d_in(128, "blocks.4")),
            InputError);
        REQUIRE_THROWS_WITH(
            load_sae(fixture_path("sae/goodfire_tiny_k_4.pt"), with_d_in(128, "blocks.4")),
            Contains("SAE d_in 16 does not match the model's hidden size 128 (site blocks.4)"));
        REQUIRE_THROWS_WITH(load_sae(fixture_path("sae/dl_tiny"), with_d_in(8)),
                            Contains("d_in 16"));
        CHECK(load_sae(fixture_path("sae/dl_tiny"), with_d_in(16)).config().d_in == 16);
    }
    SECTION("unknown keys: detection lists what it found") {
        const auto p =
            write_pt("x_k_4.pt", {{"W", at::zeros({16, 64})}, {"b_enc", at::zeros({64})}});
        REQUIRE_THROWS_AS(detect_sae_format(p), FormatError);
        REQUIRE_THROWS_WITH(
            load_sae(p), Contains("x_k_4.pt") && Contains("W [16, 64]") && Contains("b_enc [64]"));
    }
    SECTION("a missing key is named") {
        const auto p =
            write_pt("y_k_4.pt", {{"W", at::zeros({16, 64})}, {"b_enc", at::zeros({64})}});
        REQUIRE_THROWS_AS(load_sae(p, with_format(SaeFormat::Goodfire)), FormatError);
        REQUIRE_THROWS_WITH(load_sae(p, with_format(SaeFormat::Goodfire)), Contains("'b_dec'"));
        const auto q = write_pt("ae.pt",
                                {{"encoder.weight", at::zeros({64, 16})},
                                 {"decoder.weight", at::zeros({16, 64})},
                                 {"b_dec", at::zeros({16})}});
        REQUIRE_THROWS_WITH(load_sae(q), Contains("'encoder.bias'"));
    }
    SECTION("a wrong shape names key, expected and found shapes") {
        const auto p = write_pt(
            "z_k_4.pt",
            {{"W", at::zeros({16, 63})}, {"b_enc", at::zeros({64})}, {"b_dec", at::zeros({16})}});
        REQUIRE_THROWS_AS(load_sae(p), FormatError);
        REQUIRE_THROWS_WITH(load_sae(p),
                            Contains("'W'") && Contains("[16, 63]") && Contains("[16, 64]"));
    }
    SECTION("NaN weights name the key") {
        auto W = at::zeros({16, 64});
        W[3][5] = std::numeric_limits<float>::quiet_NaN();
        const auto p = write_pt("n_k_4.pt",
                                {{"W", W}, {"b_enc", at::zeros({64})}, {"b_dec", at::zeros({16})}});
        REQUIRE_THROWS_AS(load_sae(p), FormatError);
        REQUIRE_THROWS_WITH(load_sae(p), Contains("'W'") && Contains("NaN"));
    }
    SECTION("SAELens: missing tensor, unsupported normalisation, unknown architecture") {
        const Sae sae = make_sae({"t", Arch::TopK, false, true, false}, 3);
        save_sae(sae, dir / "s", SaeFormat::SaeLens);
        const auto cfg = evoscope::test::read_file(dir / "s" / "cfg.json");
        {
            const SafetensorsReader file(dir / "s" / "sae_weights.safetensors");
            std::vector<SafetensorsTensor> kept;
            for (const auto& e : file.entries()) {
                if (e.name != "W_dec") {
                    kept.push_back({e.name, e.dtype, e.shape, file.bytes(e)});
                }
            }
            write_safetensors(dir / "s" / "trimmed.safetensors", kept);
        }
        fs::rename(dir / "s" / "trimmed.safetensors", dir / "s" / "sae_weights.safetensors");
        REQUIRE_THROWS_AS(load_sae(dir / "s"), FormatError);
        REQUIRE_THROWS_WITH(load_sae(dir / "s"),
                            Contains("'W_dec'") && Contains("sae_weights.safetensors"));

        save_sae(sae, dir / "s", SaeFormat::SaeLens, true);
        auto edited = cfg;
        const std::string norm = "\"normalize_activations\": \"none\"";
        edited.replace(edited.find(norm), norm.size(), "\"normalize_activations\": \"layer_norm\"");
        evoscope::test::write_file(dir / "s" / "cfg.json", edited);
        REQUIRE_THROWS_WITH(load_sae(dir / "s"),
                            Contains("normalize_activations 'layer_norm'") && Contains("cfg.json"));
        edited = cfg;
        edited.replace(edited.find("\"topk\""), 6, "\"gated\"");
        evoscope::test::write_file(dir / "s" / "cfg.json", edited);
        REQUIRE_THROWS_WITH(load_sae(dir / "s"), Contains("architecture 'gated'"));
    }
    SECTION("writing: refusals leave existing outputs alone") {
        const Sae untied = make_sae({"u", Arch::BatchTopK, false, true, false}, 4);
        REQUIRE_THROWS_WITH(save_sae(untied, dir / "u_k_5.pt", SaeFormat::Goodfire),
                            Contains("tied"));
        CHECK_FALSE(fs::exists(dir / "u_k_5.pt"));
        save_sae(untied, dir / "s", SaeFormat::SaeLens);
        const auto before = evoscope::test::read_file(dir / "s" / "sae_weights.safetensors");
        REQUIRE_THROWS_WITH(
            save_sae(
                make_sae({"v", Arch::TopK, false, true, false}, 5), dir / "s", SaeFormat::SaeLens),
            Contains("exists"));
        CHECK(evoscope::test::read_file(dir / "s" / "sae_weights.safetensors") == before);
        CHECK(evoscope::test::list_dir(dir.path()) == std::vector<std::string>{"s"});
    }
}

TEST_CASE("SAE formats: Python's torch.load reads the .pt files we write",
          "[sae][sae_formats][.slow]") {
    const fs::path python = "/usr/bin/python3";
    if (!fs::exists(python) ||
        evoscope::test::run_program({python.string(), "-c", "import torch, numpy"}).exit_code !=
            0) {
        WARN("skipped: /usr/bin/python3 with torch and numpy is not available");
        return;
    }
    TempDir dir;
    const Sae gf = make_sae({"gf", Arch::BatchTopK, true, false, false}, 21);
    const Sae dl = make_sae({"dl", Arch::BatchTopK, false, true, true}, 22);
    save_sae(gf, dir / "gf_k_5.pt", SaeFormat::Goodfire);
    save_sae(dl, dir / "dl" / "ae.pt", SaeFormat::DictionaryLearning);
    // Goodfire: the notebook's loading code; dictionary_learning: load_state_dict(strict=True) into
    // a module with BatchTopKSAE's parameters and buffers. Tensors go back out as .npy.
    const std::string script = R"PY(
import json, sys, numpy as np, torch, torch.nn as nn
d = sys.argv[1]
sd = torch.load(d + "/gf_k_5.pt")
assert sorted(sd) == ["W", "b_dec", "b_enc"], sorted(sd)
assert sd["W"].shape == (12, 40) and sd["W"].dtype == torch.float32
np.save(d + "/gf_W.npy", sd["W"].numpy())
class BatchTopKSAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("k", torch.tensor(1, dtype=torch.int))
        self.register_buffer("threshold", torch.tensor(-1.0))
        self.decoder = nn.Linear(40, 12, bias=False)
        self.encoder = nn.Linear(12, 40)
        self.b_dec = nn.Parameter(torch.zeros(12))
ae = BatchTopKSAE()
ae.load_state_dict(torch.load(d + "/dl/ae.pt"), strict=True)
cfg = json.load(open(d + "/dl/config.json"))
assert cfg["trainer"]["dict_class"] == "BatchTopKSAE" and cfg["trainer"]["k"] == 5
print(int(ae.k), float(ae.threshold))
np.save(d + "/dl_dec.npy", ae.decoder.weight.detach().numpy())
)PY";
    const auto r =
        evoscope::test::run_program({python.string(), "-c", script, dir.path().string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "5 0.03750000149011612\n");
    auto read = [&](const std::string& name) {
        NpyInfo info;
        auto v = read_npy_float32(dir / name, &info);
        return at::from_blob(v.data(),
                             std::vector<std::int64_t>(info.shape.begin(), info.shape.end()),
                             at::kFloat)
            .clone();
    };
    CHECK(same_bits(read("gf_W.npy"), gf.saelens_tensors()[0].second));
    CHECK(same_bits(read("dl_dec.npy"), dl.saelens_tensors()[1].second.t().contiguous()));
}
