# Compiler discipline of STYLE.md section 8, applied to every target of the project.
set(SECUP_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wvla
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-sign-conversion)
if(SECUP_WERROR)
  list(APPEND SECUP_WARNING_FLAGS -Werror)
endif()

function(secup_target_warnings target)
  target_compile_options(${target} PRIVATE ${SECUP_WARNING_FLAGS})
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
endfunction()
