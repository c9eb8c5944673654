/* What the executor's files (executor.c, executor-fs.c, executor-process.c)
 * share: the state of the process running a plan, and the steps each file
 * implements. Internal to the executor program. */
#ifndef TCR_EXECUTOR_H
#define TCR_EXECUTOR_H
#include <stdint.h>
#include <sys/types.h>
#include "plan.h"

#define MAX_LIST         512 /* argv/env entries a step may carry */
#define MAX_SLOTS        8
#define SYNC_PAYLOAD_MAX 65536

struct child {
  const struct plan_header *hdr;
  const struct plan_step *steps;
  const char *arena;
  int sock;
  int rootfd;
  int slots[MAX_SLOTS];
  int found_exec; /* index chosen by OP_FIND_EXEC, -1 if none */
  uint32_t current;
  uint32_t pid; /* as this process sees itself, taken once: records after the seccomp filter make no getpid */
};

/* executor-records.c: records to the runtime, the plan's strings */
const char *str(const struct child *c, const struct plan_step *s, int i);
void send_record(const struct child *c, uint32_t kind, int err, int64_t nanos, int64_t aux);
void put_str(int fd, const char *s);
void put_uint(int fd, uint32_t v);
int split_list(const struct child *c, const struct plan_step *s, int i, char **out);

/* executor-fs.c: paths inside the root, mounts, the root itself */
void fd_path(int fd, char buf[32]);
int open_in_root(const struct child *c, const char *path, uint64_t flags, uint64_t resolve);
int mkdir_in_root(const struct child *c, const char *path, mode_t mode);
int mkfile_in_root(const struct child *c, const char *path, mode_t mode);
int with_parent_dir(const struct child *c, const char *path, const char **name);
int do_mount(struct child *c, const struct plan_step *s);
int do_mask(struct child *c, const char *path);
int do_remount_ro(struct child *c, const char *path);
int do_tmpfs_copyup(struct child *c, const struct plan_step *s);
int do_pivot_root(const char *root);
int do_chroot(const char *root, int move_mount);
int do_write_file(const char *path, const char *content, size_t len);

/* executor-process.c: identity, capabilities, the runtime's syncs, terminal, hooks, exec */
int do_loopback_up(void);
int do_setuser(const struct child *c, const struct plan_step *s);
int do_cap_bounding(int64_t keep, int64_t last);
int do_capset(int64_t eff, int64_t perm, int64_t inh);
int do_cap_ambient(int64_t mask);
int do_sync(struct child *c, int64_t id, int64_t last);
int do_console(struct child *c, const struct plan_step *s);
int do_fifo_wait(struct child *c, int slot, int until_start_exits);
int do_hook(struct child *c, const struct plan_step *s);
int do_find_exec(struct child *c, const struct plan_step *s);
int do_fds(struct child *c, int keep);
int do_exec(struct child *c, const struct plan_step *s);

#endif
