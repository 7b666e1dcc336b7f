# AI layer tests (worker/ai*.c, ops/aisim providers).
bf_unit_test(ai_limit)
target_link_libraries(test_ai_limit PRIVATE bfworker)
bf_unit_test(ai_provider)
target_link_libraries(test_ai_provider PRIVATE bfworker)
# The simulator and the layer on a loop, for the test_ai*.c stories.
add_library(bftest_ai STATIC support/ai_fixture.c)
target_link_libraries(bftest_ai PUBLIC bftest bfworker)
bf_integration_test(ai)
target_link_libraries(test_ai PRIVATE bftest_ai)
bf_integration_test(ai_worker)
target_link_libraries(test_ai_worker PRIVATE bfworker)
bf_unit_test(ai_stream)
target_link_libraries(test_ai_stream PRIVATE bfworker)
bf_integration_test(ai_once_stream)
target_link_libraries(test_ai_once_stream PRIVATE bfworker)
# The fleet-wide rate limit's script and client, on a real redis-server.
bf_unit_test(ai_fleet)
target_link_libraries(test_ai_fleet PRIVATE bfworker)
# Shared limits, learning them, a call's budget, against the simulator.
bf_integration_test(ai_limits)
target_link_libraries(test_ai_limits PRIVATE bftest_ai)
