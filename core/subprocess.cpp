#include "core/subprocess.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/check.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"

extern char** environ;

namespace evoscope {

namespace {

/// Closes a descriptor when it goes out of scope.
struct Fd {
    int fd = -1;

    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

/// The file actions of one spawn, released on every path.
struct SpawnActions {
    posix_spawn_file_actions_t actions{};

    SpawnActions() { posix_spawn_file_actions_init(&actions); }

    ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }

    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
};

}  // namespace

std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) {
            out += ' ';
        }
        const bool plain =
            !a.empty() && a.find_first_not_of(
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                              "klmnopqrstuvwxyz0123456789_-./=:,+@%") == std::string::npos;
        if (plain) {
            out += a;
            continue;
        }
        out += '\'';
        for (const char c : a) {
            if (c == '\'') {
                out += "'\\''";
            } else {
                out += c;
            }
        }
        out += '\'';
    }
    return out;
}

void run_in_fork(const std::function<void()>& fn) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw IoError(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
    Fd read_end{pipe_fds[0]};
    Fd write_end{pipe_fds[1]};
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw IoError(fmt::format("cannot fork: {}", std::strerror(errno)));
    }
    if (pid == 0) {
        // The child: one class letter and the message, then _exit (no atexit handlers, no
        // destructors of the parent's objects).
        std::string message;
        char kind = '0';
        try {
            fn();
        } catch (const UsageError& e) {
            kind = 'U';
            message = e.what();
        } catch (const FormatError& e) {
            kind = 'F';
            message = e.what();
        } catch (const IoError& e) {
            kind = 'O';
            message = e.what();
        } catch (const InternalError& e) {
            kind = 'B';
            message = e.what();
        } catch (const Error& e) {
            kind = 'I';
            message = e.what();
        } catch (const std::exception& e) {
            kind = 'B';
            message = e.what();
        } catch (...) {
            kind = 'B';
            message = "unknown exception";
        }
        const std::string payload = std::string(1, kind) + message;
        std::size_t done = 0;
        while (done < payload.size()) {
            const ssize_t n = ::write(write_end.fd, payload.data() + done, payload.size() - done);
            if (n <= 0) {
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        std::fflush(stderr);
        ::_exit(kind == '0' ? 0 : 1);
    }
    ::close(write_end.fd);
    write_end.fd = -1;
    std::string payload;
    char buffer[4096];
    while (true) {
        const ssize_t n = ::read(read_end.fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        payload.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && (payload.empty() || payload[0] == '0')) {
        return;
    }
    const std::string message = payload.size() > 1 ? payload.substr(1) : "the forked check failed";
    switch (payload.empty() ? 'B' : payload[0]) {
        case 'U':
            throw UsageError(message);
        case 'F':
            throw FormatError(message);
        case 'O':
            throw IoError(message);
        case 'I':
            throw InputError(message);
        default:
            throw InternalError(message);
    }
}

std::filesystem::path self_executable(const std::filesystem::path& fallback) {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? fallback : self;
}

ChildResult run_child(const std::vector<std::string>& argv, const ChildOptions& options) {
    if (argv.empty()) {
        throw InternalError("run_child needs a program");
    }
    std::FILE* log = nullptr;
    if (!options.log_path.empty()) {
        log = std::fopen(options.log_path.c_str(), "w");
        if (log == nullptr) {
            throw IoError(fmt::format(
                "cannot write '{}': {}", options.log_path.string(), std::strerror(errno)));
        }
    }

    struct LogCloser {
        std::FILE* f;

        ~LogCloser() {
            if (f != nullptr) {
                std::fclose(f);
            }
        }
    } log_closer{log};

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw IoError(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
    Fd read_end{pipe_fds[0]};
    Fd write_end{pipe_fds[1]};

    SpawnActions spawn;
    const std::string out_path =
        options.stdout_path.empty() ? std::string("/dev/null") : options.stdout_path.string();
    posix_spawn_file_actions_addopen(
        &spawn.actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&spawn.actions, write_end.fd, 2);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);

    std::fflush(stdout);
    std::fflush(stderr);
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    const int rc =
        argv[0].find('/') == std::string::npos
            ? ::posix_spawnp(&pid, args[0], &spawn.actions, nullptr, args.data(), environ)
            : ::posix_spawn(&pid, args[0], &spawn.actions, nullptr, args.data(), environ);
    if (rc != 0) {
        throw IoError(fmt::format("cannot run '{}': {}", argv[0], std::strerror(rc)));
    }
    ::close(write_end.fd);
    write_end.fd = -1;

    ChildResult result;
    // Copy stderr line by line (progress lines ending in '\r' pass through as they come).
    std::string pending;
    char buffer[4096];
    while (true) {
        const ssize_t n = ::read(read_end.fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (options.echo_stderr) {
            std::fwrite(buffer, 1, static_cast<std::size_t>(n), stderr);
            std::fflush(stderr);
        }
        if (log != nullptr) {
            std::fwrite(buffer, 1, static_cast<std::size_t>(n), log);
        }
        pending.append(buffer, static_cast<std::size_t>(n));
        std::size_t nl = 0;
        while ((nl = pending.find('\n')) != std::string::npos) {
            const std::string line = pending.substr(0, nl);
            if (starts_with(line, "[E::") && result.last_error_line.empty()) {
                result.last_error_line = line;
            }
            pending.erase(0, nl + 1);
        }
        if (pending.size() > 65536) {
            pending.clear();
        }
    }
    int status = 0;
    rusage usage{};
    while (::wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            throw IoError(
                fmt::format("waiting for '{}' failed: {}", argv[0], std::strerror(errno)));
        }
    }
    result.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    result.peak_rss_bytes = static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.exit_code = 128 + WTERMSIG(status);
    }
    if (log != nullptr && std::fflush(log) != 0) {
        throw IoError(fmt::format("cannot write '{}'", options.log_path.string()));
    }
    return result;
}

}  // namespace evoscope
