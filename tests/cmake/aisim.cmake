# AI simulator tests.
bf_unit_test(aisim_verdict ${CMAKE_SOURCE_DIR}/ops/aisim/verdict.c ${CMAKE_SOURCE_DIR}/ops/aisim/severity.c
             ${CMAKE_SOURCE_DIR}/ops/aisim/openai.c ${CMAKE_SOURCE_DIR}/ops/aisim/prompt_cache.c)
bf_unit_test(aisim_prompt_cache ${CMAKE_SOURCE_DIR}/ops/aisim/prompt_cache.c)
