#ifndef TCR_INFLATE_H
#define TCR_INFLATE_H
#include <napi.h>

namespace tcr_inflate {
/* Adds isalAvailable, isalInflateNew, isalInflateReset and isalInflateStep to the addon's exports. */
void Register(Napi::Env env, Napi::Object exports);
} // namespace tcr_inflate

#endif
