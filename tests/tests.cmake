# The list of tests; one line per test file.
bf_unit_test(decide)
target_link_libraries(test_decide PRIVATE bfautoscaler)
bf_unit_test(actuator_local)
target_link_libraries(test_actuator_local PRIVATE bfautoscaler)
bf_integration_test(e2e)
bf_unit_test(schema)
bf_unit_test(codec)
