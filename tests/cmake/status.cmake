# The status document, the status page and the cost recommendations
# (issue 15): unit tests, the recommend subcommand, and, with Python, the
# JSON Schemas and a real headless Chromium against the real autoscaler.
bf_unit_test(status)
target_link_libraries(test_status PRIVATE bfautoscaler)
bf_unit_test(recommend)
target_link_libraries(test_recommend PRIVATE bfautoscaler)
add_dependencies(test_recommend bountyfleet-autoscaler)
