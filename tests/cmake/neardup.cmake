# Near-duplicate detection (worker/neardup.c) and its benchmark.
bf_unit_test(neardup)
target_link_libraries(test_neardup PRIVATE bfworker)
# The precision/recall benchmark (BENCHMARKS.md, "Near duplicates"); built
# with the tests, not run by ctest.
add_executable(bench_neardup ${CMAKE_SOURCE_DIR}/bench/neardup/bench_neardup.c)
target_link_libraries(bench_neardup PRIVATE bfworker)
bf_integration_test(neardup_worker)
