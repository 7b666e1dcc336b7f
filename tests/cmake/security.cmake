# Security review (SECURITY.md): the manual override's token and rules,
# secrets kept out of logs and /metrics, TLS/SASL pass-through to
# librdkafka, credentials redacted from logged URLs, the registry's answers.
bf_unit_test(override)
target_link_libraries(test_override PRIVATE bfautoscaler)
bf_unit_test(security)
target_link_libraries(test_security PRIVATE bfworker)
bf_integration_test(autoscaler_override)
add_dependencies(test_autoscaler_override bountyfleet-autoscaler bountyfleet-devbroker)
bf_integration_test(secrets ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
add_dependencies(test_secrets bountyfleet-worker bountyfleet-producer bountyfleet-devbroker
                 bountyfleet-aisim)
