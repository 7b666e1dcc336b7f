# CVSS vectors (libbf/cvss.c, libbf/cvss4.c) and bountyfleet-cvss.
bf_unit_test(cvss)
# The program as a script runs it (arguments, stdin, --json, exit codes).
bf_unit_test(cvss_tool)
add_dependencies(test_cvss_tool bountyfleet-cvss)
