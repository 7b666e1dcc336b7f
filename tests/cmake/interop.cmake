# Our wire formats against Debian's python3-avro (ops/lib.sh installs it
# for the tests), through tests/interop/avro_interop.py.
bf_integration_test(interop)
target_compile_definitions(test_interop PRIVATE BF_PYTHON3="${BF_PYTHON3}")
