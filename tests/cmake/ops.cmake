# Ops tests: the container image, the compose stack, Kubernetes manifests,
# Prometheus rules and Grafana dashboard, checked with the ecosystem's own
# tools (promtool from Debian's prometheus, docker-compose) and Python
# scripts (python3-yaml) that hold them against the programs. ops/test
# installs the tools (BF_TEST_PACKAGES in ops/lib.sh).
find_program(BF_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(BF_PYTHON3 NAMES python3)
find_program(BF_PROMTOOL NAMES promtool)
if(NOT BF_PROMTOOL)
  set(BF_PROMTOOL promtool) # the test fails with "not found": run ops/test
endif()
set(BF_OPS ${CMAKE_SOURCE_DIR}/ops)
set(BF_OPS_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/ops)
set(BF_OPS_BIN $<TARGET_FILE_DIR:bountyfleet-worker>)

function(bf_ops_test name)
  add_test(NAME ops.${name} COMMAND ${ARGN} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(ops.${name} PROPERTIES TIMEOUT 300 LABELS ops)
endfunction()

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
