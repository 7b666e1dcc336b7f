# The bad input catalogue of issue 8 (tests/integration/test_bad_inputs.c):
# malformed and hostile inputs at every entry point, each with its expected
# outcome. `test_bad_inputs --list` prints the catalogue.
bf_integration_test(bad_inputs ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
target_link_libraries(test_bad_inputs PRIVATE bfworker)
set_tests_properties(integration.bad_inputs PROPERTIES TIMEOUT 300 LABELS "integration;bad_inputs")
