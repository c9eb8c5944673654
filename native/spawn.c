/*
 * Starting the executor (native/executor.c) from the runtime. A fork of Node
 * would copy its page tables (tens of megabytes mapped) and make both sides
 * fault on every page either writes; instead a vfork-style child, sharing
 * Node's memory while Node waits, puts the fds in place and executes the
 * executor from a sealed memfd. The executor runs stage 1, clones the init as
 * Node's child and reports its pid on a pipe, which tcr_spawn_finish reads:
 * Node waits for that on its event loop, not blocked in here, so that launches
 * in one process overlap while each stage 1 clones its init.
 */
#define _GNU_SOURCE
#include "spawn.h"
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A sealable, close-on-exec memfd with an exec flag of Linux 6.3+ (MFD_EXEC or
 * MFD_NOEXEC_SEAL), or without it on kernels that refuse the flag; -errno. */
static int new_memfd(const char *name, unsigned exec_flag) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | exec_flag);
  if (fd < 0 && errno == EINVAL) fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  return fd < 0 ? -errno : fd;
}

/* Seals a memfd against every change and moves it to `low` or above (0: where it is). */
static int seal_and_raise(int fd, int low) {
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  if (low <= 0 || fd >= low) return fd;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, low);
  int e = errno;
  close(fd);
  return high < 0 ? -e : high;
}

int tcr_sealed_memfd(const char *name, const char *file, int low) {
  int in = open(file, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -errno;
  /* MFD_EXEC: executable even where vm.memfd_noexec defaults memfds to no-exec */
  int fd = new_memfd(name, 0x0010U /* MFD_EXEC */);
  if (fd < 0) {
    close(in);
    return fd;
  }
  /* copied inside the kernel, from the page cache */
  for (;;) {
    ssize_t n = sendfile(fd, in, NULL, 1 << 30);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(in);
      close(fd);
      return -e;
    }
    if (n == 0) break;
  }
  close(in);
  return seal_and_raise(fd, low);
}

/* The same for bytes in memory that are never executed. */
static int sealed_memfd_of(const char *name, const void *data, size_t len, int low) {
  /* MFD_NOEXEC_SEAL: what vm.memfd_noexec=2 demands on the kernels where it refuses plain memfds */
  int fd = new_memfd(name, 0x0008U /* MFD_NOEXEC_SEAL */);
  if (fd < 0) return fd;
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, (const char *)data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return -e;
    }
    off += (size_t)n;
  }
  return seal_and_raise(fd, low);
}

/* the fds the executor gets, in its argv's order, just above the kept range */
#define NFDS 5

struct start {
  int stdio[3];
  int from[NFDS], to[NFDS]; /* socket, pid pipe, plan, cgroup, slot 0 (-1: none) -> their numbers in the executor */
  int exe;
  /* the runtime's fds (this launch's: the executor's copy, the cgroup and slot fds, both ends
   * of the socket and pipe; and those the caller names, its locks): never passed on, even
   * where their number is in the kept range */
  int own[7];
  const int *held;
  size_t n_held;
  const char *exe_path;
  char *argv[NFDS + 2];
  volatile int err;
};

/* The child below makes its system calls without libc: a libc call through
 * the PLT would, on first use, run the dynamic linker's symbol lookup in the
 * child (slow across Node's symbol table, and not safe while Node's threads
 * may hold its locks). Returns -errno on failure, as the kernel does. */
static long raw_syscall(long n, long a, long b, long c, long d, long e) {
#if defined(__x86_64__)
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return r;
#else
  long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
#endif
}

/* Runs in the vfork-style child, on its own stack, in Node's memory, with
 * every signal blocked: only system calls on its own fd table until the exec. */
static int start_executor(void *arg) {
  struct start *s = arg;
  char *envp[] = {NULL};
  long r = 0;
  for (int i = 0; i < 3; i++)
    if (s->stdio[i] >= 0 && s->stdio[i] != i && (r = raw_syscall(SYS_dup3, s->stdio[i], i, 0, 0, 0)) < 0) goto fail;
  for (int i = 0; i < NFDS; i++)
    if (s->from[i] >= 0 && (r = raw_syscall(SYS_dup3, s->from[i], s->to[i], 0, 0, 0)) < 0) goto fail;
  /* the kept range (stdio, preserved fds) must survive this exec, whatever Node marked close-on-exec */
  for (int fd = 0; fd < s->to[0]; fd++) {
    int own = 0;
    for (int i = 0; i < 7; i++) own |= fd == s->own[i];
    for (size_t i = 0; i < s->n_held; i++) own |= fd == s->held[i];
    if (own) continue; /* close-on-exec: gone at the exec (CVE-2024-21626 was a leaked cgroup fd) */
    long fl = raw_syscall(SYS_fcntl, fd, F_GETFD, 0, 0, 0);
    if (fl > 0 && (fl & FD_CLOEXEC)) raw_syscall(SYS_fcntl, fd, F_SETFD, fl & ~FD_CLOEXEC, 0, 0);
  }
  /* every other fd of Node's closes here; the kept range below stays */
  if (s->exe < 0) {
    if ((r = raw_syscall(SYS_close_range, s->to[NFDS - 1] + 1, ~0U, 0, 0, 0)) < 0) goto fail;
    r = raw_syscall(SYS_execve, (long)s->exe_path, (long)s->argv, (long)envp, 0, 0);
    goto fail;
  }
  if (s->exe - 1 > s->to[NFDS - 1] && (r = raw_syscall(SYS_close_range, s->to[NFDS - 1] + 1, s->exe - 1, 0, 0, 0)) < 0) goto fail;
  if ((r = raw_syscall(SYS_close_range, s->exe + 1, ~0U, 0, 0, 0)) < 0) goto fail;
  r = raw_syscall(SYS_execveat, s->exe, (long)"", (long)s->argv, (long)envp, AT_EMPTY_PATH);
  /* EACCES: a host that forbids executing memfds (vm.memfd_noexec=2); ENOSYS/EPERM: no execveat */
  if (r == -EACCES || r == -ENOSYS || r == -EPERM) r = raw_syscall(SYS_execve, (long)s->exe_path, (long)s->argv, (long)envp, 0, 0);
fail:
  s->err = (int)-r;
  raw_syscall(SYS_exit_group, 127, 0, 0, 0, 0);
  return 127;
}

int tcr_spawn(const void *plan, size_t len, const int stdio[3], int cgroup_fd, int slot_fd, int exe_fd, const char *exe_path,
              const int *held, size_t n_held, pid_t *out_stage1, int *out_pid_pipe, int *out_sock) {
  if (!plan_valid(plan, len)) return -EINVAL;
  const struct plan_header *hdr = plan;
  /* the executor's fds go just above the kept range; ours start above those, out of the way of every dup2.
   * As low as that allows: an fd past the fd table's size (64 at first) makes the kernel grow the table,
   * and in a process with threads (Node) that waits for an RCU grace period, 5 ms or more a launch. */
  int want = hdr->keep_fds > 3 ? (int)hdr->keep_fds : 3;
  int low = want + NFDS;
  struct start s;
  memset(&s, 0, sizeof s);
  int sv[2] = {-1, -1}, pp[2] = {-1, -1}, r = 0;
  for (int i = 0; i < NFDS; i++) s.from[i] = -1;
  s.exe = -1;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(pp, O_CLOEXEC) < 0) {
    r = -errno;
    goto out;
  }
  int own[7] = {exe_fd, cgroup_fd, slot_fd, sv[0], sv[1], pp[0], pp[1]};
  for (int i = 0; i < 7; i++) s.own[i] = own[i] >= 0 ? own[i] : -2; /* -2 matches no fd */
  s.held = held;
  s.n_held = n_held;
  int plan_fd = sealed_memfd_of("tcr-plan", plan, len, low);
  if (plan_fd < 0) {
    r = plan_fd;
    goto out;
  }
  s.from[2] = plan_fd;
  int src[NFDS] = {sv[1], pp[1], -1, cgroup_fd, slot_fd};
  for (int i = 0; i < NFDS; i++) {
    if (i != 2 && src[i] >= 0 && (s.from[i] = fcntl(src[i], F_DUPFD_CLOEXEC, low)) < 0) {
      r = -errno;
      goto out;
    }
    s.to[i] = want + i;
  }
  if (exe_fd >= 0 && (s.exe = fcntl(exe_fd, F_DUPFD_CLOEXEC, low)) < 0) {
    r = -errno;
    goto out;
  }
  memcpy(s.stdio, stdio, sizeof s.stdio);
  s.exe_path = exe_path;
  char num[NFDS][16];
  for (int i = 0; i < NFDS; i++) snprintf(num[i], sizeof num[i], "%d", s.from[i] >= 0 ? s.to[i] : -1);
  s.argv[0] = (char *)TCR_EXECUTOR_ARGV0;
  for (int i = 0; i < NFDS; i++) s.argv[i + 1] = num[i];
  s.argv[NFDS + 1] = NULL;

  /* blocked until the executor's exec: no handler of Node's may run in the child, which shares its memory */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  /* the child's stack: one per calling thread (spawns may run on several at once), made on
   * its first spawn and kept, since the child is done with it once this thread resumes */
  enum { STACK = 64 * 1024 };
  static _Thread_local char *stack;
  if (!stack) {
    void *m = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m != MAP_FAILED) stack = m;
  }
  pid_t pid = -1;
  int clone_err = ENOMEM;
  if (stack) {
    pid = clone(start_executor, stack + STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &s);
    clone_err = errno;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* the child's copies are the only ones left: the pid pipe reads EOF once stage 1 is gone */
  for (int i = 0; i < NFDS; i++)
    if (s.from[i] >= 0) {
      close(s.from[i]);
      s.from[i] = -1;
    }
  close(pp[1]);
  pp[1] = -1;
  if (pid < 0) {
    r = -clone_err;
    goto out;
  }
  if (s.err) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    r = -s.err;
    goto out;
  }
  *out_stage1 = pid;
  *out_pid_pipe = pp[0];
  pp[0] = -1;
  *out_sock = sv[0];
  sv[0] = -1;
out:
  for (int i = 0; i < NFDS; i++)
    if (s.from[i] >= 0) close(s.from[i]);
  if (s.exe >= 0) close(s.exe);
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  if (pp[0] >= 0) close(pp[0]);
  if (pp[1] >= 0) close(pp[1]);
  return r;
}

void tcr_spawn_finish(int pid_pipe, pid_t stage1, pid_t *out_pid, int *out_into_cgroup) {
  int32_t msg[2] = {-1, 0};
  ssize_t n;
  do n = read(pid_pipe, msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  close(pid_pipe);
  while (waitpid(stage1, NULL, 0) < 0 && errno == EINTR) {}
  *out_pid = n == (ssize_t)sizeof msg ? msg[0] : -1;
  *out_into_cgroup = n == (ssize_t)sizeof msg && msg[1];
}
