#include "cli/commands.hpp"

int main(int argc, char** argv) {
  return bm::main_entry(argc, argv);
}
