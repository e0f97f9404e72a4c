# ASan + UBSan for the whole tree (tests run under it in CI). Halting on UB makes it a test failure.
set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
add_compile_options(${_san})
add_link_options(${_san})
add_compile_definitions(DSV3_SANITIZE=1)
