# Checks that every C++ source follows .clang-format (run as the CTest test "lint: format").
# Pinned to clang-format 14 (Debian bookworm's): other versions format some constructs
# differently. Fix a failure with `scripts/format.sh`, which runs the same binary with -i.
find_program(_clang_format NAMES clang-format-14 clang-format REQUIRED)
execute_process(COMMAND ${_clang_format} --version OUTPUT_VARIABLE _version)
if(NOT _version MATCHES "version 14\\.")
    message(FATAL_ERROR "lint: format needs clang-format 14 (found: ${_version})")
endif()
# CUDA sources (sae/cuda/*.cu, *.cuh) are left out: clang-format 14's handling of kernel launches
# is not one we want to enforce.
set(_files "")
foreach(_module core formats genomics model store sae annotate pipelines cli bench tests fuzz)
    file(GLOB_RECURSE _module_files "${SOURCE_DIR}/${_module}/*.hpp" "${SOURCE_DIR}/${_module}/*.cpp")
    list(APPEND _files ${_module_files})
endforeach()
list(FILTER _files EXCLUDE REGEX "/tests/data/")
list(LENGTH _files _count)
execute_process(COMMAND ${_clang_format} --dry-run --Werror --style=file ${_files}
    WORKING_DIRECTORY ${SOURCE_DIR}
    RESULT_VARIABLE _result ERROR_VARIABLE _errors OUTPUT_VARIABLE _output)
if(NOT _result EQUAL 0)
    string(REGEX MATCHALL "[^\n]*: error: code should be clang-formatted" _bad "${_errors}")
    list(REMOVE_DUPLICATES _bad)
    string(REPLACE ";" "\n" _bad "${_bad}")
    message(FATAL_ERROR "files that differ from .clang-format (run scripts/format.sh):\n${_bad}")
endif()
message(STATUS "format OK (${_count} files)")
