/// @file
/// Helpers shared by the test tiers: paths to bundled data, scratch directories that clean
/// up after themselves, and running the built `evoscope` binary with captured output.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace evoscope::test {

/// Path of a file under data/ (the bundled genomes), e.g. data_path("genomes/lambda.fa").
std::filesystem::path data_path(const std::string& relative);
/// Path of a committed fixture under tests/data/.
std::filesystem::path fixture_path(const std::string& relative);

/// A fresh empty directory, removed (recursively) when the object dies.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);
/// Writes `bytes` split at `cuts` into dir/ckpt.pt.part0, .part1, ... and returns the paths.
std::vector<std::filesystem::path> write_parts(const TempDir& dir,
                                               const std::string& bytes,
                                               const std::vector<std::size_t>& cuts);

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs the built evoscope binary with `args` (no shell), in `cwd` if given, stdin empty
/// unless `stdin_text` is given.
RunResult run_evoscope(const std::vector<std::string>& args,
                       const std::filesystem::path& cwd = {},
                       const std::string& stdin_text = {});
/// Runs any program found on PATH (e.g. samtools) the same way.
RunResult run_program(const std::vector<std::string>& argv,
                      const std::filesystem::path& cwd = {},
                      const std::string& stdin_text = {});
/// True when `program` is on PATH.
bool have_program(const std::string& program);

/// An independent, deliberately plain FASTA parser (no htslib): records keyed by the first word
/// of the header, lines concatenated. For checking evoscope's readers against.
std::map<std::string, std::string> plain_fasta_text(const std::string& text);
std::map<std::string, std::string> plain_fasta(const std::filesystem::path& path);
/// Reverse complement with a complement table written out by hand (IUPAC codes, case kept),
/// independent of genomics/sequence.
std::string plain_revcomp(const std::string& seq);

/// Splits text into lines and each line on tabs (empty fields kept), for checking TSV/BED output.
std::vector<std::vector<std::string>> tsv_rows(const std::string& text);

/// Lists the entries of a directory (names only), sorted.
std::vector<std::string> list_dir(const std::filesystem::path& dir);

}  // namespace evoscope::test
