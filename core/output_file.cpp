#include "core/output_file.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <unistd.h>

#include "core/error.hpp"

namespace evoscope {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

}  // namespace

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
    static std::atomic<unsigned> counter{0};
    const auto n = counter.fetch_add(1);
    std::filesystem::path dir = path.parent_path();
    std::string name = "." + path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                       std::to_string(n);
    return dir.empty() ? std::filesystem::path(name) : dir / name;
}

void commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec) {
        std::filesystem::remove(temp, ec);
        throw IoError("cannot move output into place at '" + path.string() + "': " + ec.message());
    }
}

void commit_temp_dir(const std::filesystem::path& temp, const std::filesystem::path& dir) {
    if (std::filesystem::exists(dir)) {
        std::filesystem::remove_all(dir);
    }
    std::error_code ec;
    std::filesystem::rename(temp, dir, ec);
    if (ec) {
        throw IoError("cannot move " + temp.string() + " to " + dir.string() + ": " + ec.message());
    }
}

OutputFile::OutputFile(std::string path, bool overwrite) : path_(std::move(path)) {
    if (path_ == "-") {
        to_stdout_ = true;
        file_ = stdout;
        return;
    }
    if (!overwrite && std::filesystem::exists(path_)) {
        throw InputError("output '" + path_ + "' exists (use --force to overwrite)");
    }
    const auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
        throw IoError("cannot write '" + path_ + "': directory '" + parent.string() +
                      "' does not exist");
    }
    temp_path_ = temp_path_for(path_).string();
    file_ = std::fopen(temp_path_.c_str(), "wb");
    if (file_ == nullptr) {
        throw IoError("cannot write '" + path_ + "': " + errno_text());
    }
}

OutputFile::~OutputFile() {
    if (to_stdout_ || committed_) {
        return;
    }
    if (file_ != nullptr) {
        std::fclose(file_);
    }
    std::error_code ec;
    std::filesystem::remove(temp_path_, ec);
}

void OutputFile::write(std::string_view text) {
    if (!text.empty()) {
        std::fwrite(text.data(), 1, text.size(), file_);
    }
}

void OutputFile::commit() {
    if (committed_) {
        return;
    }
    if (to_stdout_) {
        committed_ = true;
        if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
            throw IoError("writing to standard output failed: " + errno_text());
        }
        return;
    }
    const bool write_failed = std::ferror(file_) != 0;
    const bool close_failed = std::fclose(file_) != 0;
    file_ = nullptr;
    if (write_failed || close_failed) {
        const std::string reason = errno_text();
        std::error_code ec;
        std::filesystem::remove(temp_path_, ec);
        committed_ = true;
        throw IoError("writing '" + path_ + "' failed: " + reason);
    }
    committed_ = true;
    commit_temp_file(temp_path_, path_);
}

void create_output_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw IoError("cannot create output folder '" + dir.string() + "': " + ec.message());
    }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
    OutputFile out(path.string());
    out.write(content);
    out.commit();
}

}  // namespace evoscope
