# AddressSanitizer + UndefinedBehaviorSanitizer for the whole build (preset asan-ubsan).
if(SECUP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
