#ifndef TCR_EXECUTOR_H
#define TCR_EXECUTOR_H
#include <stddef.h>
#include <sys/types.h>
#include "plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Clones a child that runs the plan. On success returns 0 with the init's pid
 * (or -1 when a stage-1 step failed; the socket then holds the failure) and
 * the runtime's end of the step socket. stdio[i] < 0 keeps the caller's fd i.
 * cgroup_fd >= 0: a cgroup v2 directory to clone the init into (reported in
 * out_into_cgroup when the kernel did). trampoline_fd >= 0: a sealed memfd of
 * native/trampoline.c, through which the target and hooks are executed. */
int tcr_spawn(const void *plan, size_t len, const int stdio[3], int cgroup_fd, int trampoline_fd, pid_t *out_pid, int *out_sock, int *out_into_cgroup);

#ifdef __cplusplus
}
#endif
#endif
