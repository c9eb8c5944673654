/*
 * The launch-plan wire format shared by src/linux/plan.ts (encodePlan) and
 * the executor, which native/spawn.c hands it to in a sealed memfd. A plan is
 * one buffer: a header, fixed-size steps, then an arena of strings and blobs
 * that steps point into by offset. Keep the numbers here in step with PlanOp
 * in TypeScript: the test suite checks them against each other. Each op's
 * comment names the slots it reads (s0 path, n0 mode): STEP_FIELDS in
 * src/linux/plan-steps.ts names the same slots, and the tests hold the two
 * (and run_step's cases) to each other. The steps to add an op are there.
 */
#ifndef TCR_PLAN_H
#define TCR_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_MAGIC   0x50524354u /* "TCRP" */
#define PLAN_VERSION 1u
#define PLAN_STRINGS 6

/* header flags */
#define PLAN_TRACE 1u

struct plan_header {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nsteps;
  uint32_t stage1_steps; /* leading steps run before the init is cloned (setns) */
  uint32_t keep_fds;     /* fds 0..keep_fds-1 survive the child's start-up */
  uint64_t clone_flags;  /* namespaces created by the clone of the init */
  uint32_t arena_len;
  uint32_t late_exit; /* a step failing once nobody reads records: exit with byte 2 if errno is byte 0 or 1, else byte 3
                         (src/linux/exit-status.ts) */
};

struct plan_step {
  uint32_t op;
  uint32_t flags;
  int64_t n[4];
  uint32_t off[PLAN_STRINGS]; /* offset into the arena, UINT32_MAX = none */
  uint32_t len[PLAN_STRINGS]; /* byte length, excluding the final NUL */
};

enum plan_op {
  OP_PRCTL = 1,          /* n0 option, n1 arg2, n2 arg3 */
  OP_SYNC = 2,           /* n0 sync id: ask the runtime, wait for its answer; n1 1: its last answer (close the socket) */
  OP_SETNS = 3,          /* s0 path, n0 nstype */
  OP_UNSHARE = 4,        /* n0 flags */
  OP_MOUNT = 5,          /* s0 source, s1 target, s2 fstype, s3 data, n0 flags */
  OP_MKDIR = 6,          /* s0 path (in root), n0 mode */
  OP_MKFILE = 7,         /* s0 path (in root), n0 mode */
  OP_MKNOD = 8,          /* s0 path (in root), n0 mode, n1 major, n2 minor, n3 uid<<32|gid */
  OP_SYMLINK = 9,        /* s0 link text, s1 path (in root) */
  OP_SET_ROOT = 10,      /* s0 directory that "in root" paths resolve against */
  OP_PIVOT_ROOT = 11,    /* s0 new root */
  OP_CHROOT = 12,        /* s0 new root; n0 1: move its mount onto / first (--no-pivot), 0: chroot only */
  OP_MASK = 13,          /* s0 path (in root): tmpfs over a dir, /dev/null over a file */
  OP_REMOUNT_RO = 14,    /* s0 path (in root), keeps the mount's other flags */
  OP_SETHOSTNAME = 15,   /* s0 */
  OP_SETDOMAINNAME = 16, /* s0 */
  OP_WRITE_FILE = 17,    /* s0 path, s1 content */
  OP_LOOPBACK_UP = 18,
  OP_CHDIR = 19, /* s0 */
  OP_UMASK = 20, /* n0 */
  OP_SETSID = 21,
  OP_SETUSER = 22,      /* n0 uid, n1 gid, s0 u32 groups */
  OP_CAP_BOUNDING = 23, /* n0 mask of caps kept, n1 last cap */
  OP_CAPSET = 24,       /* n0 effective, n1 permitted, n2 inheritable */
  OP_CAP_AMBIENT = 25,  /* n0 mask */
  OP_RLIMIT = 26,       /* n0 resource, n1 soft, n2 hard */
  OP_SECCOMP = 27,      /* s0 struct sock_filter[], n0 flags */
  /* 28 was OP_OPEN_PATH: the runtime now opens the exec fifo and hands it over as slot 0 */
  OP_FIFO_WAIT = 29,    /* n0 slot: block until `start` opens the exec fifo; n1: then until it closes it */
  OP_HOOK = 30,         /* s0 path, s1 argv, s2 env, n0 timeout ms; stdin = last sync answer */
  OP_FIND_EXEC = 31,    /* s0 candidate paths */
  OP_FDS = 32,          /* n0 fds kept open across exec (0..n0-1) */
  OP_EXEC = 33,         /* s0 candidate paths, s1 argv, s2 env */
  OP_JOIN_KEYRING = 34, /* s0 name: a new session keyring */
  OP_CONSOLE = 35,      /* n0 rows, n1 cols, s0 console path (in root) to bind the slave on:
                         * a pty from the container's devpts becomes its stdio and
                         * controlling terminal; the master goes to the runtime (REC_CONSOLE) */
  OP_TMPFS_COPYUP = 36, /* s0 source, s1 target (in root), s2 fstype, s3 data, n0 flags,
                         * n1 1 = the tmpfs root takes the covered directory's mode:
                         * mount it over the directory and copy the directory's
                         * contents into it (runc's "tmpcopyup") */
  OP_MAX = 37
};

/* step flags */
/* a failure record's step number for stage 1's clone of the init, which is no step of the plan */
#define CLONE_STEP 0xffffffffu

#define STEP_IGNORE_ENOENT  1u
#define STEP_IGNORE_EEXIST  2u
#define STEP_IGNORE_ERRORS  4u
#define STEP_TARGET_IN_ROOT 8u  /* OP_MOUNT: s1 resolved inside the root */
#define STEP_RETRY_LOCKED   16u /* OP_MOUNT remount: retry keeping locked flags */
#define STEP_SOURCE_IN_ROOT 32u /* OP_MOUNT bind: s0 resolved inside the root */

/* records the child sends on its socket */
enum record_kind {
  REC_STEP = 1,   /* step done (trace) */
  REC_SYNC = 2,   /* waiting for the runtime: aux = sync id */
  REC_FAIL = 3,   /* step failed with err; the child exits */
  REC_CONSOLE = 4 /* carries the pty master as SCM_RIGHTS */
};

struct plan_record {
  uint32_t kind;
  uint32_t step;
  int32_t err;
  uint32_t pid;  /* the child's pid in its own namespace, for the trace */
  int64_t nanos; /* how long the step took */
  int64_t aux;
};

/* the runtime's answer to a REC_SYNC: one byte, then an optional payload
 * (the state JSON later hooks read on stdin) */
#define SYNC_CONTINUE 0
#define SYNC_ABORT    1

/* argv[0] the executor is started with, and refuses to run without */
#define TCR_EXECUTOR_ARGV0 "tcr-executor"

/* A plan whose steps are all known and whose strings all lie inside its arena. */
static inline int plan_valid(const void *plan, size_t len) {
  const struct plan_header *hdr = (const struct plan_header *)plan;
  if (len < sizeof *hdr || hdr->magic != PLAN_MAGIC || hdr->version != PLAN_VERSION) return 0;
  size_t need = sizeof *hdr + (size_t)hdr->nsteps * sizeof(struct plan_step) + hdr->arena_len;
  if (len < need || hdr->stage1_steps > hdr->nsteps) return 0;
  const struct plan_step *steps = (const struct plan_step *)(hdr + 1);
  for (uint32_t i = 0; i < hdr->nsteps; i++) {
    if (steps[i].op == 0 || steps[i].op >= OP_MAX) return 0;
    for (int k = 0; k < PLAN_STRINGS; k++)
      if (steps[i].off[k] != UINT32_MAX && ((size_t)steps[i].off[k] + steps[i].len[k] >= hdr->arena_len)) return 0;
  }
  return 1;
}

#endif
