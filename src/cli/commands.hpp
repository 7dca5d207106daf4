#pragma once

namespace bm {

// The whole program behind main(): parses the command line, runs the command, and maps the
// outcome to the exit codes of DESIGN.md (0 all succeeded, 1 some failed, 2 usage or config
// error with nothing started or written, 130 interrupted).
int main_entry(int argc, char** argv);

} // namespace bm
