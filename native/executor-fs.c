/* Executor steps on the filesystem: paths resolved inside the container's
 * root (never following a symlink out of it), mounts, masks, read-only
 * remounts, tmpfs copy-up, and the switch to the new root. */
#define _GNU_SOURCE
#include "executor.h"
#include "fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

void fd_path(int fd, char buf[32]) {
  static const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  memcpy(buf, prefix, sizeof prefix - 1);
  do {
    digits[n++] = (char)('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  int o = sizeof prefix - 1;
  while (n > 0) buf[o++] = digits[--n];
  buf[o] = 0;
}

/* Opens a path inside the current root, never letting a symlink or ".."
 * lead outside it (CVE-2021-30465): the kernel does the resolution. */
int open_in_root(const struct child *c, const char *path, uint64_t flags, uint64_t resolve) {
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
  if (!slash) {
    *name = path;
    return open_in_root(c, ".", O_PATH | O_DIRECTORY, 0);
  }
  size_t n = (size_t)(slash - path);
  if (n >= cap) return -ENAMETOOLONG;
  memcpy(parent, path, n);
  parent[n] = 0;
  *name = slash + 1;
  return open_in_root(c, parent, O_PATH | O_DIRECTORY, 0);
}

int mkdir_in_root(const struct child *c, const char *path, mode_t mode) {
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

int mkfile_in_root(const struct child *c, const char *path, mode_t mode) {
  int fd = open_in_root(c, path, O_PATH, 0);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
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

int with_parent_dir(const struct child *c, const char *path, const char **name) {
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

int do_mount(struct child *c, const struct plan_step *s) {
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
    if (sfd < 0) {
      if (tfd >= 0) close(tfd);
      return sfd;
    }
    fd_path(sfd, spath);
    src = spath;
  }
  r = mount(src, target, type, flags, data);
  if (r < 0 && errno == EPERM && (s->flags & STEP_RETRY_LOCKED)) r = mount(src, target, type, flags | locked_flags(target), data);
  r = r < 0 ? -errno : 0;
  if (tfd >= 0) close(tfd);
  if (sfd >= 0) close(sfd);
  return r;
}

int do_mask(struct child *c, const char *path) {
  int fd = open_in_root(c, path, O_PATH | O_NOFOLLOW, 0);
  if (fd < 0) return fd;
  struct stat st;
  char p[32];
  fd_path(fd, p);
  int r;
  if (fstat(fd, &st) < 0)
    r = -errno;
  else if (S_ISDIR(st.st_mode))
    r = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1");
  else
    r = mount("/dev/null", p, NULL, MS_BIND, NULL);
  if (r < 0) r = -errno;
  close(fd);
  return r;
}

int do_remount_ro(struct child *c, const char *path) {
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
    if (d < 0) {
      r = -errno;
      close(s);
      return r;
    }
    r = copy_tree(s, d, depth + 1);
    close(s);
    close(d);
  } else if (S_ISREG(st.st_mode)) {
    int s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0) return -errno;
    int d = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (d < 0) {
      r = -errno;
      close(s);
      return r;
    }
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
int do_tmpfs_copyup(struct child *c, const struct plan_step *s) {
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
  if (fstat(old, &st) < 0) {
    r = -errno;
    goto out;
  }
  fd_path(old, p);
  if (mount(src, p, type, (unsigned long)s->n[0], data) < 0) {
    r = -errno;
    goto out;
  }
  /* by its path again: the path now leads to the tmpfs mounted on top */
  neu = open_in_root(c, target, O_RDONLY | O_DIRECTORY, 0);
  if (neu < 0) {
    r = neu;
    goto out;
  }
  r = copy_tree(old, neu, 0);
  if (r == 0 && s->n[1] && !created && fchmod(neu, st.st_mode & 07777) < 0) r = -errno;
out:
  close(old);
  if (neu >= 0) close(neu);
  return r;
}

int do_pivot_root(const char *root) {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) return -errno;
  int fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    close(oldroot);
    return -e;
  }
  int r = fchdir(fd);
  close(fd);
  /* stack the old root on the new one, then detach it: no host path stays */
  if (r == 0) r = (int)syscall(SYS_pivot_root, ".", ".");
  /* "." must be the old root for the rslave below, not the new one: a mount
   * call on "." does not cross to the mount stacked on the cwd, so only a cwd
   * in the old root's tree keeps rslave off the container's own mounts (an
   * rshared volume would become a slave of the host's group) */
  if (r == 0) r = fchdir(oldroot);
  int e = errno;
  close(oldroot);
  if (r < 0) return -e;
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return -errno;
  if (umount2(".", MNT_DETACH) < 0) return -errno;
  if (chdir("/") < 0) return -errno;
  return 0;
}

/* move_mount only in a mount namespace of the container's own: in the host's
 * (no mount namespace) it would move the rootfs' mount over the host's / */
int do_chroot(const char *root, int move_mount) {
  if (chdir(root) < 0) return -errno;
  if (move_mount && mount(root, "/", NULL, MS_MOVE, NULL) < 0) return -errno;
  if (chroot(".") < 0) return -errno;
  if (chdir("/") < 0) return -errno;
  return 0;
}

int do_write_file(const char *path, const char *content, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
  if (fd < 0) return -errno;
  ssize_t w = write(fd, content, len);
  int e = errno;
  close(fd);
  if (w < 0) return -e;
  return (size_t)w == len ? 0 : -EIO;
}
