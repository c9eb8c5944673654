/*
 * The launch-plan executor: a small static program. tcr's TypeScript decides
 * every step; this program only carries them out, in order. native/spawn.c
 * starts it from a sealed memfd (vfork + execveat: Node's address space is
 * never copied), so it is what /proc/<pid>/exe shows for a container's init
 * until the container's own program runs, and never the host's node binary
 * (CVE-2019-5736). It runs as "stage 1" in the runtime's namespaces (joining
 * existing ones with setns), clones the init into new ones as the runtime's
 * child (CLONE_PARENT), hands the init's pid back, and exits; the init runs
 * the remaining steps. Each step reports to the runtime over a SEQPACKET
 * socket: a record per step when tracing, and always the step that failed.
 * Plain syscalls and no allocation: what the init holds is what the plan says.
 */
#define _GNU_SOURCE
#include "executor.h"
#include "fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Once create has returned nobody reads the socket: the container's own
 * stderr is then the only place a failure can be told. */
static void fail(struct child *c, int err) {
  if (c->sock >= 0) {
    send_record(c, REC_FAIL, err, 0, 0);
  } else {
    put_str(2, "tcr: the container's init failed after create had returned, at step ");
    put_uint(2, c->current);
    put_str(2, " of its launch plan (`tcr create --dry-run` lists them): ");
    put_str(2, strerror(err));
    put_str(2, "\n");
  }
  uint32_t w = c->hdr->late_exit;
  _exit((int)(err == (int)(w & 0xff) || err == (int)((w >> 8) & 0xff) ? (w >> 16) & 0xff : w >> 24));
}

static int run_step(struct child *c, const struct plan_step *s) {
  const char *s0 = str(c, s, 0), *s1 = str(c, s, 1);
  switch (s->op) {
  case OP_PRCTL: return prctl((int)s->n[0], (unsigned long)s->n[1], (unsigned long)s->n[2], 0, 0) < 0 ? -errno : 0;
  case OP_SYNC: return do_sync(c, s->n[0], s->n[1]);
  case OP_SETNS: {
    int fd = open(s0, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int r = setns(fd, (int)s->n[0]) < 0 ? -errno : 0;
    close(fd);
    return r;
  }
  case OP_UNSHARE: return unshare((int)s->n[0]) < 0 ? -errno : 0;
  case OP_MOUNT: return do_mount(c, s);
  case OP_MKDIR: return mkdir_in_root(c, s0, (mode_t)s->n[0]);
  case OP_MKFILE: return mkfile_in_root(c, s0, (mode_t)s->n[0]);
  case OP_MKNOD: {
    const char *name;
    int dfd = with_parent_dir(c, s0, &name);
    if (dfd < 0) return dfd;
    int r = mknodat(dfd, name, (mode_t)s->n[0], makedev(s->n[1], s->n[2])) < 0 ? -errno : 0;
    if (r == 0 && fchownat(dfd, name, (uid_t)(s->n[3] >> 32), (gid_t)(s->n[3] & 0xffffffff), AT_SYMLINK_NOFOLLOW) < 0) r = -errno;
    if (r == 0 && fchmodat(dfd, name, (mode_t)s->n[0] & 07777, 0) < 0) r = -errno;
    close(dfd);
    return r;
  }
  case OP_SYMLINK: {
    const char *name;
    int dfd = with_parent_dir(c, s1, &name);
    if (dfd < 0) return dfd;
    int r = symlinkat(s0, dfd, name) < 0 ? -errno : 0;
    close(dfd);
    return r;
  }
  case OP_SET_ROOT: {
    int fd = open(s0, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (c->rootfd >= 0) close(c->rootfd);
    c->rootfd = fd;
    return 0;
  }
  case OP_PIVOT_ROOT: return do_pivot_root(s0);
  case OP_CHROOT: return do_chroot(s0, s->n[0] != 0);
  case OP_MASK: return do_mask(c, s0);
  case OP_REMOUNT_RO: return do_remount_ro(c, s0);
  case OP_TMPFS_COPYUP: return do_tmpfs_copyup(c, s);
  case OP_SETHOSTNAME: return sethostname(s0, s->len[0]) < 0 ? -errno : 0;
  case OP_SETDOMAINNAME: return setdomainname(s0, s->len[0]) < 0 ? -errno : 0;
  case OP_WRITE_FILE: return do_write_file(s0, s1 ? s1 : "", s->len[1]);
  case OP_LOOPBACK_UP: return do_loopback_up();
  case OP_CHDIR: return chdir(s0) < 0 ? -errno : 0;
  case OP_UMASK: umask((mode_t)s->n[0]); return 0;
  case OP_SETSID: return setsid() < 0 ? -errno : 0;
  case OP_SETUSER: return do_setuser(c, s);
  case OP_CAP_BOUNDING: return do_cap_bounding(s->n[0], s->n[1]);
  case OP_CAPSET: return do_capset(s->n[0], s->n[1], s->n[2]);
  case OP_CAP_AMBIENT: return do_cap_ambient(s->n[0]);
  case OP_RLIMIT: {
    struct rlimit rl = {(rlim_t)s->n[1], (rlim_t)s->n[2]};
    return prlimit(0, (int)s->n[0], &rl, NULL) < 0 ? -errno : 0;
  }
  case OP_SECCOMP: {
    struct sock_fprog prog = {(unsigned short)(s->len[0] / sizeof(struct sock_filter)), (struct sock_filter *)s0};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)s->n[0], &prog) < 0 ? -errno : 0;
  }
  case OP_FIFO_WAIT:
    if (s->n[0] < 0 || s->n[0] >= MAX_SLOTS || c->slots[s->n[0]] < 0) return -EBADF;
    return do_fifo_wait(c, (int)s->n[0], s->n[1] != 0);
  case OP_HOOK: return do_hook(c, s);
  case OP_FIND_EXEC: return do_find_exec(c, s);
  case OP_FDS: return do_fds(c, (int)s->n[0]);
  case OP_EXEC: return do_exec(c, s);
  case OP_CONSOLE: return do_console(c, s);
  case OP_JOIN_KEYRING:
    /* KEYCTL_JOIN_SESSION_KEYRING; kernels without keys are fine, as in runc */
    if (syscall(SYS_keyctl, 1, s0) < 0 && errno != ENOSYS) return -errno;
    return 0;
  default: return -ENOSYS;
  }
}

static void run_steps(struct child *c, uint32_t first, uint32_t last) {
  int trace = (c->hdr->flags & PLAN_TRACE) != 0;
  for (uint32_t i = first; i < last; i++) {
    const struct plan_step *s = &c->steps[i];
    c->current = i;
    int64_t t0 = trace ? now_ns() : 0;
    int r = run_step(c, s);
    if (r == -ENOENT && (s->flags & STEP_IGNORE_ENOENT)) r = 0;
    if (r == -EEXIST && (s->flags & STEP_IGNORE_EEXIST)) r = 0;
    if (s->flags & STEP_IGNORE_ERRORS) r = 0;
    if (r < 0) fail(c, -r);
    if (trace) send_record(c, REC_STEP, 0, now_ns() - t0, 0);
  }
}

/* The runtime's signal handlers are gone with its address space, but what it
 * ignored (SIGPIPE) stays ignored across exec, and native/spawn.c starts us
 * with every signal blocked: neither may reach the container. */
static void reset_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* clone3(CLONE_INTO_CGROUP) puts the init in its cgroup v2 before it runs at
 * all; kernels or hierarchies that refuse it get a plain clone, and the
 * runtime's write to cgroup.procs does the same job a moment later. Refused
 * also where stage 1 has joined a container's cgroup namespace (exec) on a
 * cgroup2 mounted with nsdelegate: ENOENT, as the kernel hides its cgroup.
 * CLONE_PARENT: the init is the runtime's child, not ours. */
static pid_t clone_init(uint64_t flags, int cgroup_fd, int *into_cgroup) {
  *into_cgroup = 0;
  if (cgroup_fd >= 0) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags | CLONE_PARENT | CLONE_INTO_CGROUP;
    args.exit_signal = 0; /* with CLONE_PARENT the kernel uses ours (SIGCHLD) */
    args.cgroup = (uint64_t)cgroup_fd;
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) {
      *into_cgroup = 1;
      return pid;
    }
    if (errno != ENOSYS && errno != E2BIG && errno != EINVAL && errno != EOPNOTSUPP && errno != EBADF && errno != ENOENT &&
        errno != EPERM && errno != EACCES)
      return -1;
  }
  return (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD | flags, 0, 0, 0, 0);
}

static int parse_fd(const char *s) {
  int v = 0;
  if (s[0] == '-' && s[1] == '1' && !s[2]) return -1;
  if (!*s) return -2;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 100000) return -2;
    v = v * 10 + (*s - '0');
  }
  return v;
}

/* Also what a container program that is a `#!/proc/self/exe` script gets:
 * its interpreter is this program (CVE-2019-5736), which does nothing. */
static void refuse(void) {
  put_str(2, "tcr-executor: refusing to run: this is the container runtime's launch-plan executor, started only by tcr (not by hand, nor "
             "as a script's interpreter)\n");
  _exit(126);
}

/* argv: tcr-executor SOCK PID-PIPE PLAN-MEMFD CGROUP-FD|-1 SLOT0-FD|-1 (native/spawn.c) */
int main(int argc, char **argv) {
  if (argc != 6 || strcmp(argv[0], TCR_EXECUTOR_ARGV0) != 0) refuse();
  int sock = parse_fd(argv[1]), pid_pipe = parse_fd(argv[2]), plan_fd = parse_fd(argv[3]), cgroup_fd = parse_fd(argv[4]),
      slot0 = parse_fd(argv[5]);
  if (sock < 3 || pid_pipe < 3 || plan_fd < 3 || cgroup_fd < -1 || slot0 < -1) refuse();
  struct stat st;
  if (fstat(plan_fd, &st) < 0 || st.st_size <= 0) refuse();
  const void *plan = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, plan_fd, 0);
  if (plan == MAP_FAILED || !plan_valid(plan, (size_t)st.st_size)) refuse();
  close(plan_fd);
  reset_signals();
  /* ours, not the container's: none may survive an exec */
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  fcntl(pid_pipe, F_SETFD, FD_CLOEXEC);
  if (cgroup_fd >= 0) fcntl(cgroup_fd, F_SETFD, FD_CLOEXEC);
  if (slot0 >= 0) fcntl(slot0, F_SETFD, FD_CLOEXEC);

  struct child c;
  memset(&c, 0, sizeof c);
  c.hdr = plan;
  c.steps = (const void *)(c.hdr + 1);
  c.arena = (const char *)(c.steps + c.hdr->nsteps);
  c.sock = sock;
  c.rootfd = -1;
  c.found_exec = -1;
  for (int i = 0; i < MAX_SLOTS; i++) c.slots[i] = -1;
  c.slots[0] = slot0;
  c.pid = (uint32_t)getpid();

  prctl(PR_SET_NAME, "tcr-stage1", 0, 0, 0);
  /* a runtime killed from here on takes stage 1 with it (killed before,
   * stage 1 and its init find the socket closed at the first sync and exit) */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  run_steps(&c, 0, c.hdr->stage1_steps);
  int into = 0;
  c.current = CLONE_STEP;
  pid_t pid = clone_init(c.hdr->clone_flags & ~0xffULL, cgroup_fd, &into);
  if (pid < 0) fail(&c, errno);
  if (pid == 0) {
    close(pid_pipe);
    if (cgroup_fd >= 0) close(cgroup_fd);
    c.pid = (uint32_t)getpid();
    prctl(PR_SET_NAME, "tcr-init", 0, 0, 0);
    run_steps(&c, c.hdr->stage1_steps, c.hdr->nsteps);
    _exit(0);
  }
  int32_t msg[2] = {pid, into};
  (void)!write(pid_pipe, msg, sizeof msg);
  return 0;
}
