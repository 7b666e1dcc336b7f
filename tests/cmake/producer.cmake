# Producer, schemas and Schema Registry tests.
bf_integration_test(registry ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
bf_integration_test(producer)
target_link_libraries(test_producer PRIVATE bfproducer)
target_sources(test_producer PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
