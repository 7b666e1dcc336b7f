/*
 * publish.c - the smallest program that publishes bug-bounty reports to
 * bountyfleet with the C API (producer/bountyfleet_producer.h).
 *
 *     bountyfleet-producer-example [BROKERS [COUNT]]
 *
 * Sends COUNT (default 3) reports to bountyfleet.reports, one of them
 * deliberately invalid to show how a refused report is reported, waits
 * for Kafka's acknowledgements and prints what happened. Exit status 0
 * when every valid report was delivered.
 */
#include <stdio.h>
#include <stdlib.h>

#include "producer/bountyfleet_producer.h"

static void on_delivery(void *opaque, const char *report_id, bf_err_t err,
                        const char *reason)
{
    (void)opaque;
    if (err)
        fprintf(stderr, "report %s was not delivered: %s\n", report_id, reason);
    else
        printf("report %s delivered\n", report_id);
}

int main(int argc, char **argv)
{
    char errstr[512];
    bf_producer_conf_t conf = {
        .brokers = argc > 1 ? argv[1] : NULL, /* NULL: KAFKA_BROKERS or 127.0.0.1:9092 */
        .confluent_id = -1,
        .on_delivery = on_delivery,
    };
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : 3;
    bf_producer_t *p = bf_producer_new(&conf, errstr, sizeof(errstr));
    if (!p) {
        fprintf(stderr, "cannot create the producer: %s\n", errstr);
        return 1;
    }
    for (long i = 0; i < count; i++) {
        char report[512];
        snprintf(report, sizeof(report),
                 "{\"report_id\": \"example-%ld\", \"submitted_at\": "
                 "\"2024-05-01T12:00:00Z\", \"program\": \"acme\", \"reporter\": "
                 "\"alice\", \"title\": \"Reflected XSS in search #%ld\", \"asset\": "
                 "\"www.acme.example\", \"weakness\": \"CWE-79\", \"description\": "
                 "\"The q parameter of /search is echoed unescaped (case %ld).\"}",
                 i, i, i);
        if (bf_producer_send_json(p, report, 0, errstr, sizeof(errstr)) != BF_OK)
            fprintf(stderr, "report example-%ld refused: %s\n", i, errstr);
    }
    /* A report without a description is refused before anything is sent. */
    if (bf_producer_send_json(p, "{\"report_id\": \"example-bad\"}", 0, errstr,
                              sizeof(errstr)) != BF_OK)
        fprintf(stderr, "report example-bad refused: %s\n", errstr);

    bf_err_t err = bf_producer_flush(p, 30000);
    bf_producer_stats_t st;
    bf_producer_stats(p, &st);
    printf("{\"sent\":%llu,\"delivered\":%llu,\"failed\":%llu,\"invalid\":%llu}\n",
           (unsigned long long)st.sent, (unsigned long long)st.delivered,
           (unsigned long long)st.failed, (unsigned long long)st.invalid);
    bf_producer_destroy(p);
    return err == BF_OK && st.delivered == st.sent && st.failed == 0 ? 0 : 1;
}
