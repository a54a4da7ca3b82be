# Checks the one-way dependency graph by grepping #include lines (run as a CTest test).
# core: std/fmt/json only; formats: core only, no torch or htslib; genomics: no torch, model,
# sae, store; model: no htslib, genomics, sae, store; store: formats and core, no torch; sae: no
# htslib, model, genomics (store and formats allowed); annotate: no torch, model, sae (store and
# formats allowed); pipelines: no CLI11 (stages are library functions); cli: no libtorch
# headers; CUDA headers only in sae/cuda/; fuzz: the torch-free modules only (core, formats,
# genomics, store).
set(_rules
    "core|formats/|genomics/|model/|store/|sae/|annotate/|pipelines/|cli/|torch/|ATen/|c10/|htslib/|seqan3/|cuda"
    "formats|genomics/|model/|sae/|store/|annotate/|pipelines/|cli/|torch/|ATen/|c10/|htslib/|seqan3/|cuda"
    "genomics|model/|sae/|store/|annotate/|pipelines/|cli/|torch/|ATen/|c10/|cuda"
    "model|genomics/|sae/|store/|annotate/|pipelines/|cli/|htslib/|seqan3/"
    "store|genomics/|model/|sae/|annotate/|pipelines/|cli/|torch/|ATen/|c10/|htslib/|seqan3/|cuda"
    "sae|genomics/|model/|annotate/|pipelines/|cli/|htslib/|seqan3/"
    "annotate|model/|sae/|pipelines/|cli/|torch/|ATen/|c10/|htslib/|cuda"
    "pipelines|cli/|CLI/"
    "cli|<torch/|<ATen/|<c10/|htslib/|seqan3/"
    "fuzz|model/|sae/|annotate/|pipelines/|cli/|torch/|ATen/|c10/|cuda")
set(_failures "")
foreach(_rule IN LISTS _rules)
    string(REPLACE "|" ";" _parts "${_rule}")
    list(POP_FRONT _parts _module)
    file(GLOB_RECURSE _files "${SOURCE_DIR}/${_module}/*.hpp" "${SOURCE_DIR}/${_module}/*.cpp")
    foreach(_file IN LISTS _files)
        if(_file MATCHES "/sae/cuda/")
            continue()
        endif()
        file(STRINGS "${_file}" _includes REGEX "^#include")
        foreach(_line IN LISTS _includes)
            foreach(_banned IN LISTS _parts)
                string(FIND "${_line}" "${_banned}" _pos)
                if(NOT _pos EQUAL -1)
                    string(APPEND _failures "${_file}: '${_line}' crosses the layering (${_module} must not use ${_banned})\n")
                endif()
            endforeach()
        endforeach()
    endforeach()
endforeach()
# The torch-free command files (cli/*.cpp, not cli/torch/) are linked into `evoscope`, which has no
# libtorch: they may not reach the model or SAE engine.
file(GLOB _light_cli_files "${SOURCE_DIR}/cli/*.hpp" "${SOURCE_DIR}/cli/*.cpp")
foreach(_file IN LISTS _light_cli_files)
    file(STRINGS "${_file}" _includes REGEX "^#include")
    foreach(_line IN LISTS _includes)
        foreach(_banned IN ITEMS "pipelines/torch/" "cli/torch/" "model/" "sae/sae" "sae/formats")
            string(FIND "${_line}" "${_banned}" _pos)
            if(NOT _pos EQUAL -1)
                string(APPEND _failures "${_file}: '${_line}' crosses the layering (torch-free cli must not use ${_banned})\n")
            endif()
        endforeach()
    endforeach()
endforeach()
# No libtorch in any header: keeps rebuilds lean.
set(_headers "")
foreach(_module core formats genomics model store sae annotate pipelines cli)
    file(GLOB_RECURSE _module_headers "${SOURCE_DIR}/${_module}/*.hpp")
    list(APPEND _headers ${_module_headers})
endforeach()
foreach(_file IN LISTS _headers)
    file(STRINGS "${_file}" _includes REGEX "^#include <torch/torch.h>")
    if(_includes)
        string(APPEND _failures "${_file}: includes <torch/torch.h> in a header\n")
    endif()
endforeach()
if(_failures)
    message(FATAL_ERROR "layering violations:\n${_failures}")
endif()
message(STATUS "layering OK")
