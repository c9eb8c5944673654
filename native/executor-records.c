/* The executor's records to the runtime and the plan's strings: what every
 * step file uses, so the step files depend on this one and on executor-fs.c,
 * and only executor.c (the run loop) calls into the step files. */
#define _GNU_SOURCE
#include "executor.h"

#include <string.h>
#include <unistd.h>

const char *str(const struct child *c, const struct plan_step *s, int i) {
  if (s->off[i] == UINT32_MAX) return NULL;
  return c->arena + s->off[i];
}

/* write(2), not send(2): after the seccomp filter a profile written for runc
 * allows write but maybe not sendto. No SIGPIPE: the socket is closed once
 * the runtime stops listening (do_sync), and until then a runtime gone is a
 * launch to end anyway. */
void send_record(const struct child *c, uint32_t kind, int err, int64_t nanos, int64_t aux) {
  if (c->sock < 0) return;
  struct plan_record r = {kind, c->current, err, c->pid, nanos, aux};
  (void)!write(c->sock, &r, sizeof r);
}

void put_str(int fd, const char *s) {
  if (s) (void)!write(fd, s, strlen(s));
}

void put_uint(int fd, uint32_t v) {
  char buf[12];
  int i = sizeof buf;
  do buf[--i] = (char)('0' + v % 10);
  while ((v /= 10) && i > 0);
  (void)!write(fd, buf + i, sizeof buf - (size_t)i);
}

/* Splits a NUL-separated list from the arena into a NULL-terminated array. */
int split_list(const struct child *c, const struct plan_step *s, int i, char **out) {
  int n = 0;
  const char *p = str(c, s, i);
  if (!p) {
    out[0] = NULL;
    return 0;
  }
  const char *end = p + s->len[i];
  while (p < end && n < MAX_LIST - 1) {
    out[n++] = (char *)p;
    p += strlen(p) + 1;
  }
  out[n] = NULL;
  return n;
}
