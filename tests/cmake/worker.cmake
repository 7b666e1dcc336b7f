# Worker tests.
bf_unit_test(offsets)
target_link_libraries(test_offsets PRIVATE bfworker)
bf_unit_test(analysis)
target_link_libraries(test_analysis PRIVATE bfworker)
bf_unit_test(dedup)
target_link_libraries(test_dedup PRIVATE bfworker)
