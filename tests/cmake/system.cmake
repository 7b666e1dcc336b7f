# Whole-system tests on the local stack.
bf_integration_test(e2e)
