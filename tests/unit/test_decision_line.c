/*
 * test_decision_line.c - autoscaler/decision_line.c: when a decision is
 * news worth a line on stdout, and the line's JSON contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "autoscaler/decide.h"
#include "autoscaler/decision_line.h"

static bf_decision_t hold_with(int64_t lag, int64_t desired)
{
    return (bf_decision_t){.action = BF_SCALE_HOLD,
                           .current_workers = 2,
                           .desired_workers = desired,
                           .target_workers = 2,
                           .total_lag = lag,
                           .partitions = 4};
}

static void test_hold_lines_are_printed_only_when_news(void **unused)
{
    (void)unused;
    bf_decision_line_state_t st = {0};
    bf_decision_t d = hold_with(150, 2);
    assert_true(bf_decision_line_due(&st, &d, 0));  /* the first line */
    assert_false(bf_decision_line_due(&st, &d, 5)); /* same again */
    d = hold_with(200, 2);
    assert_false(bf_decision_line_due(&st, &d, 10)); /* +33 %: not news */
    d = hold_with(300, 2);
    assert_true(bf_decision_line_due(&st, &d, 15)); /* doubled */
    d = hold_with(140, 2);
    assert_true(bf_decision_line_due(&st, &d, 20)); /* halved */
    d = hold_with(140, 1);
    assert_true(bf_decision_line_due(&st, &d, 25)); /* desired changed */
    d = hold_with(0, 1);
    assert_true(bf_decision_line_due(&st, &d, 26));  /* drained */
    assert_false(bf_decision_line_due(&st, &d, 30)); /* still drained */
    assert_true(bf_decision_line_due(&st, &d, 56));  /* 30 s heartbeat */
    d.action = BF_SCALE_DOWN;
    assert_true(bf_decision_line_due(&st, &d, 57)); /* every change */
    assert_true(bf_decision_line_due(&st, &d, 58));
}

static void test_decision_line_has_the_contract_fields(void **unused)
{
    (void)unused;
    bf_decision_t d = {.action = BF_SCALE_UP,
                       .current_workers = 1,
                       .desired_workers = 4,
                       .target_workers = 4,
                       .total_lag = 950,
                       .partitions = 4,
                       .score = 0.4512,
                       .forecast_rate = 12.5,
                       .confidence = 0.8333};
    snprintf(d.reasoning, sizeof(d.reasoning), "lag \"950\" needs 4");
    struct timespec wall = {.tv_sec = 1767323045, .tv_nsec = 678000000};
    char *line = bf_decision_line_format(&d, &wall);
    assert_null(strchr(line, '\n'));
    assert_string_equal(line,
                        "{\"ts\":\"2026-01-02T03:04:05.678Z\",\"action\":\"SCALE_UP\","
                        "\"current_workers\":1,\"target_workers\":4,\"total_lag\":950,"
                        "\"partitions\":4,\"desired_workers\":4,\"score\":0.45,"
                        "\"forecast_rate\":12.5,\"confidence\":0.83,"
                        "\"reasoning\":\"lag \\\"950\\\" needs 4\"}");
    json_error_t jerr;
    json_t *o = json_loads(line, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "reasoning")),
                        "lag \"950\" needs 4");
    json_decref(o);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_lines_are_printed_only_when_news),
        cmocka_unit_test(test_decision_line_has_the_contract_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
