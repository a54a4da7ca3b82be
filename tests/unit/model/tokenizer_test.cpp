#include "model/tokenizer.hpp"

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

using evoscope::model::TokenId;
using evoscope::model::Tokenizer;

TEST_CASE("Tokenizer: DNA bytes map to their ASCII codes", "[model][tokenizer]") {
    const auto ids = Tokenizer::tokenize("ACGTN");
    REQUIRE((ids == std::vector<TokenId>{65, 67, 71, 84, 78}));
    SECTION("case is not folded: soft-masked bases are different tokens") {
        REQUIRE((Tokenizer::tokenize("acgt") == std::vector<TokenId>{97, 99, 103, 116}));
    }
    SECTION("bytes above 127 are ids 128..255, never negative") {
        const auto high = Tokenizer::tokenize("\xff\x80");
        REQUIRE((high == std::vector<TokenId>{255, 128}));
    }
}

TEST_CASE("Tokenizer: special ids follow the reference (eod 0, pad 1, vocab 512)",
          "[model][tokenizer]") {
    STATIC_REQUIRE(Tokenizer::kEodId == 0);
    STATIC_REQUIRE(Tokenizer::kPadId == 1);
    STATIC_REQUIRE(Tokenizer::kVocabSize == 512);
    const std::vector<TokenId> specials{Tokenizer::kEodId, Tokenizer::kPadId};
    REQUIRE(Tokenizer::detokenize(specials) == "  ");
}

TEST_CASE("Tokenizer: detokenize inverts tokenize on a real genome window", "[model][tokenizer]") {
    const std::string fasta =
        evoscope::test::read_file(evoscope::test::data_path("genomes/lambda.fa"));
    std::string seq;
    for (std::size_t pos = fasta.find('\n') + 1; pos < fasta.size() && seq.size() < 5000; ++pos) {
        if (fasta[pos] != '\n')
            seq.push_back(fasta[pos]);
    }
    REQUIRE(seq.size() == 5000);
    const auto ids = Tokenizer::tokenize(seq);
    REQUIRE(ids.size() == seq.size());
    REQUIRE(Tokenizer::detokenize(ids) == seq);
}

TEST_CASE("Tokenizer: ids above 255 detokenize as UTF-8 code points, clamped to the vocab",
          "[model][tokenizer]") {
    const std::vector<TokenId> ids{300, 10000};
    // chr(300) = U+012C, chr(min(10000, 512)) = U+0200
    REQUIRE(Tokenizer::detokenize(ids) == "\xC4\xAC\xC8\x80");
}

TEST_CASE("Tokenizer: batches are right-padded with the pad id", "[model][tokenizer]") {
    std::vector<std::int64_t> lengths;
    const auto batch =
        Tokenizer::pad_batch({Tokenizer::tokenize("ACG"), Tokenizer::tokenize("T")}, lengths);
    REQUIRE((batch == std::vector<TokenId>{65, 67, 71, 84, 1, 1}));
    REQUIRE((lengths == std::vector<std::int64_t>{3, 1}));
}
