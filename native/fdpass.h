/* Sending one fd with a message (SCM_RIGHTS), shared by the executor (the
 * pty master to the runtime) and the addon (the master to --console-socket).
 * Plain syscalls and stack memory only. */
#ifndef TCR_FDPASS_H
#define TCR_FDPASS_H

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static inline ssize_t send_with_fd(int sock, const void *data, size_t len, int fd) {
  struct iovec iov = {(void *)data, len};
  char ctrl[CMSG_SPACE(sizeof(int))];
  memset(ctrl, 0, sizeof ctrl);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

#endif
