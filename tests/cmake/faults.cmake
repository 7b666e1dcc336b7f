# Fault injection: the worker on an in-process mock cluster with brokers
# taken down, leaders moved and requests failed, Redis killed, and the AI
# simulator failing in bursts (tests/integration/test_faults.c).
bf_integration_test(faults)
# Restarts: a broker hiding the topic from metadata while it comes back,
# workers SIGKILLed holding claims, Redis SIGKILLed with each persistence
# setting (tests/integration/test_restarts.c).
bf_integration_test(restarts)
