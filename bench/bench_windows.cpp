// Windowing throughput against samtools faidx on the same regions.
//
//   build/release/bench/evoscope_bench_windows [FASTA] [--window N] [--stride N] [--repeat N]
//
// Prints windows/s and MB/s for (1) the in-process WindowStream, (2) `evoscope windows --format
// fasta` and (3) `samtools faidx -r regions.txt` over the same regions (both writing FASTA with
// 60-column lines to /dev/null), the ratio samtools-time / evoscope-time (>= 1 means evoscope is
// at least as fast), and each process's peak RSS. Run it on two genome sizes to see memory stay
// flat.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/strings.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/window.hpp"

extern char** environ;

namespace {

struct ChildRun {
    double seconds = 0;
    double peak_rss_mb = 0;
    int exit_code = -1;
};

ChildRun run_child(const std::vector<std::string>& argv) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    ChildRun result;
    if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

ChildRun best_of(const std::vector<std::string>& argv, int repeat) {
    ChildRun best;
    best.seconds = 1e30;
    for (int i = 0; i < repeat; ++i) {
        const auto r = run_child(argv);
        if (r.exit_code != 0)
            return r;
        if (r.seconds < best.seconds)
            best = r;
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace evoscope;
    std::string fasta_path = std::string(EVOSCOPE_DATA_DIR) + "/genomes/ctrachomatis.fa";
    std::int64_t window = 8192;
    std::int64_t stride = 4096;
    int repeat = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--window" && i + 1 < argc)
            window = parse_int64(argv[++i], "--window");
        else if (a == "--stride" && i + 1 < argc)
            stride = parse_int64(argv[++i], "--stride");
        else if (a == "--repeat" && i + 1 < argc)
            repeat = static_cast<int>(parse_int64(argv[++i], "--repeat"));
        else
            fasta_path = a;
    }

    const genomics::FastaReader fasta(fasta_path);
    const genomics::ContigSet contigs(fasta.contigs());
    genomics::WindowConfig config;
    config.window_bp = window;
    config.stride_bp = stride;

    // 1. In-process stream, best of `repeat`.
    double best_stream = 1e30;
    std::int64_t n_windows = 0;
    std::int64_t n_bases = 0;
    for (int r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        genomics::WindowStream stream(fasta, genomics::whole_genome(contigs), config);
        std::int64_t windows = 0;
        std::int64_t bases = 0;
        std::uint64_t checksum = 0;
        while (auto w = stream.next()) {
            ++windows;
            bases += static_cast<std::int64_t>(w->sequence.size());
            checksum += static_cast<unsigned char>(w->sequence[w->sequence.size() / 2]);
        }
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best_stream = std::min(best_stream, s);
        n_windows = windows;
        n_bases = bases;
        if (checksum == 0)
            std::puts("");  // keep the loop observable
    }

    // Regions file for samtools: exactly the windows evoscope makes.
    const auto tmp =
        std::filesystem::temp_directory_path() / fmt::format("evoscope-bench-{}", ::getpid());
    std::filesystem::create_directories(tmp);
    const auto regions_txt = tmp / "regions.txt";
    {
        std::FILE* f = std::fopen(regions_txt.c_str(), "w");
        genomics::WindowStream stream(fasta, genomics::whole_genome(contigs), config);
        while (auto w = stream.next()) {
            std::fprintf(f,
                         "%s:%lld-%lld\n",
                         w->interval.contig.c_str(),
                         static_cast<long long>(w->interval.begin + 1),
                         static_cast<long long>(w->interval.end));
        }
        std::fclose(f);
    }

    const auto ours = best_of({EVOSCOPE_BIN,
                               "windows",
                               "-q",
                               "-f",
                               fasta_path,
                               "-w",
                               std::to_string(window),
                               "-s",
                               std::to_string(stride),
                               "--format",
                               "fasta"},
                              repeat);
    const auto sam = best_of({"samtools", "faidx", "-r", regions_txt.string(), fasta_path}, repeat);
    std::filesystem::remove_all(tmp);

    const double mb = static_cast<double>(n_bases) / 1e6;
    fmt::print(
        "genome {} ({} contigs), window {} bp, stride {} bp: {} windows, {:.1f} MB of window "
        "sequence\n",
        fasta_path,
        fasta.contigs().size(),
        window,
        stride,
        n_windows,
        mb);
    fmt::print(
        "{:<34} {:>10} {:>14} {:>10} {:>12}\n", "", "seconds", "windows/s", "MB/s", "peak RSS MB");
    fmt::print("{:<34} {:>10.4f} {:>14.0f} {:>10.1f} {:>12}\n",
               "evoscope WindowStream (in-process)",
               best_stream,
               static_cast<double>(n_windows) / best_stream,
               mb / best_stream,
               "-");
    if (ours.exit_code == 0) {
        fmt::print("{:<34} {:>10.4f} {:>14.0f} {:>10.1f} {:>12.1f}\n",
                   "evoscope windows --format fasta",
                   ours.seconds,
                   static_cast<double>(n_windows) / ours.seconds,
                   mb / ours.seconds,
                   ours.peak_rss_mb);
    } else {
        fmt::print("evoscope windows failed (exit {})\n", ours.exit_code);
    }
    if (sam.exit_code == 0) {
        fmt::print("{:<34} {:>10.4f} {:>14.0f} {:>10.1f} {:>12.1f}\n",
                   "samtools faidx -r (same regions)",
                   sam.seconds,
                   static_cast<double>(n_windows) / sam.seconds,
                   mb / sam.seconds,
                   sam.peak_rss_mb);
        if (ours.exit_code == 0) {
            fmt::print("ratio samtools/evoscope (CLI vs CLI, FASTA out): {:.2f}  (goal >= 1.0)\n",
                       sam.seconds / ours.seconds);
        }
    } else {
        fmt::print("samtools not available (exit {}): no comparison\n", sam.exit_code);
    }
    return 0;
}
