/// @file
/// Include last in a test file that includes libtorch: glog (pulled in by libtorch) defines
/// CHECK(cond) as a check that aborts the process, silently replacing Catch2's CHECK, so a
/// failing check would kill the whole test executable instead of being reported. This restores
/// Catch2's definition (the one in catch2/catch.hpp 2.13).
#pragma once

#include <catch2/catch.hpp>

#undef CHECK
#define CHECK(...) \
    INTERNAL_CATCH_TEST("CHECK", Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)
