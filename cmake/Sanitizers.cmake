# ASan + UBSan for the whole tree (tests run under it in CI). Halting on UB makes it a test failure.
# UBSan's `null` and `alignment` checks are left out here: they instrument every pointer use and
# made the JSON-heavy files (nlohmann::json templates) take twice as long to compile (a parse +
# dump file: 27.8 s of CPU with them, 13.0 s without), and this build is most of CI's time. A null
# dereference still stops ASan with a stack trace; the fuzz build (cmake/Fuzz.cmake, clang) keeps
# both checks on the parsers of untrusted files, where a misaligned read would come from.
set(_san -fsanitize=address,undefined -fno-sanitize=null,alignment -fno-sanitize-recover=undefined
         -fno-omit-frame-pointer)
add_compile_options(${_san})
add_link_options(${_san})
add_compile_definitions(DSV3_SANITIZE=1)
