# Warnings on for our own targets; third-party headers come in as SYSTEM includes.
function(dsv3_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter)
endfunction()
