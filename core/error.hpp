/// @file
/// The evoscope exception hierarchy. Every error a user can cause is an `evoscope::Error`
/// subclass; `main()` maps them to exit codes (1 for Error, 2 for UsageError, 3 for
/// InternalError or anything unknown). Messages name the file, line or key at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace evoscope {

/// Root of the hierarchy; never thrown directly.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Bad user input: unknown contig, malformed region, missing file, inconsistent options.
class InputError : public Error {
public:
    using Error::Error;
};

/// A command line that cannot be obeyed as written (exit code 2, like a CLI parse error).
class UsageError : public Error {
public:
    using Error::Error;
};

/// Malformed file content; the message carries path and line or record.
class FormatError : public Error {
public:
    using Error::Error;
};

/// Operating-system or htslib I/O failure; the message carries the path and strerror(errno).
class IoError : public Error {
public:
    using Error::Error;
};

/// Incompatible checkpoint, shape or dtype mismatch.
class ModelError : public Error {
public:
    using Error::Error;
};

/// CUDA failure, device out of memory, device not available.
class DeviceError : public Error {
public:
    using Error::Error;
};

/// Raised only by EVOSCOPE_ASSERT: a bug in evoscope.
class InternalError : public Error {
public:
    using Error::Error;
};

}  // namespace evoscope
