/*
 * test_lag.c - autoscaler/lag.c's arithmetic: the lag of one partition
 * from its watermarks and the group's commit, as a table. The reader on a
 * Kafka cluster is tests/integration/test_lag.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autoscaler/lag.h"

/* The rule's input: lag per partition, with the policy for partitions the
 * group never committed (KEDA's offsetResetPolicy=earliest). */
static void test_partition_lag_policy_table(void **unused)
{
    (void)unused;
    static const struct {
        int64_t low, high, committed, want;
        const char *why;
    } rows[] = {
        {0, 100, 40, 60, "committed inside the log"},
        {0, 100, 100, 0, "committed at the end"},
        {0, 100, 120, 0, "commit ahead of a stale watermark"},
        {0, 100, BF_LAG_NO_COMMIT, 100, "no commit: the whole log"},
        {30, 100, BF_LAG_NO_COMMIT, 70, "no commit: from the low watermark"},
        {30, 100, 10, 70, "commit deleted by retention: from the low watermark"},
        {0, 0, BF_LAG_NO_COMMIT, 0, "empty partition"},
        {50, 50, 20, 0, "all messages deleted"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t got = bf_lag_of_partition(rows[i].low, rows[i].high, rows[i].committed);
        if (got != rows[i].want)
            fail_msg("%s: lag %lld, want %lld", rows[i].why, (long long)got,
                     (long long)rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_lag_policy_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
