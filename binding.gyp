{
  "targets": [
    {
      "target_name": "tcr_native",
      "sources": ["native/addon.cc", "native/executor.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-fno-strict-aliasing"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
