# Finds libBigWig (Debian libbigwig-dev ships neither pkg-config nor CMake files).
# Defines BigWig::BigWig and BigWig_FOUND.
find_path(BigWig_INCLUDE_DIR NAMES bigWig.h)
find_library(BigWig_LIBRARY NAMES BigWig)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BigWig REQUIRED_VARS BigWig_LIBRARY BigWig_INCLUDE_DIR)
if(BigWig_FOUND AND NOT TARGET BigWig::BigWig)
    find_package(ZLIB REQUIRED)
    add_library(BigWig::BigWig UNKNOWN IMPORTED)
    set_target_properties(BigWig::BigWig PROPERTIES
        IMPORTED_LOCATION "${BigWig_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${BigWig_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES ZLIB::ZLIB)
endif()
mark_as_advanced(BigWig_INCLUDE_DIR BigWig_LIBRARY)
