/* A task of known length for bench/run.sh: busy-loop on CLOCK_MONOTONIC until MS milliseconds
   have passed since main() began (default 10). Extra arguments are ignored, so tools that append
   one (xargs -n 1, GNU parallel) can feed it. Usage: spin [MS] */
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  double ms = argc > 1 ? atof(argv[1]) : 10.0;
  long long limit_ns = (long long)(ms * 1e6);
  long long elapsed;
  do {
    clock_gettime(CLOCK_MONOTONIC, &now);
    elapsed = (now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec);
  } while (elapsed < limit_ns);
  return 0;
}
