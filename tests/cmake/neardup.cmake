# Near-duplicate detection (worker/neardup.c) and its benchmark.
bf_unit_test(neardup)
target_link_libraries(test_neardup PRIVATE bfworker)
