/// @file
/// Evo 2's byte-level tokenizer (vortex `CharLevelTokenizer(512)`): each byte of the text is
/// its own token id 0..255; the vocabulary has 512 rows (256..511 unused). End-of-document
/// (also EOS) is id 0, padding is id 1; there is no BOS token (scoring with prepend_bos puts
/// the EOD id first). The tokenizer does not change case: 'a' (97) and 'A' (65) differ, so
/// callers upper-case soft-masked sequence first (see genomics CasePolicy).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace evoscope::model {

using TokenId = std::int32_t;

struct Tokenizer {
    static constexpr TokenId kVocabSize = 512;
    static constexpr TokenId kEodId = 0;
    static constexpr TokenId kEosId = 0;
    static constexpr TokenId kPadId = 1;

    /// One id per byte of `text`, in order.
    static std::vector<TokenId> tokenize(std::string_view text);
    /// Same, appended to `out` (no allocation when `out` has capacity).
    static void tokenize_into(std::string_view text, std::vector<TokenId>& out);
    /// Inverse mapping as the reference does it: each id is clamped to [32, vocab_size] and
    /// written as that Unicode code point in UTF-8 (so 0 and 1 become spaces, 65 becomes 'A').
    static std::string detokenize(std::span<const TokenId> ids);
    /// Right-pads every sequence with kPadId to the longest length; returns [n, max_len]
    /// row-major ids and fills `lengths` with the unpadded lengths.
    static std::vector<TokenId> pad_batch(const std::vector<std::vector<TokenId>>& seqs,
                                          std::vector<std::int64_t>& lengths);
};

}  // namespace evoscope::model
