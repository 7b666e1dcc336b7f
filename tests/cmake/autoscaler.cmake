# Autoscaler tests.
bf_unit_test(decide)
target_link_libraries(test_decide PRIVATE bfautoscaler)
bf_unit_test(actuator_local)
target_link_libraries(test_actuator_local PRIVATE bfautoscaler)
bf_unit_test(forecast)
target_link_libraries(test_forecast PRIVATE bfautoscaler)
bf_unit_test(decide_capacity)
target_link_libraries(test_decide_capacity PRIVATE bfautoscaler)
