# Warnings as an INTERFACE target linked PRIVATE by every evoscope target.
add_library(evoscope_warnings INTERFACE)
target_compile_options(evoscope_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual>)
if(EVOSCOPE_WERROR)
    target_compile_options(evoscope_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
# genomics/ converts between coordinate types often: be strict there.
add_library(evoscope_warnings_strict INTERFACE)
target_link_libraries(evoscope_warnings_strict INTERFACE evoscope_warnings)
target_compile_options(evoscope_warnings_strict INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Wconversion -Wsign-conversion>)
