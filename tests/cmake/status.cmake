# The status document, the status page and the cost recommendations
# (issue 15): unit tests, the recommend subcommand, and, with Python, the
# JSON Schemas and a real headless Chromium against the real autoscaler.
bf_unit_test(status)
target_link_libraries(test_status PRIVATE bfautoscaler)
bf_unit_test(recommend)
target_link_libraries(test_recommend PRIVATE bfautoscaler)
add_dependencies(test_recommend bountyfleet-autoscaler)
# The JSON Schemas (ops/api/) against the examples in ops/STATUS.md and the
# live autoscaler (python3-jsonschema), and the page in headless Chromium;
# its screenshots stay in the build tree (artifacts/).
bf_ops_test(status_api ${BF_PYTHON3} ${BF_OPS_TESTS}/test_status_api.py ${BF_OPS_BIN})
set_tests_properties(ops.status_api PROPERTIES TIMEOUT 120)
bf_ops_test(status_page ${BF_PYTHON3} ${BF_OPS_TESTS}/test_status_page.py ${BF_OPS_BIN}
            ${CMAKE_BINARY_DIR}/artifacts)
set_tests_properties(ops.status_page PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
