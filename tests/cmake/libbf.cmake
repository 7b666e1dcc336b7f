# Shared library (libbf/) tests, one per module.
bf_unit_test(schema)
# The rules of schemas/README.md, held against the schemas libbf embeds.
bf_unit_test(schema_contract)
bf_unit_test(report)
bf_unit_test(json_scan)
bf_unit_test(kafka)
bf_unit_test(config)
bf_unit_test(buf)
bf_unit_test(redis_url)
bf_unit_test(redis)
bf_unit_test(codec)
bf_unit_test(metrics)
bf_unit_test(trace)
bf_unit_test(backoff)
bf_unit_test(mem)
bf_unit_test(err)
bf_unit_test(log)
bf_unit_test(http)
bf_unit_test(httpd)
bf_unit_test(registry_answer)
bf_unit_test(registry)
# CVSS vectors, 3.x (libbf/cvss.c) and 4.0 (libbf/cvss4.c).
bf_unit_test(cvss)
bf_unit_test(cvss4)
# The Schema Registry client against a server that answers like
# Confluent's (support/registry_server.c).
bf_integration_test(registry TARGET itest_registry)
