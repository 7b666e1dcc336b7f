# Producer (producer/) tests.
bf_unit_test(producer_load)
target_link_libraries(test_producer_load PRIVATE bfproducer)
bf_integration_test(producer)
target_link_libraries(test_producer PRIVATE bfproducer)
