# Producer, schemas and Schema Registry tests.
bf_integration_test(registry ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
