#include "tests/support/test_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace evoscope::test {

std::filesystem::path data_path(const std::string& relative) {
    return std::filesystem::path(EVOSCOPE_DATA_DIR) / relative;
}

std::filesystem::path fixture_path(const std::string& relative) {
    return std::filesystem::path(EVOSCOPE_TEST_DATA_DIR) / relative;
}

TempDir::TempDir() {
    std::random_device rd;
    std::mt19937_64 rng(rd());
    const auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto candidate = base / ("evoscope-test-" + std::to_string(rng()));
        if (std::filesystem::create_directory(candidate)) {
            path_ = candidate;
            return;
        }
    }
    throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
    std::error_code ec;
    // Restore write permission first: tests make read-only folders.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec)) {
        std::filesystem::permissions(
            it->path(), std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    }
    std::filesystem::permissions(
        path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

std::vector<std::filesystem::path> write_parts(const TempDir& dir,
                                               const std::string& bytes,
                                               const std::vector<std::size_t>& cuts) {
    std::vector<std::filesystem::path> parts;
    std::size_t begin = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t end = i < cuts.size() ? cuts[i] : bytes.size();
        parts.push_back(dir / ("ckpt.pt.part" + std::to_string(i)));
        write_file(parts.back(), bytes.substr(begin, end - begin));
        begin = end;
    }
    return parts;
}

RunResult run_program(const std::vector<std::string>& argv,
                      const std::filesystem::path& cwd,
                      const std::string& stdin_text) {
    TempDir io;
    const auto in_path = io / "stdin";
    const auto out_path = io / "stdout";
    const auto err_path = io / "stderr";
    write_file(in_path, stdin_text);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(
        &actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(
        &actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);

    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);

    // posix_spawn has no chdir action in glibc 2.36's public API: change directory around it.
    const auto old_cwd = std::filesystem::current_path();
    if (!cwd.empty()) {
        std::filesystem::current_path(cwd);
    }
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    if (!cwd.empty()) {
        std::filesystem::current_path(old_cwd);
    }
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + argv.front());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    return result;
}

RunResult run_evoscope(const std::vector<std::string>& args,
                       const std::filesystem::path& cwd,
                       const std::string& stdin_text) {
    std::vector<std::string> argv{EVOSCOPE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, cwd, stdin_text);
}

bool have_program(const std::string& program) {
    const char* path = std::getenv("PATH");
    if (path == nullptr) {
        return false;
    }
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        if (!dir.empty() && ::access((std::filesystem::path(dir) / program).c_str(), X_OK) == 0) {
            return true;
        }
    }
    return false;
}

std::map<std::string, std::string> plain_fasta_text(const std::string& text) {
    std::map<std::string, std::string> out;
    std::string* current = nullptr;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string::npos)
            nl = text.size();
        const std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty())
            continue;
        if (line[0] == '>') {
            current = &out[line.substr(1, line.find_first_of(" \t") - 1)];
        } else if (current != nullptr) {
            *current += line;
        }
    }
    return out;
}

std::map<std::string, std::string> plain_fasta(const std::filesystem::path& path) {
    return plain_fasta_text(read_file(path));
}

std::string plain_revcomp(const std::string& seq) {
    std::string out(seq.rbegin(), seq.rend());
    for (char& c : out) {
        const bool lower = c >= 'a' && c <= 'z';
        char u = lower ? static_cast<char>(c - 'a' + 'A') : c;
        switch (u) {
            case 'A':
                u = 'T';
                break;
            case 'T':
                u = 'A';
                break;
            case 'C':
                u = 'G';
                break;
            case 'G':
                u = 'C';
                break;
            case 'R':
                u = 'Y';
                break;
            case 'Y':
                u = 'R';
                break;
            case 'K':
                u = 'M';
                break;
            case 'M':
                u = 'K';
                break;
            case 'B':
                u = 'V';
                break;
            case 'V':
                u = 'B';
                break;
            case 'D':
                u = 'H';
                break;
            case 'H':
                u = 'D';
                break;
            default:
                break;  // S, W, N map to themselves
        }
        c = lower ? static_cast<char>(u - 'A' + 'a') : u;
    }
    return out;
}

std::vector<std::vector<std::string>> tsv_rows(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> fields;
        std::istringstream ls(line);
        std::string field;
        while (std::getline(ls, field, '\t'))
            fields.push_back(field);
        rows.push_back(fields);
    }
    return rows;
}

std::vector<std::string> list_dir(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace evoscope::test
