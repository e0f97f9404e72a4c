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
