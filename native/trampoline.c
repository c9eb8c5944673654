/*
 * The last step before a container's process (or a hook inside the
 * container) runs: the executor, a clone of node, does not execve() the
 * target itself but this tiny program, from a sealed memfd. So at the
 * moment the kernel starts the target, /proc/self/exe is that memfd and not
 * the host's node binary: a target that is a script starting with
 * `#!/proc/self/exe` (CVE-2019-5736) re-runs this trampoline, which refuses,
 * instead of running the host's node inside the container with a handle on
 * its binary.
 *
 * Freestanding (no libc, static, a few kilobytes): it must run in any
 * container, whatever libc the image has or lacks.
 *
 * Protocol (set by native/executor.c): envp[0] is
 *   _TCR_EXEC=<report fd, or nothing>:<plan step>:<path of the target>
 * and is removed before the target runs with the rest of envp and the
 * untouched argv. If execve fails, a REC_FAIL record (native/plan.h) goes to
 * the report fd, a line to stderr, and the exit status is 127 (not found) or
 * 126, as a shell's.
 */
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

#define SYS_write 1
#define SYS_fcntl 72
#define SYS_sendto 44
#define SYS_execve 59
#define SYS_exit 60
#define SYS_getpid 39
#define F_GETFD 1
#define F_SETFD 2
#define FD_CLOEXEC 1
#define MSG_NOSIGNAL 0x4000
#define ENOENT 2
#define ENOTDIR 20

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return r;
}

static size_t len(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static void say(const char *s) { (void)sys3(SYS_write, 2, (long)s, (long)len(s)); }

static const char *describe(long err) {
  switch (err) {
  case 1: return "operation not permitted";
  case 2: return "no such file or directory";
  case 7: return "argument list too long";
  case 8: return "exec format error";
  case 12: return "out of memory";
  case 13: return "permission denied";
  case 20: return "not a directory";
  case 26: return "text file busy";
  case 40: return "too many levels of symbolic links";
  default: return "exec failed";
  }
}

static __attribute__((noreturn)) void leave(long status) {
  for (;;) (void)sys3(SYS_exit, status, 0, 0);
}

/* Reads a decimal number (or nothing: -1) up to `stop`; -2 when malformed. */
static long number(const char **p, char stop) {
  long n = -1;
  const char *s = *p;
  if (*s >= '0' && *s <= '9')
    for (n = 0; *s >= '0' && *s <= '9'; s++) n = n * 10 + (*s - '0');
  if (*s != stop) return -2;
  *p = s + 1;
  return n;
}

__attribute__((noreturn, used)) void trampoline_main(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  static const char key[] = "_TCR_EXEC=";
  const char *spec = envp[0];
  for (size_t i = 0; spec && i < sizeof key - 1; i++)
    if (spec[i] != key[i]) spec = NULL;
  if (!spec) {
    /* not started by the executor: most likely a script whose interpreter is /proc/self/exe */
    say("tcr: refusing to run the container runtime's trampoline as a program (an interpreter of /proc/self/exe?)\n");
    leave(126);
  }
  const char *p = spec + sizeof key - 1;
  long fd = number(&p, ':'), step = fd == -2 ? -2 : number(&p, ':');
  const char *path = p;
  if (step == -2) {
    say("tcr: malformed _TCR_EXEC\n");
    leave(126);
  }
  if (fd >= 0) {
    long fl = sys3(SYS_fcntl, fd, F_GETFD, 0);
    if (fl >= 0) (void)sys3(SYS_fcntl, fd, F_SETFD, fl | FD_CLOEXEC); /* closed by a successful exec */
  }
  long err = -sys3(SYS_execve, (long)path, (long)argv, (long)(envp + 1));
  if (fd >= 0) {
    struct plan_record r = {REC_FAIL, (uint32_t)step, (int32_t)err, (uint32_t)sys3(SYS_getpid, 0, 0, 0), 0, 0};
    (void)sys6(SYS_sendto, fd, (long)&r, sizeof r, MSG_NOSIGNAL, 0, 0);
  }
  say("tcr: exec ");
  say(argc > 0 && argv[0] ? argv[0] : path);
  say(": ");
  say(describe(err));
  say("\n");
  leave(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

/* The entry point: the kernel leaves argc, argv and envp on the stack. */
__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call trampoline_main\n"
    "  hlt\n");
