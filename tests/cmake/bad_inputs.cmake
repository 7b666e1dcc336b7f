# The bad input catalogue (tests/integration/test_bad_inputs.c): malformed
# and hostile inputs at every entry point, each with its expected outcome.
# `test_bad_inputs --list` prints the catalogue.
bf_integration_test(bad_inputs)
target_link_libraries(test_bad_inputs PRIVATE bfworker)
set_tests_properties(integration.bad_inputs PROPERTIES TIMEOUT 300 LABELS "integration;bad_inputs")
