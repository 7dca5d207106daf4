/* What the launcher (launcher.c) tells benchmatrix about the one process it started: shared by
 * the launcher, a C program, and the executor. Written once, in one write() of less than
 * PIPE_BUF bytes, to descriptor 3 (a pipe) right before the launcher exits. */
#ifndef BENCHMATRIX_LAUNCH_REPORT_H
#define BENCHMATRIX_LAUNCH_REPORT_H

#include <stdint.h>

#define BM_LAUNCH_MAGIC 0x424d4c31u /* "BML1" */
#define BM_LAUNCH_REPORT_FD 3

enum bm_launch_kind {
  BM_LAUNCH_ENDED = 1,       /* the program ran and ended: status and usage are set */
  BM_LAUNCH_EXEC_FAILED = 2  /* execve failed: error is its errno */
};

struct bm_launch_report {
  uint32_t magic;
  uint32_t kind;
  int32_t error;
  int32_t status;          /* as wait4 gives it */
  int64_t exec_ns;         /* CLOCK_MONOTONIC right before the program's execve */
  int64_t end_ns;          /* CLOCK_MONOTONIC right after wait4 returned */
  int64_t user_us;         /* of the program and the descendants it reaped */
  int64_t system_us;
  int64_t max_rss_kib;     /* its peak resident set size, from its own first instruction */
};

#endif
