#include "tests/support/report_fixture.hpp"

#include <cmath>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "store/feature_store.hpp"

namespace evoscope::test {

namespace fs = std::filesystem;

namespace {

void put(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::string genome_sequence(std::uint32_t seed, std::int64_t n) {
    std::string s;
    std::uint32_t x = seed;
    for (std::int64_t i = 0; i < n; ++i) {
        x = x * 1664525U + 1013904223U;
        s += "ACGT"[(x >> 28U) & 3U];
    }
    return s;
}

bool in_cds(std::int64_t pos) {
    return (pos >= 1000 && pos < 1600) || (pos >= 1700 && pos < 2500);
}

}  // namespace

float fixture_value(std::uint32_t feature,
                    const std::string& contig,
                    std::int64_t pos,
                    char strand) {
    switch (feature) {
        case 1:
            if (contig == "chrA" && strand == '+' && in_cds(pos)) {
                return 0.5F + static_cast<float>(pos % 97) / 10.0F;
            }
            if (contig == "chrA" && strand == '-' && pos >= 3000 && pos < 3200) {
                return 0.25F * static_cast<float>(pos % 13 + 1);
            }
            return 0.0F;
        case 2: {
            if (strand != '+') {
                return 0.0F;
            }
            const std::int64_t centre = (pos + 200) / 400 * 400;  // nearest multiple of 400
            const std::int64_t d = pos - centre;
            if (centre == 0 || d < -4 || d > 4) {
                return 0.0F;
            }
            const float height = 3.0F + static_cast<float>(centre / 400 % 7) * 0.5F +
                                 (contig == "chrB" ? 0.25F : 0.0F);
            return height * std::exp(-0.3F * static_cast<float>(d * d));
        }
        case 3:
            if (strand == '+' && pos % 3 == 0) {
                return static_cast<float>(pos % 7) + 0.125F;
            }
            return 0.0F;
        default:
            return 0.0F;
    }
}

void write_report_fixture(const fs::path& dir) {
    fs::create_directories(dir);
    const fs::path root = fs::absolute(dir);
    const std::vector<std::pair<std::string, std::int64_t>> contigs = {{"chrA", 6000},
                                                                       {"chrB", 2500}};
    std::string fasta;
    std::uint32_t seed = 7;
    for (const auto& [name, len] : contigs) {
        fasta += ">" + name + " fixture\n";
        const auto seq = genome_sequence(seed++, len);
        for (std::size_t p = 0; p < seq.size(); p += 60) {
            fasta += seq.substr(p, 60) + "\n";
        }
    }
    put(root / "genome.fa", fasta);
    put(root / "genes.gff3",
        "##gff-version 3\n"
        "chrA\tfixture\tgene\t1001\t2500\t.\t+\t.\tID=g1;Name=alpha\n"
        "chrA\tfixture\tmRNA\t1001\t2500\t.\t+\t.\tID=t1;Parent=g1\n"
        "chrA\tfixture\tCDS\t1001\t1600\t.\t+\t0\tID=cds1;Parent=t1\n"
        "chrA\tfixture\tCDS\t1701\t2500\t.\t+\t2\tID=cds1;Parent=t1\n"
        "chrB\tfixture\tgene\t301\t372\t.\t-\t.\tID=g2;Name=trnX\n"
        "chrB\tfixture\ttRNA\t301\t372\t.\t-\t.\tID=r2;Parent=g2\n");

    // The feature store.
    sae::FeatureStoreHeader header;
    header.d_sae = 8;
    header.sae_path = (root / "sae").string();
    header.sae_hash = "sha256:fixture";
    header.model_path = "fixture.safetensors";
    header.site = "blocks.1";
    header.window_bp = 1000;
    header.stride_bp = 500;
    header.stitching = "fixture";
    header.provenance_json = R"j({"command": "evoscope sae encode (fixture)"})j";
    for (const auto& [name, len] : contigs) {
        header.contigs.push_back({name, len});
    }
    {
        sae::FeatureStoreWriter writer(root / "features", header, 1024, true);
        for (const auto& [name, len] : contigs) {
            for (const char strand : {'+', '-'}) {
                std::vector<std::int64_t> row_ptr{0};
                std::vector<std::uint32_t> ids;
                std::vector<float> values;
                for (std::int64_t p = 0; p < len; ++p) {
                    for (std::uint32_t f = 0; f < 8; ++f) {
                        const float v = fixture_value(f, name, p, strand);
                        if (v > 0.0F) {
                            ids.push_back(f);
                            values.push_back(v);
                        }
                    }
                    row_ptr.push_back(static_cast<std::int64_t>(ids.size()));
                }
                writer.append(name, 0, len, strand, row_ptr, ids, values);
            }
        }
        writer.commit();
    }

    // align/: align's columns; CDS and gene cleared chance, tRNA did not.
    const std::string concepts_header =
        "concept\tcategory\tn_positive\tn_elements\tscore\tbest_feature\tthreshold\tsense\t"
        "val_score\ttest_precision\ttest_recall\ttest_f1\ttest_domain_f1\ttest_auroc\t"
        "test_auprc\ttest_log_odds\ttest_z\tp_value\tq_value\tclears_chance\tneuron_best\t"
        "neuron_score\tcontrol_best\tcontrol_score\ttrivial_f1\tframe_baseline\n";
    put(root / "align" / "concepts.tsv",
        concepts_header +
            "CDS\tgene_structure\t1400\t1\tf1\tf/1\t0\tsame\t0.91\t0.95\t0.9\t0.92\t0.8\t0.97\t"
            "0.9\t3.1\t20.5\t0.00990099\t0.0198\tyes\tneuron/3+\t0.6\tf/5\t0.3\t0.15\tNA\n"
            "gene\tgene_structure\t1500\t1\tdomain_f1\tf/1\t0\tpooled\t0.7\t0.8\t0.7\t0.75\t0.66\t"
            "0.9\t0.8\t2.5\t15.2\t0.00990099\t0.0198\tyes\tneuron/4-\t0.55\tf/6\t0.2\t0.2\tNA\n"
            "tRNA\trna\t144\t1\tdomain_f1\tf/2\t0.5\tsame\t0.4\t0.3\t0.2\t0.24\t0.31\t0.6\t0.2\t"
            "0.4\t1.2\t0.2\t0.3\tno\tneuron/1+\t0.35\tf/7\t0.1\t0.02\tNA\n"
            "motif:MA0001.1\tmotif\t90\t10\tdomain_f1\tf/2\t0.15\tsame\t0.6\t0.5\t0.6\t0.55\t0.62\t"
            "0.8\t0.5\t2.0\t9.9\t0.00990099\t0.0198\tyes\tneuron/2+\t0.4\tf/5\t0.1\t0.01\tNA\n"
            "codon_pos_3\tcodon\t466\t0\tf1\tf/3\t0\tsame\t0.3\t0.33\t0.9\t0.48\t0\t0.7\t0.4\t"
            "1.5\t8.0\t0.00990099\t0.0198\tyes\tneuron/5+\t0.5\tf/4\t0.45\t0.05\t0.4\n");
    std::string features =
        "feature\tlabel\tconcept\tthreshold\tsense\tval_score\ttest_score\t"
        "test_precision\ttest_recall\tdensity\tmax\n";
    for (std::uint32_t f = 0; f < 8; ++f) {
        const char* label = f == 1 ? "CDS" : (f == 2 ? "motif:MA0001.1" : "-");
        features += fmt::format("f/{}\t{}\t{}\t0\tsame\t{}\t{}\t0.5\t0.5\t{}\t{}\n",
                                f,
                                label,
                                f == 3 ? "codon_pos_3" : label,
                                f == 1 ? 0.91 : 0.3,
                                f == 1 ? 0.92 : (f == 2 ? 0.62 : 0.1),
                                f == 0 ? 0.0 : 0.05,
                                f == 0 ? 0.0 : 9.0);
    }
    put(root / "align" / "features.tsv", features);
    put(root / "align" / "summary.json",
        fmt::format(R"({{
  "command": "evoscope align --features {0}/features --annotations {0}/genes.gff3 --fasta {0}/genome.fa -o {0}/align",
  "version": "0.1.0",
  "n_concepts": 5,
  "n_features": 8,
  "shifts": 100,
  "identified": {{"sae": 2, "neurons": 1, "control": 0}},
  "identified_rule": "val and test score > 0.5, q <= 0.05 and test score above the all-positive predictor's"
}}
)",
                    root.string()));

    // sae/
    put(root / "sae" / "cfg.json",
        R"({"architecture": "batchtopk", "d_in": 16, "d_sae": 8, "k": 2, "metadata": {"hook_name": "blocks.1"}})");
    std::string log =
        "step\ttokens\tloss\tmse\tfvu\taux_loss\tl0\tdead_fraction\tlr\teval_explained_variance\t"
        "eval_l0\teval_dead_fraction\n";
    for (int step = 0; step <= 20; ++step) {
        const double fvu = 1.0 / (1.0 + step);
        const bool eval = step % 5 == 0;
        log += fmt::format("{}\t{}\t{}\t{}\t{}\t0\t2\t{}\t0.001\t{}\t{}\t{}\n",
                           step,
                           step * 512,
                           step == 0 ? std::string("NA") : fmt::format("{:g}", fvu * 10),
                           step == 0 ? std::string("NA") : fmt::format("{:g}", fvu * 10),
                           step == 0 ? std::string("NA") : fmt::format("{:g}", fvu),
                           step == 0 ? std::string("NA") : fmt::format("{:g}", 0.5 / (1 + step)),
                           eval ? fmt::format("{:g}", 1.0 - fvu) : std::string("NA"),
                           eval ? std::string("2") : std::string("NA"),
                           eval ? fmt::format("{:g}", 0.25 / (1 + step)) : std::string("NA"));
    }
    put(root / "sae" / "train_log.tsv", log);
    put(root / "sae" / "curves.svg",
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" "
        "height=\"20\"><rect width=\"40\" height=\"20\" fill=\"#eee\"/></svg>\n");

    // motifs/f2/
    put(root / "motifs" / "f2" / "motif.meme",
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
        "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n"
        "MOTIF feature_2 20_peaks\nletter-probability matrix: alength= 4 w= 4 nsites= 20 E= 0\n"
        "0.9 0.05 0.025 0.025\n0.05 0.9 0.025 0.025\n0.025 0.025 0.9 0.05\n"
        "0.025 0.025 0.05 0.9\n\n");
    put(root / "motifs" / "f2" / "logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"60\"><title>feature_2"
        "</title><text x=\"10\" y=\"40\" font-size=\"30\" fill=\"#109648\">ACGT</text></svg>\n");
    put(root / "motifs" / "f2" / "tomtom.tsv",
        "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\t"
        "Query_consensus\tTarget_consensus\tOrientation\n"
        "feature_2\tMA0001.1\t0\t1e-05\t0.002\t0.001\t4\tACGT\tACGTT\t+\n");
    put(root / "motifs" / "f2" / "peaks.bed", "chrA\t400\t401\tfeature_2\t3.5\t+\n");

    put(root / "run.json",
        R"j({"command": "evoscope run (fixture)", "version": "0.1.0",
  "steps": [{"step": "sae encode", "seconds": 1.5, "peak_rss_bytes": 1000000},
            {"step": "align", "seconds": 2.5, "peak_rss_bytes": 2000000}]}
)j");
}

}  // namespace evoscope::test
