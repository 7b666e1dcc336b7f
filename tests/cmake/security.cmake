# Security review (SECURITY.md): the manual override's token and rules.
bf_unit_test(override)
target_link_libraries(test_override PRIVATE bfautoscaler)
bf_integration_test(autoscaler_override)
add_dependencies(test_autoscaler_override bountyfleet-autoscaler bountyfleet-devbroker)
