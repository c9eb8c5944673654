// N-API face of native/spawn.c: starting the executor on a launch plan, on
// the calling thread or on libuv's thread pool, and reading what its stage 1
// cloned.
#include "addon-spawn.h"

#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

#include "spawn.h"

namespace {

using tcr_addon::ErrnoError;

// What a spawn needs, copied out of its JavaScript arguments: a spawn on the
// thread pool must not read JavaScript values.
struct SpawnArgs {
  std::vector<uint8_t> plan;
  int stdio[3] = {-1, -1, -1};
  int cgroup_fd = -1, slot_fd = -1;
  std::string exe_path;
  std::vector<int> held;
  // the outcome: err is a positive errno, what names the failed part
  int err = 0;
  std::string what;
  pid_t stage1 = -1;
  int pid_pipe = -1, sock = -1;
};

SpawnArgs SpawnArgsOf(const Napi::CallbackInfo &info) {
  SpawnArgs a;
  auto plan = info[0].As<Napi::Buffer<uint8_t>>();
  a.plan.assign(plan.Data(), plan.Data() + plan.Length());
  if (info[1].IsArray()) {
    auto v = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < 3 && i < v.Length(); i++) a.stdio[i] = v.Get(i).As<Napi::Number>().Int32Value();
  }
  a.cgroup_fd = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : -1;
  a.slot_fd = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
  a.exe_path = info[4].As<Napi::String>().Utf8Value();
  if (info.Length() > 5 && info[5].IsArray()) {
    auto v = info[5].As<Napi::Array>();
    for (uint32_t i = 0; i < v.Length(); i++) a.held.push_back(v.Get(i).As<Napi::Number>().Int32Value());
  }
  return a;
}

// Runs on whichever thread calls it: the memfd, then tcr_spawn.
void RunSpawn(SpawnArgs &a) {
  int exe_fd = tcr_sealed_memfd("tcr-executor", a.exe_path.c_str(), 0); // tcr_spawn moves it out of the way
  // EACCES/EPERM: a host that forbids executable memfds (vm.memfd_noexec=2): the file itself is executed
  if (exe_fd < 0 && exe_fd != -EACCES && exe_fd != -EPERM) {
    a.err = -exe_fd;
    a.what = a.exe_path + " (the launch-plan executor, built with the addon: npm run build)";
    return;
  }
  int r = tcr_spawn(a.plan.data(), a.plan.size(), a.stdio, a.cgroup_fd, a.slot_fd, exe_fd, a.exe_path.c_str(), a.held.data(), a.held.size(),
                    &a.stage1, &a.pid_pipe, &a.sock);
  if (exe_fd >= 0) close(exe_fd);
  if (r < 0) {
    a.err = -r;
    a.what = "start of the executor";
  }
}

Napi::Object SpawnedObject(Napi::Env env, const SpawnArgs &a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("stage1", a.stage1);
  o.Set("pidPipe", a.pid_pipe);
  o.Set("sock", a.sock);
  return o;
}

// spawn(plan: Buffer, stdio: [fd|-1, fd|-1, fd|-1], cgroupFd: number, slotFd: number, executorPath: string, held?: number[])
//   -> { stage1, pidPipe, sock }: returns once the executor runs; spawnFinish reads what its stage 1 cloned
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  SpawnArgs a = SpawnArgsOf(info);
  RunSpawn(a);
  if (a.err) throw ErrnoError(info.Env(), a.err, a.what.c_str());
  return SpawnedObject(info.Env(), a);
}

// The same on the thread pool: the vfork-style child shares the process's
// memory, and only the calling thread waits for its exec (0.7 ms a launch,
// measured here) while the JavaScript thread goes on with other launches.
class SpawnWorker : public Napi::AsyncWorker {
public:
  SpawnWorker(Napi::Env env, SpawnArgs args) : Napi::AsyncWorker(env, "tcr.spawn"), args_(std::move(args)), deferred_(env) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

protected:
  void Execute() override { RunSpawn(args_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (args_.err)
      deferred_.Reject(ErrnoError(env, args_.err, args_.what.c_str()).Value());
    else
      deferred_.Resolve(SpawnedObject(env, args_));
  }

private:
  SpawnArgs args_;
  Napi::Promise::Deferred deferred_;
};

// spawnAsync(the arguments of spawn) -> Promise<{ stage1, pidPipe, sock }>
Napi::Value SpawnAsync(const Napi::CallbackInfo &info) {
  auto *w = new SpawnWorker(info.Env(), SpawnArgsOf(info));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// spawnFinish(pidPipe, stage1) -> { pid, intoCgroup }: blocks until stage 1 reports (wait for
// the pipe to turn readable first), reaps it and closes the pipe
Napi::Value SpawnFinish(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pid_t pid = -1;
  int into = 0;
  tcr_spawn_finish(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), &pid, &into);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", pid);
  o.Set("intoCgroup", Napi::Boolean::New(env, into != 0));
  return o;
}

} // namespace

void tcr_addon::RegisterSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("spawnAsync", Napi::Function::New(env, SpawnAsync));
  exports.Set("spawnFinish", Napi::Function::New(env, SpawnFinish));
}
