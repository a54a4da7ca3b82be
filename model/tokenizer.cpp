#include "model/tokenizer.hpp"

#include <algorithm>

namespace evoscope::model {

std::vector<TokenId> Tokenizer::tokenize(std::string_view text) {
    std::vector<TokenId> ids;
    tokenize_into(text, ids);
    return ids;
}

void Tokenizer::tokenize_into(std::string_view text, std::vector<TokenId>& out) {
    out.reserve(out.size() + text.size());
    for (const char c : text) {
        out.push_back(static_cast<TokenId>(static_cast<unsigned char>(c)));
    }
}

std::string Tokenizer::detokenize(std::span<const TokenId> ids) {
    // Mirrors vortex CharLevelTokenizer.decode_token: chr(min(max(token, 32), vocab_size)).
    std::string text;
    text.reserve(ids.size());
    for (const TokenId id : ids) {
        const auto cp = static_cast<std::uint32_t>(std::clamp<TokenId>(id, 32, kVocabSize));
        if (cp < 0x80) {
            text.push_back(static_cast<char>(cp));
        } else {
            text.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }
    return text;
}

std::vector<TokenId> Tokenizer::pad_batch(const std::vector<std::vector<TokenId>>& seqs,
                                          std::vector<std::int64_t>& lengths) {
    std::size_t max_len = 0;
    for (const auto& s : seqs) {
        max_len = std::max(max_len, s.size());
    }
    std::vector<TokenId> out(seqs.size() * max_len, kPadId);
    lengths.clear();
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        std::copy(
            seqs[i].begin(), seqs[i].end(), out.begin() + static_cast<std::ptrdiff_t>(i * max_len));
        lengths.push_back(static_cast<std::int64_t>(seqs[i].size()));
    }
    return out;
}

}  // namespace evoscope::model
