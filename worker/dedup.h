/*
 * dedup.h - exact-duplicate detection and redelivery idempotency in Redis.
 *
 * One Lua script per report does, atomically on the server:
 *   1. a stored result for this report_id?      -> CACHED (redelivery)
 *   2. the content fingerprint claimed by another report_id? -> DUPLICATE
 *   3. another worker holds this report's lease and is alive? -> BUSY (try
 *      again later)
 *   4. otherwise claim the fingerprint (first report_id wins) and take the
 *      lease, from a dead holder too             -> CLAIMED (run the AI;
 *      RECLAIMED when the content was already this report's)
 * and says whether a result for it was already published to Kafka, so a
 * redelivered report whose result is out there is not published twice.
 *
 * Keys (prefix configurable, default "bf:"):
 *   bf:fp:<sha256>     report_id that owns the content    (TTL --dedup-ttl)
 *   bf:result:<id>     encoded result record              (TTL --dedup-ttl)
 *   bf:lease:<id>      worker_id analysing it now         (TTL --lease)
 *   bf:pub:<id>        "1" once the result is acked        (TTL --dedup-ttl)
 *   bf:alive:<worker>  that worker is alive                (TTL --liveness-ttl,
 *                      renewed by the worker: liveness.h)
 */
#ifndef BF_WORKER_DEDUP_H
#define BF_WORKER_DEDUP_H

#include <stddef.h>

#include "libbf/report.h"

/** SHA-256 hex of the normalised content plus NUL. */
#define BF_FINGERPRINT_LEN 65

/**
 * @brief Fingerprint of a report's normalised content.
 *
 * Normalisation: ASCII letters lower-cased; every run of white space one
 * space; leading/trailing space dropped; Markdown emphasis and heading
 * marks (* _ ` # >) dropped; "http://" and "https://" unified. Fields:
 * title, asset, description, steps_to_reproduce, impact, separated by a
 * byte that cannot appear in text (0x1F). report_id, reporter, program and
 * times are left out: the same write-up sent twice is a duplicate whoever
 * sends it.
 */
void bf_dedup_fingerprint(const bf_report_t *r, char out[BF_FINGERPRINT_LEN]);

/**
 * The claim script's text, with @p tail (Lua, ending in a return) run once
 * the claim and the lease are taken: the locals claimed ('claimed', or
 * 'reclaimed' when the content was already this report's), pub (0 or 1)
 * and dead (the dead holder or false) are in scope. The claim alone
 * returns {claimed, ARGV[1], pub, dead}; the near-duplicate check appends
 * its own answer (neardup_script.c).
 */
#define BF_DEDUP_CLAIM_LUA(tail)                                                         \
    "local pub = redis.call('EXISTS', KEYS[4])\n"                                        \
    "local cached = redis.call('GET', KEYS[2])\n"                                        \
    "if cached then return {'cached', cached, pub, false} end\n"                         \
    "local owner = redis.call('GET', KEYS[1])\n"                                         \
    "if owner and owner ~= ARGV[1] then return {'duplicate', owner, pub, false} end\n"   \
    "local holder = redis.call('GET', KEYS[3])\n"                                        \
    "local dead = false\n"                                                               \
    "if holder and holder ~= ARGV[2] then\n"                                             \
    "  if redis.call('EXISTS', ARGV[5] .. holder) == 1 then\n"                           \
    "    return {'busy', holder, pub, false}\n"                                          \
    "  end\n"                                                                            \
    "  dead = holder\n"                                                                  \
    "end\n"                                                                              \
    "local claimed = 'reclaimed'\n"                                                      \
    "if not owner then\n"                                                                \
    "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])\n"                             \
    "  claimed = 'claimed'\n"                                                            \
    "end\n"                                                                              \
    "redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[4])\n" tail

/** The Lua script (EVAL) implementing the steps above; its KEYS, ARGV and
 *  reply are described in dedup.c. */
extern const char bf_dedup_claim_script[];

/** Steps 1, 2 and 4 without writing anything (for --dry-run); same KEYS,
 *  ARGV and reply. */
extern const char bf_dedup_peek_script[];

#endif
