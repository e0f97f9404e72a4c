# Every external library comes from Debian; README.md says what each is for.
find_package(OpenMP REQUIRED)                  # threads: parallel loops over rows, heads, experts
find_package(nlohmann_json 3.10 REQUIRED)      # config.json, safetensors headers, tokenizer.json, HTTP bodies
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)   # Unicode regex of the pre-tokenizer
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)             # cpp-httplib: the OpenAI-compatible server
find_package(Threads REQUIRED)
if(DSV3_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(DSV3_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
# Optional: the MPI backend of src/dist (mpirun across processes and machines). Without it,
# dsv3 builds with the single-process backend only and the mpirun tests are not registered.
set(MPI_CXX_SKIP_MPICXX ON)  # the C API only, not the deprecated C++ bindings
find_package(MPI COMPONENTS CXX)
