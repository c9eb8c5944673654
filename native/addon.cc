// N-API face of the executor and the few syscalls every lifecycle command
// needs. Loading this addon is cheap, unlike an FFI library, so the hot
// create/start/run path uses it instead of koffi.
#include <napi.h>

#include "inflate.h"

#include <cerrno>
#include <cstring>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>
#include <functional>
#include <memory>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <poll.h>

#include <uv.h>

#include "plan.h"
#include "spawn.h"
#include "fdpass.h"
#include "addon-spawn.h"

Napi::Error tcr_addon::ErrnoError(Napi::Env env, int err, const char *what) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN"));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

namespace {

using tcr_addon::ErrnoError;

Napi::Object StatusObject(Napi::Env env, pid_t pid, int status) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", pid);
  if (WIFEXITED(status)) {
    o.Set("code", WEXITSTATUS(status));
    o.Set("signal", env.Null());
  } else {
    o.Set("code", env.Null());
    o.Set("signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return o;
}

// waitpid(pid, nohang) -> { pid, code, signal } | null (still running)
Napi::Value WaitPid(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool nohang = info.Length() > 1 && info[1].ToBoolean();
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, nohang ? WNOHANG : 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) throw ErrnoError(env, errno, "waitpid");
  if (r == 0) return env.Null();
  return StatusObject(env, r, status);
}

// Waits on the main loop, not a worker thread, for an fd to turn readable:
// libuv's thread pool has four threads by default, and a process that waits
// on many containers (a library user, a monitor) must not fill it with
// blocked waits, nor serialise concurrent launches on blocking reads.
class ReadableWait {
public:
  ReadableWait(Napi::Env env, int fd, std::function<void(Napi::Env, int)> done)
      : env_(env), context_(env, "tcr.readable"), done_(std::move(done)) {
    uv_loop_t *loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    poll_.data = this;
    fd_ = fd;
    // uv_poll_init makes the fd non-blocking; the callers' reads after it expect it as it was
    flags_ = fcntl(fd, F_GETFL);
    int r = uv_poll_init(loop, &poll_, fd);
    if (r == 0) r = uv_poll_start(&poll_, UV_READABLE | UV_DISCONNECT, OnReady);
    if (r != 0) throw Napi::Error::New(env, std::string("uv_poll: ") + uv_strerror(r));
  }

private:
  static void OnReady(uv_poll_t *handle, int status, int) {
    auto *self = static_cast<ReadableWait *>(handle->data);
    uv_poll_stop(handle);
    if (self->flags_ >= 0) fcntl(self->fd_, F_SETFL, self->flags_);
    // closed before done_ may close the fd: libuv's close forgets the fd by number, which could by then be another's.
    // The handle itself is freed on a later turn of the loop, so self stays valid below.
    uv_close(reinterpret_cast<uv_handle_t *>(handle), [](uv_handle_t *h) { delete static_cast<ReadableWait *>(h->data); });
    // a callback scope, so the promise's reactions run before the loop moves on
    Napi::HandleScope scope(self->env_);
    Napi::CallbackScope cb(self->env_, self->context_);
    self->done_(self->env_, status);
  }

  Napi::Env env_;
  Napi::AsyncContext context_;
  std::function<void(Napi::Env, int)> done_;
  uv_poll_t poll_;
  int fd_ = -1;
  int flags_ = -1;
};

// readableAsync(fd) -> Promise<void>: resolves once fd has data (or its peer closed)
Napi::Value ReadableAsync(const Napi::CallbackInfo &info) {
  auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(info.Env()));
  new ReadableWait(info.Env(), info[0].As<Napi::Number>().Int32Value(), [deferred](Napi::Env env, int status) {
    if (status < 0)
      deferred->Reject(Napi::Error::New(env, std::string("poll: ") + uv_strerror(status)).Value());
    else
      deferred->Resolve(env.Undefined());
  });
  return deferred->Promise();
}

// waitAsync(pid) -> Promise<{ pid, code, signal }>: our child's exit, seen
// through its pidfd on the main loop, then reaped with waitpid
Napi::Value WaitAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) throw ErrnoError(env, errno, "pidfd_open");
  new ReadableWait(env, fd, [deferred, pid, fd](Napi::Env env, int) {
    close(fd);
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
      deferred->Reject(ErrnoError(env, errno, "waitpid").Value());
    else
      deferred->Resolve(StatusObject(env, pid, status));
  });
  return deferred->Promise();
}

// waitExitAsync(pid) -> Promise<boolean>: true once a process that need not
// be our child has ended (its pidfd readable), false if it was gone already
Napi::Value WaitExitAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  int fd = (int)syscall(SYS_pidfd_open, info[0].As<Napi::Number>().Int32Value(), 0);
  if (fd < 0) {
    if (errno != ESRCH) throw ErrnoError(env, errno, "pidfd_open");
    deferred->Resolve(Napi::Boolean::New(env, false));
    return deferred->Promise();
  }
  new ReadableWait(env, fd, [deferred, fd](Napi::Env env, int) {
    close(fd);
    deferred->Resolve(Napi::Boolean::New(env, true));
  });
  return deferred->Promise();
}

// exchange(a, b): renameat2(RENAME_EXCHANGE), both names swapped atomically
Napi::Value Exchange(const Napi::CallbackInfo &info) {
  std::string a = info[0].As<Napi::String>(), b = info[1].As<Napi::String>();
  if (syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), 2 /* RENAME_EXCHANGE */) < 0)
    throw ErrnoError(info.Env(), errno, "renameat2");
  return info.Env().Undefined();
}

Napi::Value MkFifo(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>();
  mode_t mode = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0600;
  if (mkfifo(path.c_str(), mode) < 0) throw ErrnoError(info.Env(), errno, "mkfifo");
  return info.Env().Undefined();
}

// flock(fd, exclusive, nonblocking) -> true, or false if nonblocking and busy
Napi::Value Flock(const Napi::CallbackInfo &info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int op = info[1].ToBoolean() ? LOCK_EX : LOCK_SH;
  if (info.Length() > 2 && info[2].ToBoolean()) op |= LOCK_NB;
  int r;
  do r = flock(fd, op);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  if (r < 0) throw ErrnoError(info.Env(), errno, "flock");
  return Napi::Boolean::New(info.Env(), true);
}

// recv(sock, size) -> { data: Buffer, fd: number (-1 if none) }: a record, with
// the fd it carries (SCM_RIGHTS). fs.readSync would silently drop that fd.
Napi::Value Recv(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t size = info[1].As<Napi::Number>().Uint32Value();
  std::vector<char> buf(size);
  struct iovec iov = {buf.data(), size};
  char ctrl[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw ErrnoError(env, errno, "recvmsg");
  int fd = -1;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), (size_t)n));
  o.Set("fd", fd);
  return o;
}

// sendFdToSocket(path, fd, name): hands fd to the unix socket at path, as runc
// does with the pty master for --console-socket (the name travels as data).
Napi::Value SendFdToSocket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = info[1].As<Napi::Number>().Int32Value();
  std::string name = info.Length() > 2 ? std::string(info[2].As<Napi::String>()) : std::string("/dev/ptmx");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw ErrnoError(env, ENAMETOOLONG, "console socket");
  memcpy(addr.sun_path, path.c_str(), path.size());
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw ErrnoError(env, errno, "socket");
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int e = errno;
    close(s);
    throw ErrnoError(env, e, "connect");
  }
  ssize_t n = send_with_fd(s, name.data(), name.size(), fd);
  int e = errno;
  close(s);
  if (n < 0) throw ErrnoError(env, e, "sendmsg");
  return env.Undefined();
}

// setWinsize(fd, rows, cols) / getWinsize(fd) -> { rows, cols } | null
Napi::Value SetWinsize(const Napi::CallbackInfo &info) {
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_col = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &ws) < 0) throw ErrnoError(info.Env(), errno, "TIOCSWINSZ");
  return info.Env().Undefined();
}

Napi::Value GetWinsize(const Napi::CallbackInfo &info) {
  struct winsize ws;
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCGWINSZ, &ws) < 0) return info.Env().Null();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("rows", ws.ws_row);
  o.Set("cols", ws.ws_col);
  return o;
}

// mount(source, target, fstype, flags, data) and umount(target, flags): the
// runtime's own mounts in the host namespace (an image container's overlay
// root). Here rather than through koffi: delete is synchronous and frequent.
Napi::Value Mount(const Napi::CallbackInfo &info) {
  auto str = [&](size_t i) -> std::string { return info[i].IsString() ? std::string(info[i].As<Napi::String>()) : std::string(); };
  std::string src = str(0), target = str(1), type = str(2), data = str(4);
  unsigned long flags = (unsigned long)info[3].As<Napi::Number>().Int64Value();
  if (mount(src.empty() ? nullptr : src.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
            data.empty() ? nullptr : data.c_str()) < 0)
    throw ErrnoError(info.Env(), errno, "mount");
  return info.Env().Undefined();
}

Napi::Value Umount(const Napi::CallbackInfo &info) {
  std::string target = info[0].As<Napi::String>();
  int flags = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  if (umount2(target.c_str(), flags) < 0) throw ErrnoError(info.Env(), errno, "umount2");
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("umount", Napi::Function::New(env, Umount));
  exports.Set("recv", Napi::Function::New(env, Recv));
  exports.Set("sendFdToSocket", Napi::Function::New(env, SendFdToSocket));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize));
  exports.Set("getWinsize", Napi::Function::New(env, GetWinsize));
  tcr_addon::RegisterSpawn(env, exports);
  exports.Set("waitpid", Napi::Function::New(env, WaitPid));
  exports.Set("waitAsync", Napi::Function::New(env, WaitAsync));
  exports.Set("waitExitAsync", Napi::Function::New(env, WaitExitAsync));
  exports.Set("readableAsync", Napi::Function::New(env, ReadableAsync));
  exports.Set("exchange", Napi::Function::New(env, Exchange));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo));
  exports.Set("flock", Napi::Function::New(env, Flock));
  tcr_inflate::Register(env, exports);
  exports.Set("recordSize", Napi::Number::New(env, sizeof(plan_record)));
  exports.Set("stepSize", Napi::Number::New(env, sizeof(plan_step)));
  exports.Set("headerSize", Napi::Number::New(env, sizeof(plan_header)));
  return exports;
}

} // namespace

NODE_API_MODULE(tcr_native, Init)
