# Worker (worker/) tests.
bf_unit_test(offsets)
target_link_libraries(test_offsets PRIVATE bfworker)
bf_unit_test(analysis)
target_link_libraries(test_analysis PRIVATE bfworker)
bf_unit_test(dedup)
target_link_libraries(test_dedup PRIVATE bfworker)
bf_unit_test(worker_telemetry)
target_link_libraries(test_worker_telemetry PRIVATE bfworker)
bf_unit_test(neardup)
target_link_libraries(test_neardup PRIVATE bfworker)
bf_unit_test(ai_config)
target_link_libraries(test_ai_config PRIVATE bfworker)
bf_unit_test(ai_limit)
target_link_libraries(test_ai_limit PRIVATE bfworker)
bf_unit_test(ai_provider)
target_link_libraries(test_ai_provider PRIVATE bfworker)
bf_unit_test(ai_stream)
target_link_libraries(test_ai_stream PRIVATE bfworker)
# The fleet-wide rate limit's script and client, on a real redis-server.
bf_unit_test(ai_fleet)
target_link_libraries(test_ai_fleet PRIVATE bfworker)
# bountyfleet-cvss as a script runs it (arguments, stdin, --json, exit codes).
bf_unit_test(cvss_tool)
add_dependencies(test_cvss_tool bountyfleet-cvss)

# The worker on the local stack; the SIGKILL run is the same binary with
# "chaos" (label long; BF_CHAOS_REPORTS=20000 for the full-size run).
bf_integration_test(worker)
add_test(NAME integration.worker_chaos COMMAND test_worker chaos)
set_tests_properties(integration.worker_chaos PROPERTIES TIMEOUT 900 LABELS "integration;long")
bf_integration_test(worker_cvss)
add_dependencies(test_worker_cvss bountyfleet-worker bountyfleet-aisim)
bf_integration_test(neardup_worker)
# It checks the published similarity against the worker's own estimate.
target_link_libraries(test_neardup_worker PRIVATE bfworker)
# The worker reads all three framings (Confluent via the registry).
bf_integration_test(worker_framings)
# A Schema Registry outage delays Confluent reports, never dead-letters them.
bf_integration_test(registry_outage)
# Secrets (the AI key, registry credentials) stay out of logs and /metrics.
bf_integration_test(secrets)
add_dependencies(test_secrets bountyfleet-worker bountyfleet-producer bountyfleet-devbroker
                 bountyfleet-aisim)
# The AI layer against the simulator (support/ai_fixture.c) and in a worker.
bf_integration_test(ai)
target_link_libraries(test_ai PRIVATE bftest_ai)
bf_integration_test(ai_worker)
target_link_libraries(test_ai_worker PRIVATE bfworker)
bf_integration_test(ai_once_stream)
target_link_libraries(test_ai_once_stream PRIVATE bfworker)
# Shared limits, learning them, a call's budget, against the simulator.
bf_integration_test(ai_limits)
target_link_libraries(test_ai_limits PRIVATE bftest_ai)
