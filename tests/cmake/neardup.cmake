# Near-duplicate detection (worker/neardup.c).
bf_unit_test(neardup)
target_link_libraries(test_neardup PRIVATE bfworker)
bf_integration_test(neardup_worker)
