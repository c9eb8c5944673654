{
  "targets": [
    {
      "target_name": "tcr_native",
      "sources": ["native/addon.cc", "native/addon-spawn.cc", "native/inflate.cc", "native/spawn.c"],
      "libraries": ["-ldl"],
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
      "type": "none",
      "actions": [
        {
          "action_name": "link_executor",
          "inputs": ["native/executor.c", "native/executor-records.c", "native/executor-fs.c", "native/executor-process.c", "native/executor.h", "native/plan.h", "native/fdpass.h", "native/build-executor.sh"],
          "outputs": ["<(PRODUCT_DIR)/tcr_executor"],
          "action": ["sh", "native/build-executor.sh", "<@(_outputs)"]
        }
      ]
    }
  ]
}
