#pragma once

namespace sluice::core::cli {

// Parses argv and runs the sub-command. Returns the process exit code: 0 success, 1 a problem
// with the configuration or the run, 2 bad usage.
int run(int argc, char** argv);

}  // namespace sluice::core::cli
