/* Executor steps on the process: network loopback, user and capabilities,
 * the waits for the runtime, the terminal, the exec fifo, hooks and the
 * final exec. */
#define _GNU_SOURCE
#include "executor.h"
#include "fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char sync_payload[SYNC_PAYLOAD_MAX];
static size_t sync_payload_len;

int do_loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    r = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  r = r < 0 ? -errno : 0;
  close(fd);
  return r;
}

int do_setuser(const struct child *c, const struct plan_step *s) {
  const char *groups = str(c, s, 0);
  if (groups && syscall(SYS_setgroups, s->len[0] / sizeof(gid_t), (const gid_t *)groups) < 0) return -errno;
  if (syscall(SYS_setresgid, (gid_t)s->n[1], (gid_t)s->n[1], (gid_t)s->n[1]) < 0) return -errno;
  if (syscall(SYS_setresuid, (uid_t)s->n[0], (uid_t)s->n[0], (uid_t)s->n[0]) < 0) return -errno;
  return 0;
}

int do_cap_bounding(int64_t keep, int64_t last) {
  for (int64_t cap = 0; cap <= last; cap++) {
    if (keep & ((int64_t)1 << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  }
  return 0;
}

int do_capset(int64_t eff, int64_t perm, int64_t inh) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  d[0].effective = (uint32_t)eff;
  d[1].effective = (uint32_t)(eff >> 32);
  d[0].permitted = (uint32_t)perm;
  d[1].permitted = (uint32_t)(perm >> 32);
  d[0].inheritable = (uint32_t)inh;
  d[1].inheritable = (uint32_t)(inh >> 32);
  return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int do_cap_ambient(int64_t mask) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  for (int cap = 0; cap < 64; cap++)
    if ((mask & ((int64_t)1 << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return -errno;
  return 0;
}

int do_sync(struct child *c, int64_t id, int64_t last) {
  send_record(c, REC_SYNC, 0, 0, id);
  ssize_t n = recv(c->sock, sync_payload, sizeof sync_payload, 0);
  /* EOF: the runtime died before answering; never outlive it here */
  if (n <= 0) _exit(1);
  if (sync_payload[0] != SYNC_CONTINUE) _exit(1);
  sync_payload_len = (size_t)n - 1;
  memmove(sync_payload, sync_payload + 1, sync_payload_len);
  /* the runtime's last answer (create returns now): nobody reads records any more */
  if (last) {
    close(c->sock);
    c->sock = -1;
  }
  return 0;
}

/* Sends a record with an fd attached (SCM_RIGHTS). */
static int send_fd_record(const struct child *c, uint32_t kind, int fd) {
  struct plan_record r = {kind, c->current, 0, c->pid, 0, 0};
  return send_with_fd(c->sock, &r, sizeof r, fd) < 0 ? -errno : 0;
}

/* A pty from the container's own devpts: the slave becomes stdio and the
 * controlling terminal (the init already leads its own session), the master
 * goes to the runtime. */
int do_console(struct child *c, const struct plan_step *s) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -errno;
  int unlock = 0, r = 0;
  int slave = -1;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
    r = -errno;
    goto out;
  }
  /* the peer by fd, not by a /dev/pts path the container could swap */
  slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    r = -errno;
    goto out;
  }
  if (s->n[0] > 0 && s->n[1] > 0) {
    struct winsize ws = {(unsigned short)s->n[0], (unsigned short)s->n[1], 0, 0};
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) {
      r = -errno;
      goto out;
    }
  }
  const char *console = str(c, s, 0);
  if (console) {
    if ((r = mkfile_in_root(c, console, 0600)) < 0) goto out;
    int tfd = open_in_root(c, console, O_PATH | O_NOFOLLOW, 0);
    if (tfd < 0) {
      r = tfd;
      goto out;
    }
    char sp[32], tp[32];
    fd_path(slave, sp);
    fd_path(tfd, tp);
    if (mount(sp, tp, NULL, MS_BIND, NULL) < 0) r = -errno;
    close(tfd);
    if (r < 0) goto out;
  }
  if ((r = send_fd_record(c, REC_CONSOLE, master)) < 0) goto out;
  if (ioctl(slave, TIOCSCTTY, 0) < 0) {
    r = -errno;
    goto out;
  }
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) {
      r = -errno;
      goto out;
    }
out:
  if (slave >= 0) close(slave);
  close(master);
  return r;
}

/* Blocks until `start` opens the fifo, then writes the byte it reads. Then,
 * without poststart hooks, waits for `start` to close its end (POLLERR: no
 * reader left, which comes when it exits) and goes on: the program is
 * executed no sooner than runc's, after the caller saw `start` return (a
 * containerd shim watches a v1 OOM only from then on). With poststart hooks
 * it keeps the write end open, close-on-exec, above every fd the container
 * keeps: its end of file tells `start` the program was executed (or the init
 * died), so the hooks run after the exec, as the spec orders. */
int do_fifo_wait(struct child *c, int slot, int until_start_exits) {
  char p[32];
  fd_path(c->slots[slot], p);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  close(c->slots[slot]);
  c->slots[slot] = -1;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, c->hdr->keep_fds > 64 ? (int)c->hdr->keep_fds : 64);
  int e = errno;
  close(fd);
  if (high < 0) return -e;
  if (write(high, "0", 1) != 1) {
    e = errno;
    close(high);
    return -e;
  }
  if (!until_start_exits) return 0;
  /* no events asked: POLLOUT would be ready at once; POLLERR is always reported */
  struct pollfd w = {high, 0, 0};
  int r;
  do r = poll(&w, 1, -1);
  while (r < 0 && errno == EINTR);
  e = r < 0 ? -errno : 0;
  close(high);
  return e;
}

static int wait_with_timeout(pid_t pid, int64_t timeout_ms, int *status) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd >= 0 && timeout_ms > 0) {
    struct pollfd p = {pfd, POLLIN, 0};
    int r;
    do r = poll(&p, 1, (int)timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, status, 0);
      close(pfd);
      return -ETIMEDOUT;
    }
  }
  if (pfd >= 0) close(pfd);
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return -errno;
  return 0;
}

int do_hook(struct child *c, const struct plan_step *s) {
  char *argv[MAX_LIST], *envp[MAX_LIST];
  split_list(c, s, 1, argv);
  split_list(c, s, 2, envp);
  /* p: the state, to the hook's stdin. e: close-on-exec, so it reads end of
   * file when execve succeeds, and the errno when it fails: the runtime
   * learns why (ENOENT, EACCES, ...) from the errno itself, never from an
   * exit status that a hook could also give. */
  int p[2], e[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  if (pipe2(e, O_CLOEXEC) < 0) {
    int err = errno;
    close(p[0]);
    close(p[1]);
    return -err;
  }
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    int err = errno;
    close(p[0]);
    close(p[1]);
    close(e[0]);
    close(e[1]);
    return -err;
  }
  if (pid == 0) {
    dup2(p[0], 0);
    execve(str(c, s, 0), argv, envp);
    int err = errno;
    (void)!write(e[1], &err, sizeof err);
    _exit(127);
  }
  close(p[0]);
  close(e[1]);
  int exec_errno = 0;
  ssize_t got;
  do got = read(e[0], &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  close(e[0]);
  if (got == (ssize_t)sizeof exec_errno) {
    close(p[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return -exec_errno;
  }
  /* A hook may exit without reading the state. The init keeps SIGPIPE at its
   * default (reset_signals), which would kill it for the hook's choice: it is
   * ignored for this write alone (the hook, cloned above, keeps the default),
   * and the hook is then judged by its exit status. */
  struct sigaction ign, old;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);
  (void)!write(p[1], sync_payload, sync_payload_len);
  sigaction(SIGPIPE, &old, NULL);
  close(p[1]);
  int status = 0;
  int r = wait_with_timeout(pid, s->n[0], &status);
  if (r < 0) return r;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  return -ECHILD; /* it ran and failed: reported as "hook failed" by the runtime */
}

static int is_executable(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return -errno;
  if (!S_ISREG(st.st_mode)) return -EACCES;
  return access(path, X_OK) < 0 ? -errno : 0;
}

int do_find_exec(struct child *c, const struct plan_step *s) {
  char *paths[MAX_LIST];
  int n = split_list(c, s, 0, paths), err = -ENOENT;
  for (int i = 0; i < n; i++) {
    int r = is_executable(paths[i]);
    if (r == 0) {
      c->found_exec = i;
      return 0;
    }
    if (r != -ENOENT && r != -ENOTDIR) err = r;
  }
  return err;
}

int do_fds(struct child *c, int keep) {
  /* The fds below `keep` that the runtime passed came without close-on-exec
   * (spawn.c). Any other fd there is one of the init's own (a directory of a
   * step, opened close-on-exec) that fell into a hole of the range, where the
   * caller had nothing open: it must close at exec too, so none is touched. */
  /* everything else closes at exec (CVE-2024-21626); our socket stays until then */
  if (syscall(SYS_close_range, keep, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return -errno;
  (void)c;
  return 0;
}

int do_exec(struct child *c, const struct plan_step *s) {
  char *paths[MAX_LIST], *argv[MAX_LIST], *envp[MAX_LIST];
  int n = split_list(c, s, 0, paths);
  split_list(c, s, 1, argv);
  split_list(c, s, 2, envp);
  int err = ENOENT;
  if (c->found_exec < 0) /* no OP_FIND_EXEC before: look up here */
    for (int i = 0; i < n && c->found_exec < 0; i++) {
      int r = is_executable(paths[i]);
      if (r == 0)
        c->found_exec = i;
      else if (r != -ENOENT && r != -ENOTDIR)
        err = -r;
    }
  if (c->found_exec >= 0 && c->found_exec < n) {
    execve(paths[c->found_exec], argv, envp);
    err = errno;
  }
  put_str(2, "tcr: exec ");
  put_str(2, argv[0]);
  put_str(2, ": ");
  put_str(2, strerror(err));
  put_str(2, "\n");
  return -err;
}
