#ifndef TCR_SPAWN_H
#define TCR_SPAWN_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the executor (native/executor.c) on a plan. exe_fd: a sealed memfd of
 * the executor program, or -1 (left open; like cgroup_fd and slot_fd, never
 * passed on in the kept range even where its number falls there); exe_path: the same program on disk, executed
 * instead where there is no memfd or the host forbids executing it. Returns
 * once the executor has been exec'd, with its pid (stage 1), the read end of
 * the pipe on which stage 1 reports the init (tcr_spawn_finish reads it:
 * the caller may wait for it to turn readable on its event loop, and go on
 * with other work while stage 1 clones the init) and the runtime's end of
 * the step socket. stdio[i] < 0 keeps the caller's fd i. cgroup_fd >= 0: a
 * cgroup v2 directory to clone the init into. slot_fd >= 0: an fd the
 * runtime opened for the plan's steps (slot 0: the exec fifo, which an init
 * with a user namespace's credentials could not open). held: n_held more of
 * the caller's fds that must not reach the container (its locks). Returns -errno on
 * failure, with nothing left open or running. */
int tcr_spawn(const void *plan, size_t len, const int stdio[3], int cgroup_fd, int slot_fd, int exe_fd, const char *exe_path,
              const int *held, size_t n_held, pid_t *out_stage1, int *out_pid_pipe, int *out_sock);

/* Reads stage 1's report from pid_pipe (blocking until it comes), reaps stage 1
 * and closes the pipe: the init's pid (-1 when a stage-1 step failed; the step
 * socket then holds the failure) and whether the kernel cloned it into the
 * cgroup_fd's directory. */
void tcr_spawn_finish(int pid_pipe, pid_t stage1, pid_t *out_pid, int *out_into_cgroup);

/* A read-only, sealed, close-on-exec memfd holding a copy of file, at fd `low` or above. */
int tcr_sealed_memfd(const char *name, const char *file, int low);

#ifdef __cplusplus
}
#endif
#endif
