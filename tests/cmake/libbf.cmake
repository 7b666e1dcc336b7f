# Shared library (libbf) tests.
bf_unit_test(schema)
bf_unit_test(report)
bf_unit_test(json_scan)
bf_unit_test(config)
bf_unit_test(buf)
bf_unit_test(redis_url)
bf_unit_test(codec)
bf_unit_test(metrics)
