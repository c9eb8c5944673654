// The addon's spawn functions (addon-spawn.cc) and what its files share.
#ifndef TCR_ADDON_SPAWN_H
#define TCR_ADDON_SPAWN_H
#include <napi.h>

namespace tcr_addon {
/** An Error with errno, code and syscall set, as Node's own system errors have. */
Napi::Error ErrnoError(Napi::Env env, int err, const char *what);
/** spawn, spawnAsync and spawnFinish */
void RegisterSpawn(Napi::Env env, Napi::Object exports);
} // namespace tcr_addon
#endif
