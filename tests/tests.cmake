# The list of tests; one line per test file.
