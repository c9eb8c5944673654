// N-API face of the executor and the few syscalls every lifecycle command
// needs. Loading this addon costs under a millisecond, unlike an FFI
// library, so the hot create/start/run path uses it instead of koffi.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "executor.h"

namespace {

Napi::Error ErrnoError(Napi::Env env, int err, const char *what) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN"));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

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

// spawn(plan: Buffer, stdio: [fd|-1, fd|-1, fd|-1], cgroupFd = -1) -> { pid, sock, intoCgroup }
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto plan = info[0].As<Napi::Buffer<uint8_t>>();
  int stdio[3] = {-1, -1, -1};
  if (info.Length() > 1 && info[1].IsArray()) {
    auto a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < 3 && i < a.Length(); i++) stdio[i] = a.Get(i).As<Napi::Number>().Int32Value();
  }
  int cgroup_fd = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : -1;
  pid_t pid = -1;
  int sock = -1, into = 0;
  int r = tcr_spawn(plan.Data(), plan.Length(), stdio, cgroup_fd, &pid, &sock, &into);
  if (r < 0) throw ErrnoError(env, -r, "clone");
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", pid);
  o.Set("sock", sock);
  o.Set("intoCgroup", Napi::Boolean::New(env, into != 0));
  return o;
}

// waitpid(pid, nohang) -> { pid, code, signal } | null (still running)
Napi::Value WaitPid(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool nohang = info.Length() > 1 && info[1].ToBoolean();
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, nohang ? WNOHANG : 0); while (r < 0 && errno == EINTR);
  if (r < 0) throw ErrnoError(env, errno, "waitpid");
  if (r == 0) return env.Null();
  return StatusObject(env, r, status);
}

class WaitWorker : public Napi::AsyncWorker {
 public:
  WaitWorker(Napi::Env env, pid_t pid) : Napi::AsyncWorker(env), pid_(pid), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    pid_t r;
    do r = waitpid(pid_, &status_, 0); while (r < 0 && errno == EINTR);
    if (r < 0) err_ = errno;
  }
  void OnOK() override {
    if (err_) deferred_.Reject(ErrnoError(Env(), err_, "waitpid").Value());
    else deferred_.Resolve(StatusObject(Env(), pid_, status_));
  }

 private:
  pid_t pid_;
  int status_ = 0;
  int err_ = 0;
  Napi::Promise::Deferred deferred_;
};

// waitAsync(pid) -> Promise<{ pid, code, signal }>, waiting on a worker thread
Napi::Value WaitAsync(const Napi::CallbackInfo &info) {
  auto *w = new WaitWorker(info.Env(), info[0].As<Napi::Number>().Int32Value());
  auto p = w->Promise();
  w->Queue();
  return p;
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
  do r = flock(fd, op); while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  if (r < 0) throw ErrnoError(info.Env(), errno, "flock");
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("waitpid", Napi::Function::New(env, WaitPid));
  exports.Set("waitAsync", Napi::Function::New(env, WaitAsync));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("recordSize", Napi::Number::New(env, sizeof(plan_record)));
  exports.Set("stepSize", Napi::Number::New(env, sizeof(plan_step)));
  exports.Set("headerSize", Napi::Number::New(env, sizeof(plan_header)));
  return exports;
}

}  // namespace

NODE_API_MODULE(tcr_native, Init)
