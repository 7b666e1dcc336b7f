# Producer, schemas and Schema Registry tests.
bf_unit_test(schema_contract)
bf_unit_test(producer_load)
target_link_libraries(test_producer_load PRIVATE bfproducer)
bf_integration_test(registry ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
bf_integration_test(producer)
target_link_libraries(test_producer PRIVATE bfproducer)
target_sources(test_producer PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
# Interoperability with Debian's python3-avro (ops/lib.sh installs it for
# the tests); /usr/bin first, where Debian's python3 finds the package.
find_program(BF_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(BF_PYTHON3 NAMES python3)
bf_integration_test(interop ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
target_compile_definitions(test_interop PRIVATE BF_PYTHON3="${BF_PYTHON3}")
# The worker reads all three framings (Confluent via the registry).
bf_integration_test(worker_framings ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
# A Schema Registry outage delays Confluent reports, never dead-letters them.
bf_integration_test(registry_outage ${CMAKE_CURRENT_SOURCE_DIR}/support/registry_server.c)
