# CVSS vectors (libbf/cvss.c, libbf/cvss4.c) and bountyfleet-cvss.
bf_unit_test(cvss ${CMAKE_CURRENT_SOURCE_DIR}/support/cvss_check.c)
bf_unit_test(cvss4 ${CMAKE_CURRENT_SOURCE_DIR}/support/cvss_check.c)
# The program as a script runs it (arguments, stdin, --json, exit codes).
bf_unit_test(cvss_tool)
add_dependencies(test_cvss_tool bountyfleet-cvss)
