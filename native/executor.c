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
#include "plan.h"
#include "fdpass.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 512 /* argv/env entries a step may carry */
#define MAX_SLOTS 8
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
};

static char sync_payload[SYNC_PAYLOAD_MAX];
static size_t sync_payload_len;

static const char *str(const struct child *c, const struct plan_step *s, int i) {
  if (s->off[i] == UINT32_MAX) return NULL;
  return c->arena + s->off[i];
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void send_record(const struct child *c, uint32_t kind, int err, int64_t nanos, int64_t aux) {
  struct plan_record r = {kind, c->current, err, (uint32_t)syscall(SYS_getpid), nanos, aux};
  /* MSG_NOSIGNAL: once `create` has exited nobody reads, and SIGPIPE would kill us */
  (void)send(c->sock, &r, sizeof r, MSG_NOSIGNAL);
}

static void put_str(int fd, const char *s) {
  if (s) (void)!write(fd, s, strlen(s));
}

static void fail(struct child *c, int err) {
  send_record(c, REC_FAIL, err, 0, 0);
  _exit(err == ENOENT ? 127 : 126);
}

/* Splits a NUL-separated list from the arena into a NULL-terminated array. */
static int split_list(const struct child *c, const struct plan_step *s, int i, char **out) {
  int n = 0;
  const char *p = str(c, s, i);
  if (!p) { out[0] = NULL; return 0; }
  const char *end = p + s->len[i];
  while (p < end && n < MAX_LIST - 1) {
    out[n++] = (char *)p;
    p += strlen(p) + 1;
  }
  out[n] = NULL;
  return n;
}

static void fd_path(int fd, char buf[32]) {
  static const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  memcpy(buf, prefix, sizeof prefix - 1);
  do { digits[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
  int o = sizeof prefix - 1;
  while (n > 0) buf[o++] = digits[--n];
  buf[o] = 0;
}

/* Opens a path inside the current root, never letting a symlink or ".."
 * lead outside it (CVE-2021-30465): the kernel does the resolution. */
static int open_in_root(const struct child *c, const char *path, uint64_t flags, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve;
  while (*path == '/') path++;
  if (!*path) path = ".";
  int fd = (int)syscall(SYS_openat2, c->rootfd, path, &how, sizeof how);
  return fd < 0 ? -errno : fd;
}

/* Splits "a/b/c" into the parent's fd (opened in root) and the last name. */
static int open_parent(const struct child *c, const char *path, char *parent, size_t cap, const char **name) {
  while (*path == '/') path++;
  const char *slash = strrchr(path, '/');
  if (!slash) { *name = path; return open_in_root(c, ".", O_PATH | O_DIRECTORY, 0); }
  size_t n = (size_t)(slash - path);
  if (n >= cap) return -ENAMETOOLONG;
  memcpy(parent, path, n);
  parent[n] = 0;
  *name = slash + 1;
  return open_in_root(c, parent, O_PATH | O_DIRECTORY, 0);
}

static int mkdir_in_root(const struct child *c, const char *path, mode_t mode) {
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, len + 1);
  /* walk each prefix; each one is created relative to its resolved parent */
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char saved = buf[i];
    buf[i] = 0;
    int fd = open_in_root(c, buf, O_PATH | O_DIRECTORY, 0);
    if (fd == -ENOENT) {
      char parent[4096];
      const char *name;
      int pfd = open_parent(c, buf, parent, sizeof parent, &name);
      if (pfd < 0) return pfd;
      int r = mkdirat(pfd, name, mode);
      int e = errno;
      close(pfd);
      if (r < 0 && e != EEXIST) return -e;
      fd = open_in_root(c, buf, O_PATH | O_DIRECTORY, 0);
    }
    if (fd < 0) return fd;
    close(fd);
    buf[i] = saved;
  }
  return 0;
}

static int mkfile_in_root(const struct child *c, const char *path, mode_t mode) {
  int fd = open_in_root(c, path, O_PATH, 0);
  if (fd >= 0) { close(fd); return 0; }
  if (fd != -ENOENT) return fd;
  char parent[4096];
  const char *name;
  int pfd = open_parent(c, path, parent, sizeof parent, &name);
  if (pfd == -ENOENT) {
    int r = mkdir_in_root(c, parent, 0755);
    if (r < 0) return r;
    pfd = open_parent(c, path, parent, sizeof parent, &name);
  }
  if (pfd < 0) return pfd;
  /* O_PATH parents cannot be written through; reopen it as a directory */
  char p[32];
  fd_path(pfd, p);
  int dfd = open(p, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  close(pfd);
  if (dfd < 0) return -errno;
  int f = openat(dfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
  int e = errno;
  close(dfd);
  if (f < 0) return e == EEXIST ? 0 : -e;
  close(f);
  return 0;
}

static int with_parent_dir(const struct child *c, const char *path, const char **name) {
  char parent[4096];
  int pfd = open_parent(c, path, parent, sizeof parent, name);
  if (pfd < 0) return pfd;
  char p[32];
  fd_path(pfd, p);
  int dfd = open(p, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  int e = errno;
  close(pfd);
  return dfd < 0 ? -e : dfd;
}

static unsigned long locked_flags(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

static int do_mount(struct child *c, const struct plan_step *s) {
  const char *src = str(c, s, 0), *target = str(c, s, 1), *type = str(c, s, 2), *data = str(c, s, 3);
  unsigned long flags = (unsigned long)s->n[0];
  int tfd = -1, sfd = -1, r;
  char tpath[32], spath[32];
  if (s->flags & STEP_TARGET_IN_ROOT) {
    tfd = open_in_root(c, target, O_PATH, 0);
    if (tfd < 0) return tfd;
    fd_path(tfd, tpath);
    target = tpath;
  }
  if (s->flags & STEP_SOURCE_IN_ROOT) {
    sfd = open_in_root(c, src, O_PATH, 0);
    if (sfd < 0) { if (tfd >= 0) close(tfd); return sfd; }
    fd_path(sfd, spath);
    src = spath;
  }
  r = mount(src, target, type, flags, data);
  if (r < 0 && errno == EPERM && (s->flags & STEP_RETRY_LOCKED))
    r = mount(src, target, type, flags | locked_flags(target), data);
  r = r < 0 ? -errno : 0;
  if (tfd >= 0) close(tfd);
  if (sfd >= 0) close(sfd);
  return r;
}

static int do_mask(struct child *c, const char *path) {
  int fd = open_in_root(c, path, O_PATH | O_NOFOLLOW, 0);
  if (fd < 0) return fd;
  struct stat st;
  char p[32];
  fd_path(fd, p);
  int r;
  if (fstat(fd, &st) < 0) r = -errno;
  else if (S_ISDIR(st.st_mode)) r = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1");
  else r = mount("/dev/null", p, NULL, MS_BIND, NULL);
  if (r < 0) r = -errno;
  close(fd);
  return r;
}

static int do_remount_ro(struct child *c, const char *path) {
  int fd = open_in_root(c, path, O_PATH, 0);
  if (fd < 0) return fd;
  char p[32];
  fd_path(fd, p);
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(p);
  int r = mount(NULL, p, NULL, flags, NULL) < 0 ? -errno : 0;
  close(fd);
  return r;
}

/* One directory level of a tmpfs copy-up: every entry of src is recreated in
 * dst with its type, content, owner and mode, as runc's CopyDirectory does
 * (no timestamps, no xattrs). Nothing is ever followed: symlinks are copied
 * as symlinks and each name is opened O_NOFOLLOW relative to its parent fd. */
struct tcr_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int copy_file_fd(int in, int out, off_t size) {
  while (size > 0) {
    ssize_t n = sendfile(out, in, NULL, size > 0x40000000 ? 0x40000000 : (size_t)size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break; /* the file shrank while we copied it */
    size -= n;
  }
  return 0;
}

static int copy_entry(int src, int dst, const char *name, int depth);

static int copy_tree(int src, int dst, int depth) {
  /* aligned for the dirent records; one buffer per level of the tree */
  char buf[2048] __attribute__((aligned(8)));
  if (depth > 128) return -ELOOP;
  for (;;) {
    long n = syscall(SYS_getdents64, src, buf, sizeof buf);
    if (n < 0) return -errno;
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      struct tcr_dirent64 *d = (struct tcr_dirent64 *)(buf + off);
      off += d->d_reclen;
      if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
      int r = copy_entry(src, dst, d->d_name, depth);
      if (r < 0) return r;
    }
  }
}

static int copy_entry(int src, int dst, const char *name, int depth) {
  struct stat st;
  int r = 0;
  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(dst, name, 0700) < 0) return -errno;
    int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0) return -errno;
    int d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) { r = -errno; close(s); return r; }
    r = copy_tree(s, d, depth + 1);
    close(s);
    close(d);
  } else if (S_ISREG(st.st_mode)) {
    int s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0) return -errno;
    int d = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (d < 0) { r = -errno; close(s); return r; }
    r = copy_file_fd(s, d, st.st_size);
    close(s);
    close(d);
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlinkat(src, name, target, sizeof target - 1);
    if (n < 0) return -errno;
    target[n] = 0;
    if (symlinkat(target, dst, name) < 0) return -errno;
  } else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
    return -errno; /* devices, fifos, sockets */
  }
  if (r < 0) return r;
  /* owner first: chown clears set-id bits that the chmod then restores */
  if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
  if (!S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) < 0) return -errno;
  return 0;
}

/* A tmpfs mount with runc's "tmpcopyup" extension: the tmpfs starts with a
 * copy of what the directory it covers held (podman's --read-only gives
 * /tmp, /var/tmp and /run such mounts). The directory is opened before the
 * mount, so the copy reads what the tmpfs hides; the tmpfs root then takes
 * the directory's mode when n1 says so (no mode= option) and the directory
 * was there before, as runc 1.1 chmods it. */
static int do_tmpfs_copyup(struct child *c, const struct plan_step *s) {
  const char *src = str(c, s, 0), *target = str(c, s, 1), *type = str(c, s, 2), *data = str(c, s, 3);
  int old = open_in_root(c, target, O_RDONLY | O_DIRECTORY, 0), created = 0;
  if (old == -ENOENT) {
    /* nothing to copy; a directory made here keeps the tmpfs's own mode */
    int r = mkdir_in_root(c, target, 0755);
    if (r < 0) return r;
    created = 1;
    old = open_in_root(c, target, O_RDONLY | O_DIRECTORY, 0);
  }
  if (old < 0) return old;
  int neu = -1, r = 0;
  struct stat st;
  char p[32];
  if (fstat(old, &st) < 0) { r = -errno; goto out; }
  fd_path(old, p);
  if (mount(src, p, type, (unsigned long)s->n[0], data) < 0) { r = -errno; goto out; }
  /* by its path again: the path now leads to the tmpfs mounted on top */
  neu = open_in_root(c, target, O_RDONLY | O_DIRECTORY, 0);
  if (neu < 0) { r = neu; goto out; }
  r = copy_tree(old, neu, 0);
  if (r == 0 && s->n[1] && !created && fchmod(neu, st.st_mode & 07777) < 0) r = -errno;
out:
  close(old);
  if (neu >= 0) close(neu);
  return r;
}

static int do_pivot_root(const char *root) {
  int fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = fchdir(fd);
  close(fd);
  if (r < 0) return -errno;
  /* stack the old root under the new one, then detach it: no host path stays */
  if (syscall(SYS_pivot_root, ".", ".") < 0) return -errno;
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return -errno;
  if (umount2(".", MNT_DETACH) < 0) return -errno;
  if (chdir("/") < 0) return -errno;
  return 0;
}

static int do_chroot(const char *root) {
  if (chdir(root) < 0) return -errno;
  if (mount(root, "/", NULL, MS_MOVE, NULL) < 0) return -errno;
  if (chroot(".") < 0) return -errno;
  if (chdir("/") < 0) return -errno;
  return 0;
}

static int do_write_file(const char *path, const char *content, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
  if (fd < 0) return -errno;
  ssize_t w = write(fd, content, len);
  int e = errno;
  close(fd);
  if (w < 0) return -e;
  return (size_t)w == len ? 0 : -EIO;
}

static int do_loopback_up(void) {
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

static int do_setuser(const struct child *c, const struct plan_step *s) {
  const char *groups = str(c, s, 0);
  if (groups && syscall(SYS_setgroups, s->len[0] / sizeof(gid_t), (const gid_t *)groups) < 0) return -errno;
  if (syscall(SYS_setresgid, (gid_t)s->n[1], (gid_t)s->n[1], (gid_t)s->n[1]) < 0) return -errno;
  if (syscall(SYS_setresuid, (uid_t)s->n[0], (uid_t)s->n[0], (uid_t)s->n[0]) < 0) return -errno;
  return 0;
}

static int do_cap_bounding(int64_t keep, int64_t last) {
  for (int64_t cap = 0; cap <= last; cap++) {
    if (keep & ((int64_t)1 << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  }
  return 0;
}

static int do_capset(int64_t eff, int64_t perm, int64_t inh) {
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

static int do_cap_ambient(int64_t mask) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  for (int cap = 0; cap < 64; cap++)
    if ((mask & ((int64_t)1 << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return -errno;
  return 0;
}

static int do_sync(struct child *c, int64_t id) {
  send_record(c, REC_SYNC, 0, 0, id);
  ssize_t n = recv(c->sock, sync_payload, sizeof sync_payload, 0);
  /* EOF: the runtime died before answering; never outlive it here */
  if (n <= 0) _exit(1);
  if (sync_payload[0] != SYNC_CONTINUE) _exit(1);
  sync_payload_len = (size_t)n - 1;
  memmove(sync_payload, sync_payload + 1, sync_payload_len);
  return 0;
}

/* Sends a record with an fd attached (SCM_RIGHTS). */
static int send_fd_record(const struct child *c, uint32_t kind, int fd) {
  struct plan_record r = {kind, c->current, 0, (uint32_t)syscall(SYS_getpid), 0, 0};
  return send_with_fd(c->sock, &r, sizeof r, fd) < 0 ? -errno : 0;
}

/* A pty from the container's own devpts: the slave becomes stdio and the
 * controlling terminal (the init already leads its own session), the master
 * goes to the runtime. */
static int do_console(struct child *c, const struct plan_step *s) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -errno;
  int unlock = 0, r = 0;
  int slave = -1;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) { r = -errno; goto out; }
  /* the peer by fd, not by a /dev/pts path the container could swap */
  slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) { r = -errno; goto out; }
  if (s->n[0] > 0 && s->n[1] > 0) {
    struct winsize ws = {(unsigned short)s->n[0], (unsigned short)s->n[1], 0, 0};
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) { r = -errno; goto out; }
  }
  const char *console = str(c, s, 0);
  if (console) {
    if ((r = mkfile_in_root(c, console, 0600)) < 0) goto out;
    int tfd = open_in_root(c, console, O_PATH | O_NOFOLLOW, 0);
    if (tfd < 0) { r = tfd; goto out; }
    char sp[32], tp[32];
    fd_path(slave, sp);
    fd_path(tfd, tp);
    if (mount(sp, tp, NULL, MS_BIND, NULL) < 0) r = -errno;
    close(tfd);
    if (r < 0) goto out;
  }
  if ((r = send_fd_record(c, REC_CONSOLE, master)) < 0) goto out;
  if (ioctl(slave, TIOCSCTTY, 0) < 0) { r = -errno; goto out; }
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) { r = -errno; goto out; }
out:
  if (slave >= 0) close(slave);
  close(master);
  return r;
}

static int do_fifo_wait(struct child *c, int slot) {
  char p[32];
  fd_path(c->slots[slot], p);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t w = write(fd, "0", 1);
  int e = errno;
  close(fd);
  close(c->slots[slot]);
  c->slots[slot] = -1;
  return w == 1 ? 0 : -e;
}

static int wait_with_timeout(pid_t pid, int64_t timeout_ms, int *status) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd >= 0 && timeout_ms > 0) {
    struct pollfd p = {pfd, POLLIN, 0};
    int r;
    do r = poll(&p, 1, (int)timeout_ms); while (r < 0 && errno == EINTR);
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

static int do_hook(struct child *c, const struct plan_step *s) {
  char *argv[MAX_LIST], *envp[MAX_LIST];
  split_list(c, s, 1, argv);
  split_list(c, s, 2, envp);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) { int e = errno; close(p[0]); close(p[1]); return -e; }
  if (pid == 0) {
    dup2(p[0], 0);
    execve(str(c, s, 0), argv, envp);
    _exit(127);
  }
  close(p[0]);
  (void)!write(p[1], sync_payload, sync_payload_len);
  close(p[1]);
  int status = 0;
  int r = wait_with_timeout(pid, s->n[0], &status);
  if (r < 0) return r;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return -ENOENT;
  return -ECHILD; /* reported as "hook failed" by the runtime */
}

static int is_executable(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return -errno;
  if (!S_ISREG(st.st_mode)) return -EACCES;
  return access(path, X_OK) < 0 ? -errno : 0;
}

static int do_find_exec(struct child *c, const struct plan_step *s) {
  char *paths[MAX_LIST];
  int n = split_list(c, s, 0, paths), err = -ENOENT;
  for (int i = 0; i < n; i++) {
    int r = is_executable(paths[i]);
    if (r == 0) { c->found_exec = i; return 0; }
    if (r != -ENOENT && r != -ENOTDIR) err = r;
  }
  return err;
}

static int do_fds(struct child *c, int keep) {
  for (int fd = 0; fd < keep; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && (fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  /* everything else closes at exec (CVE-2024-21626); our socket stays until then */
  if (syscall(SYS_close_range, keep, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return -errno;
  (void)c;
  return 0;
}

static int do_exec(struct child *c, const struct plan_step *s) {
  char *paths[MAX_LIST], *argv[MAX_LIST], *envp[MAX_LIST];
  int n = split_list(c, s, 0, paths);
  split_list(c, s, 1, argv);
  split_list(c, s, 2, envp);
  int err = ENOENT;
  if (c->found_exec < 0) /* no OP_FIND_EXEC before: look up here */
    for (int i = 0; i < n && c->found_exec < 0; i++) {
      int r = is_executable(paths[i]);
      if (r == 0) c->found_exec = i;
      else if (r != -ENOENT && r != -ENOTDIR) err = -r;
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

static int run_step(struct child *c, const struct plan_step *s) {
  const char *s0 = str(c, s, 0), *s1 = str(c, s, 1);
  switch (s->op) {
  case OP_PRCTL:
    return prctl((int)s->n[0], (unsigned long)s->n[1], (unsigned long)s->n[2], 0, 0) < 0 ? -errno : 0;
  case OP_SYNC: return do_sync(c, s->n[0]);
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
  case OP_CHROOT: return do_chroot(s0);
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
    struct sock_fprog prog = {(unsigned short)(s->len[0] / sizeof(struct sock_filter)),
                              (struct sock_filter *)s0};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)s->n[0], &prog) < 0 ? -errno : 0;
  }
  case OP_OPEN_PATH: {
    if (s->n[0] < 0 || s->n[0] >= MAX_SLOTS) return -EINVAL;
    int fd = open(s0, O_PATH | O_CLOEXEC);
    if (fd < 0) return -errno;
    c->slots[s->n[0]] = fd;
    return 0;
  }
  case OP_FIFO_WAIT:
    if (s->n[0] < 0 || s->n[0] >= MAX_SLOTS || c->slots[s->n[0]] < 0) return -EBADF;
    return do_fifo_wait(c, (int)s->n[0]);
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
 * runtime's write to cgroup.procs does the same job a moment later.
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
    if (errno != ENOSYS && errno != E2BIG && errno != EINVAL && errno != EOPNOTSUPP && errno != EBADF) return -1;
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
  put_str(2, "tcr-executor: refusing to run: this is the container runtime's launch-plan executor, started only by tcr (not by hand, nor as a script's interpreter)\n");
  _exit(126);
}

/* argv: tcr-executor SOCK PID-PIPE PLAN-MEMFD CGROUP-FD|-1 (native/spawn.c) */
int main(int argc, char **argv) {
  if (argc != 5 || strcmp(argv[0], TCR_EXECUTOR_ARGV0) != 0) refuse();
  int sock = parse_fd(argv[1]), pid_pipe = parse_fd(argv[2]), plan_fd = parse_fd(argv[3]), cgroup_fd = parse_fd(argv[4]);
  if (sock < 3 || pid_pipe < 3 || plan_fd < 3 || cgroup_fd < -1) refuse();
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

  struct child c;
  memset(&c, 0, sizeof c);
  c.hdr = plan;
  c.steps = (const void *)(c.hdr + 1);
  c.arena = (const char *)(c.steps + c.hdr->nsteps);
  c.sock = sock;
  c.rootfd = -1;
  c.found_exec = -1;
  for (int i = 0; i < MAX_SLOTS; i++) c.slots[i] = -1;

  prctl(PR_SET_NAME, "tcr-stage1", 0, 0, 0);
  /* a runtime killed from here on takes stage 1 with it (killed before,
   * stage 1 and its init find the socket closed at the first sync and exit) */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  run_steps(&c, 0, c.hdr->stage1_steps);
  int into = 0;
  pid_t pid = clone_init(c.hdr->clone_flags & ~0xffULL, cgroup_fd, &into);
  if (pid < 0) fail(&c, errno);
  if (pid == 0) {
    close(pid_pipe);
    if (cgroup_fd >= 0) close(cgroup_fd);
    prctl(PR_SET_NAME, "tcr-init", 0, 0, 0);
    run_steps(&c, c.hdr->stage1_steps, c.hdr->nsteps);
    _exit(0);
  }
  int32_t msg[2] = {pid, into};
  (void)!write(pid_pipe, msg, sizeof msg);
  return 0;
}
