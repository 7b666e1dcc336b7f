# Ops (ops/) tests: the AI simulator's own logic (ops/aisim), and the
# container image, the compose stack, Kubernetes manifests, Prometheus
# rules, Grafana dashboard and status API checked with the ecosystem's own
# tools (promtool from Debian's prometheus, docker-compose) and Python
# scripts (python3-yaml, python3-jsonschema) that hold them against the
# programs. ops/test installs the tools (BF_TEST_PACKAGES in ops/lib.sh).
bf_unit_test(aisim_verdict ${CMAKE_SOURCE_DIR}/ops/aisim/verdict.c ${CMAKE_SOURCE_DIR}/ops/aisim/severity.c
             ${CMAKE_SOURCE_DIR}/ops/aisim/openai.c ${CMAKE_SOURCE_DIR}/ops/aisim/prompt_cache.c)
bf_unit_test(aisim_prompt_cache ${CMAKE_SOURCE_DIR}/ops/aisim/prompt_cache.c)

find_program(BF_PROMTOOL NAMES promtool)
if(NOT BF_PROMTOOL)
  set(BF_PROMTOOL promtool) # the test fails with "not found": run ops/test
endif()
bf_ops_test(promtool_check_rules ${BF_PROMTOOL} check rules ${BF_OPS}/prometheus/rules/bountyfleet.yml)
bf_ops_test(promtool_check_config ${BF_PROMTOOL} check config ${BF_OPS}/prometheus/prometheus.yml)
bf_ops_test(promtool_test_rules ${BF_PROMTOOL} test rules ${BF_OPS}/prometheus/tests/alerts_test.yml)
bf_ops_test(metrics_contract ${BF_PYTHON3} ${BF_OPS_TESTS}/test_metrics_contract.py)
bf_ops_test(check_metrics_live ${BF_PYTHON3} ${BF_OPS_TESTS}/test_check_metrics_live.py)
bf_ops_test(dockerfile ${BF_PYTHON3} ${BF_OPS_TESTS}/test_dockerfile.py ${BF_OPS_BIN})
bf_ops_test(compose ${BF_PYTHON3} ${BF_OPS_TESTS}/test_compose.py ${BF_OPS_BIN})
bf_ops_test(k8s ${BF_PYTHON3} ${BF_OPS_TESTS}/test_k8s.py ${BF_OPS_BIN})
bf_ops_test(dlq_replay ${BF_OPS_TESTS}/test_dlq_replay.sh ${BF_OPS_BIN})
# Live /metrics of a worker and an autoscaler: every metric the alert rules
# and the dashboard use is exported.
bf_ops_test(metrics_live ${BF_OPS_TESTS}/test_metrics_live.sh ${BF_OPS_BIN})
# ops/dlq-replay against what bountyfleet-worker really dead-letters.
bf_ops_test(dlq_worker ${BF_OPS_TESTS}/test_dlq_worker.sh ${BF_OPS_BIN})
# The autoscaler's JSON Schemas (ops/api/) against the examples in
# ops/STATUS.md and the live autoscaler, and the status page in headless
# Chromium; its screenshots stay in the build tree (artifacts/).
bf_ops_test(status_api ${BF_PYTHON3} ${BF_OPS_TESTS}/test_status_api.py ${BF_OPS_BIN})
set_tests_properties(ops.status_api PROPERTIES TIMEOUT 120)
bf_ops_test(status_page ${BF_PYTHON3} ${BF_OPS_TESTS}/test_status_page.py ${BF_OPS_BIN}
            ${CMAKE_BINARY_DIR}/artifacts)
set_tests_properties(ops.status_page PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
