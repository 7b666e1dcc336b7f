# AI layer tests (worker/ai*.c, ops/aisim providers).
bf_unit_test(ai_limit)
target_link_libraries(test_ai_limit PRIVATE bfworker)
bf_unit_test(ai_provider)
target_link_libraries(test_ai_provider PRIVATE bfworker)
bf_integration_test(ai)
target_link_libraries(test_ai PRIVATE bfworker)
# Benchmark (not a test): share of a rate limit used, concurrent calls.
add_executable(bench_ai bench/bench_ai.c)
target_link_libraries(bench_ai PRIVATE bfworker)
bf_integration_test(ai_worker)
target_link_libraries(test_ai_worker PRIVATE bfworker)
bf_unit_test(ai_stream)
target_link_libraries(test_ai_stream PRIVATE bfworker)
