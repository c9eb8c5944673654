// gzip inflation with Intel's ISA-L (libisal.so.2, opened on first use), run
// on libuv's thread pool as zlib's is: about twice zlib's speed on layer
// blobs. Plumbing only: one isal_inflate call per step; what a stream of
// members, trailing bytes and failures means is src/image/isal-inflate.ts's.
// Built without ISA-L's header, or run without its library, it reports
// itself unavailable and the unpacker keeps node:zlib.
#include "inflate.h"

#include <dlfcn.h>
#include <cstdlib>
#include <cstring>

#if __has_include(<isa-l/igzip_lib.h>)
#include <isa-l/igzip_lib.h>
#define TCR_HAVE_ISAL 1
#else
#define TCR_HAVE_ISAL 0
#endif

namespace tcr_inflate {
namespace {

#if TCR_HAVE_ISAL
struct Isal {
  void (*init)(struct inflate_state *);
  void (*reset)(struct inflate_state *);
  int (*inflate)(struct inflate_state *);
};

// null: not loaded (yet, or at all: loadFailed)
const Isal *isal = nullptr;
bool loadFailed = false;

const Isal *Load() {
  if (isal || loadFailed) return isal;
  static Isal fns;
  void *h = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
  if (h) {
    fns.init = reinterpret_cast<void (*)(struct inflate_state *)>(dlsym(h, "isal_inflate_init"));
    fns.reset = reinterpret_cast<void (*)(struct inflate_state *)>(dlsym(h, "isal_inflate_reset"));
    fns.inflate = reinterpret_cast<int (*)(struct inflate_state *)>(dlsym(h, "isal_inflate"));
  }
  if (!h || !fns.init || !fns.reset || !fns.inflate) {
    loadFailed = true;
    return nullptr;
  }
  isal = &fns;
  return isal;
}

void Start(struct inflate_state *s, bool reset) {
  if (reset)
    isal->reset(s);
  else
    isal->init(s);
  s->crc_flag = ISAL_GZIP; // the gzip header is parsed, and the trailer's CRC and size checked
}

struct inflate_state *StateOf(const Napi::Value &v) {
  return v.As<Napi::External<struct inflate_state>>().Data();
}

// One isal_inflate call off the main thread: it reads from input[offset..] and writes into output
// until the input is used up, the output is full, the member ends or the data is bad.
class Step : public Napi::AsyncWorker {
public:
  Step(Napi::Env env, Napi::Value state, Napi::Buffer<uint8_t> input, uint32_t offset, Napi::Buffer<uint8_t> output)
      : Napi::AsyncWorker(env, "tcr.inflate"), deferred_(Napi::Promise::Deferred::New(env)), state_(StateOf(state)),
        in_(input.Data() + offset), inLen_(static_cast<uint32_t>(input.Length()) - offset), out_(output.Data()),
        outLen_(static_cast<uint32_t>(output.Length())) {
    // kept alive while the pool thread works on their memory
    refs_ = Napi::Persistent(Napi::Object::New(env));
    refs_.Value().Set("state", state);
    refs_.Value().Set("input", input);
    refs_.Value().Set("output", output);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    state_->next_in = in_;
    state_->avail_in = inLen_;
    state_->next_out = out_;
    state_->avail_out = outLen_;
    status_ = isal->inflate(state_);
    read_ = inLen_ - state_->avail_in;
    written_ = outLen_ - state_->avail_out;
    finished_ = state_->block_state == ISAL_BLOCK_FINISH;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", status_);
    o.Set("read", read_);
    o.Set("written", written_);
    o.Set("finished", Napi::Boolean::New(env, finished_));
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference refs_;
  struct inflate_state *state_;
  uint8_t *in_;
  uint32_t inLen_;
  uint8_t *out_;
  uint32_t outLen_;
  int status_ = 0;
  uint32_t read_ = 0, written_ = 0;
  bool finished_ = false;
};
#endif

// isalAvailable() -> boolean
Napi::Value Available(const Napi::CallbackInfo &info) {
#if TCR_HAVE_ISAL
  return Napi::Boolean::New(info.Env(), Load() != nullptr);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// isalInflateNew() -> an opaque state for one gzip stream (freed with it by the GC)
Napi::Value New(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
#if TCR_HAVE_ISAL
  if (!Load()) throw Napi::Error::New(env, "libisal.so.2 is not installed");
  auto *s = static_cast<struct inflate_state *>(std::calloc(1, sizeof(struct inflate_state)));
  if (!s) throw Napi::Error::New(env, "out of memory for an inflate state");
  Start(s, false);
  return Napi::External<struct inflate_state>::New(env, s, [](Napi::Env, struct inflate_state *p) { std::free(p); });
#else
  throw Napi::Error::New(env, "built without ISA-L (libisal-dev)");
#endif
}

// isalInflateReset(state): ready for the next gzip member
Napi::Value Reset(const Napi::CallbackInfo &info) {
#if TCR_HAVE_ISAL
  Start(StateOf(info[0]), true);
#endif
  return info.Env().Undefined();
}

// isalInflateStep(state, input, offset, output) -> Promise<{ status, read, written, finished }>
Napi::Value StepAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
#if TCR_HAVE_ISAL
  auto input = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t offset = info[2].As<Napi::Number>().Uint32Value();
  if (offset > input.Length()) throw Napi::RangeError::New(env, "inflate: offset past the input");
  auto *w = new Step(env, info[0], input, offset, info[3].As<Napi::Buffer<uint8_t>>());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
#else
  throw Napi::Error::New(env, "built without ISA-L (libisal-dev)");
#endif
}

} // namespace

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("isalAvailable", Napi::Function::New(env, Available));
  exports.Set("isalInflateNew", Napi::Function::New(env, New));
  exports.Set("isalInflateReset", Napi::Function::New(env, Reset));
  exports.Set("isalInflateStep", Napi::Function::New(env, StepAsync));
}

} // namespace tcr_inflate
