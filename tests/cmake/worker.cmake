# Worker tests.
bf_unit_test(offsets)
target_link_libraries(test_offsets PRIVATE bfworker)
bf_unit_test(analysis)
target_link_libraries(test_analysis PRIVATE bfworker)
bf_unit_test(dedup)
target_link_libraries(test_dedup PRIVATE bfworker)
bf_unit_test(worker_telemetry)
target_link_libraries(test_worker_telemetry PRIVATE bfworker)
# The worker on the local stack; the SIGKILL run is the same binary with
# "chaos" (label long; BF_CHAOS_REPORTS=20000 for the issue's size).
bf_integration_test(worker)
add_test(NAME integration.worker_chaos COMMAND test_worker chaos)
set_tests_properties(integration.worker_chaos PROPERTIES TIMEOUT 900 LABELS "integration;long")
bf_integration_test(worker_cvss)
add_dependencies(test_worker_cvss bountyfleet-worker bountyfleet-aisim)
