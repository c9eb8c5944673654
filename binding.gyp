{
  "targets": [
    {
      "target_name": "tcr_native",
      "sources": ["native/addon.cc", "native/spawn.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-fno-strict-aliasing"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "tcr_executor",
      "type": "executable",
      "sources": ["native/executor.c"],
      "cflags": ["-Wall", "-Wextra", "-Os", "-std=gnu11", "-fno-asynchronous-unwind-tables", "-ffunction-sections", "-fdata-sections"],
      "cflags!": ["-fPIC", "-pthread"],
      "ldflags": ["-static", "-Wl,--gc-sections", "-s", "-Wl,--build-id=none"],
      "ldflags!": ["-pthread", "-rdynamic"],
      "libraries!": ["-lpthread"]
    }
  ]
}
