/*
 * severity.c - the simulator's severity analysis: which vulnerability
 * class does a report describe, and how bad is this instance of it?
 *
 * Each class has the severity a typical instance has (its base) and words
 * that show a worse instance (each class's "raise" list bumps it by one
 * level): an SSRF that reaches 169.254.169.254 is worse than one that
 * fetches a public URL, a CSRF that changes the e-mail address worse than
 * one that logs the user out. A class may refine a generic one (stored XSS
 * refines XSS); the generic class's mentions then count for the
 * refinement, so "stored XSS ... the XSS fires" is stored XSS.
 *
 * The classes and bases follow common bug-bounty triage practice (e.g.
 * Bugcrowd's Vulnerability Rating Taxonomy): code execution CRITICAL,
 * injection and authentication flaws HIGH, stored XSS, SSRF and IDOR
 * MEDIUM, reflected XSS, CSRF and open redirects LOW, missing headers,
 * clickjacking and rate limits NONE. The score is the severity mapped
 * onto 0..1 in equal steps.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "verdict_int.h"

typedef struct vuln_class_s {
    const char *name;
    bf_aisim_severity_t base;
    const char *refines;      /* name of the generic class it refines, or NULL */
    const char *const *words; /* phrases naming the class */
    const int *cwes;          /* CWE ids of the class; ends with 0 */
    const char *const *raise; /* phrases that show a worse instance */
} vuln_class_t;

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CWES(...)  ((const int[]){__VA_ARGS__, 0})
#define NO_CWES    ((const int[]){0})
#define NO_WORDS   ((const char *const[]){NULL})

#define NONE     BF_AISIM_SEVERITY_NONE
#define LOW      BF_AISIM_SEVERITY_LOW
#define MEDIUM   BF_AISIM_SEVERITY_MEDIUM
#define HIGH     BF_AISIM_SEVERITY_HIGH
#define CRITICAL BF_AISIM_SEVERITY_CRITICAL

static const vuln_class_t classes[] = {
    {"remote code execution", CRITICAL, NULL,
     WORDS("remote code execution", "rce", "code execution", "command injection",
           "os command injection", "arbitrary code execution", "arbitrary command",
           "execute arbitrary", "remote command", "code injection", "webshell",
           "web shell", "server-side template injection", "ssti"),
     CWES(77, 78, 94, 95, 96, 1336), NO_WORDS},
    {"SQL injection", HIGH, NULL,
     WORDS("sql injection", "sqli", "blind sql", "sqlmap", "union-based",
           "nosql injection"),
     CWES(89, 943),
     WORDS("unauthenticated", "pre-auth", "dump", "database dump", "all users",
           "password hashes", "admin")},
    {"authentication bypass", HIGH, NULL,
     WORDS("authentication bypass", "auth bypass", "bypass authentication",
           "login bypass", "2fa bypass", "mfa bypass", "bypass 2fa",
           "bypass the authentication"),
     CWES(287, 288, 289, 306),
     WORDS("admin", "any account", "any user", "unauthenticated")},
    {"account takeover", HIGH, NULL,
     WORDS("account takeover", "ato", "take over any account", "takeover of any account",
           "full account takeover"),
     CWES(640),
     WORDS("any account", "any user", "zero-click", "no user interaction",
           "without user interaction")},
    {"memory corruption", HIGH, NULL,
     WORDS("use-after-free", "use after free", "buffer overflow", "heap overflow",
           "heapoverflow", "heap-buffer-overflow", "stack-buffer-overflow",
           "out-of-bounds write", "memory corruption", "double free"),
     CWES(119, 120, 121, 122, 415, 416, 787),
     WORDS("code execution", "arbitrary code", "remote")},
    {"sandbox escape", HIGH, NULL,
     WORDS("sandbox escape", "sandbox bypass", "escape the sandbox",
           "bypass the sandbox"),
     CWES(265), WORDS("code execution", "arbitrary code")},
    {"insecure deserialization", HIGH, NULL,
     WORDS("insecure deserialization", "deserialization", "unserialize",
           "object injection"),
     CWES(502), WORDS("code execution", "rce", "gadget chain")},
    {"XML external entity", MEDIUM, NULL, WORDS("xxe", "xml external entity"),
     CWES(611, 776), WORDS("/etc/passwd", "file read", "ssrf", "internal network")},
    {"SSRF", MEDIUM, NULL,
     WORDS("ssrf", "server-side request forgery", "server side request forgery"),
     CWES(918),
     WORDS("169.254.169.254", "metadata", "internal network", "aws credentials", "iam",
           "localhost")},
    {"IDOR / broken access control", MEDIUM, NULL,
     WORDS("idor", "insecure direct object reference", "broken access control",
           "authorization bypass", "unauthorized access", "missing authorization",
           "improper access control", "improper authorization",
           "insufficient authorization", "without permission", "permission bypass",
           "access control"),
     CWES(284, 285, 639, 862, 863),
     WORDS("pii", "any user", "all users", "other users", "personal data", "delete any")},
    {"stored XSS", MEDIUM, "XSS",
     WORDS("stored xss", "persistent xss", "stored cross-site scripting",
           "stored cross site scripting", "persistent cross-site scripting", "blind xss",
           "xss) - stored"),
     NO_CWES,
     WORDS("admin", "account takeover", "wormable", "worm", "session hijacking")},
    {"path traversal / file inclusion", MEDIUM, NULL,
     WORDS("path traversal", "directory traversal", "local file inclusion", "lfi",
           "remote file inclusion", "rfi", "arbitrary file read",
           "arbitrary file reading", "file inclusion"),
     CWES(22, 23, 98),
     WORDS("/etc/passwd", "source code", "credentials", "private key", "code execution")},
    {"unrestricted file upload", MEDIUM, NULL,
     WORDS("unrestricted file upload", "arbitrary file upload", "file upload"), CWES(434),
     WORDS("webshell", "web shell", "code execution", "stored xss")},
    {"privilege escalation", MEDIUM, NULL,
     WORDS("privilege escalation", "escalate privileges", "escalation of privilege"),
     CWES(269), WORDS("admin", "administrator", "root")},
    {"subdomain takeover", MEDIUM, NULL,
     WORDS("subdomain takeover", "sub-domain takeover", "dangling cname", "dangling dns",
           "bucket takeover"),
     NO_CWES, WORDS("cookie", "cookies", "session", "oauth")},
    {"request smuggling / cache poisoning", MEDIUM, NULL,
     WORDS("request smuggling", "http request smuggling", "cache poisoning",
           "web cache poisoning", "cache deception", "web cache deception"),
     CWES(444), WORDS("account takeover", "stored xss", "session", "credentials")},
    {"prototype pollution", MEDIUM, NULL, WORDS("prototype pollution"), CWES(1321),
     WORDS("code execution", "rce")},
    {"XSS", LOW, NULL, WORDS("xss", "cross-site scripting", "cross site scripting"),
     CWES(79, 80), WORDS("cookie", "session", "account takeover", "token", "admin")},
    {"reflected or DOM XSS", LOW, "XSS",
     WORDS("reflected xss", "reflected cross-site scripting",
           "reflected cross site scripting", "dom xss", "dom-based xss", "dom based xss",
           "xss) - reflected", "xss) - dom"),
     NO_CWES, WORDS("cookie", "session", "account takeover", "token", "admin")},
    {"self-XSS", NONE, "XSS", WORDS("self-xss", "self xss"), NO_CWES,
     WORDS("csrf", "login csrf")},
    {"CSRF", LOW, NULL,
     WORDS("csrf", "xsrf", "cross-site request forgery", "cross site request forgery"),
     CWES(352),
     WORDS("change email", "change password", "email change", "password change",
           "account takeover", "delete account", "admin")},
    {"logout CSRF", NONE, "CSRF", WORDS("logout csrf", "csrf on logout", "csrf logout"),
     NO_CWES, NO_WORDS},
    {"open redirect", LOW, NULL,
     WORDS("open redirect", "open redirection", "unvalidated redirect",
           "url redirection"),
     CWES(601), WORDS("oauth", "access token", "redirect_uri", "account takeover")},
    {"CRLF / header injection", LOW, NULL,
     WORDS("crlf injection", "crlf", "http response splitting", "header injection",
           "host header injection"),
     CWES(93, 113), WORDS("xss", "cache poisoning", "session fixation", "set-cookie")},
    {"CORS misconfiguration", LOW, NULL,
     WORDS("cors", "cors misconfiguration", "access-control-allow-origin"),
     CWES(346, 942),
     WORDS("access-control-allow-credentials", "api key", "token", "pii")},
    {"information disclosure", LOW, NULL,
     WORDS("information disclosure", "info disclosure", "sensitive data exposure",
           "data exposure", "leak", "leaks", "leaked", "leakage", "exposed", "disclosure",
           "hardcoded", "hard-coded", "s3 bucket"),
     CWES(200, 312, 359, 532, 538, 798),
     WORDS("password", "passwords", "api key", "secret key", "credentials", "private key",
           "access token", "pii", "ssn")},
    {"session management", LOW, NULL,
     WORDS("session fixation", "session expiration", "session timeout", "not invalidated",
           "does not expire", "password confirmation", "reset password link",
           "password reset link", "password policy", "weak password",
           "email verification"),
     CWES(384, 521, 613, 620), WORDS("account takeover", "any user")},
    {"memory safety (crash / out-of-bounds read)", LOW, NULL,
     WORDS("out-of-bounds read", "out of bounds read", "segmentation fault", "segfault",
           "sigsegv", "null pointer dereference", "integer overflow"),
     CWES(125, 190, 476), WORDS("heap", "remote", "information disclosure")},
    {"race condition", LOW, NULL, WORDS("race condition", "toctou", "time-of-check"),
     CWES(362, 367), WORDS("balance", "payment", "money", "credits", "coupon")},
    {"business logic flaw", LOW, NULL,
     WORDS("business logic", "logic flaw", "price manipulation", "payment bypass"),
     CWES(840), WORDS("payment", "price", "money", "balance", "free")},
    {"insecure transport", LOW, NULL,
     WORDS("cleartext", "unencrypted", "plain text", "plaintext", "mixed content",
           "ssl pinning", "certificate validation"),
     CWES(295, 319), WORDS("password", "credentials", "token", "session")},
    {"timing side channel", LOW, NULL,
     WORDS("timing attack", "timing side channel", "side-channel", "byte-by-byte"),
     CWES(208), NO_WORDS},
    {"denial of service", LOW, NULL,
     WORDS("denial of service", "dos", "ddos", "resource exhaustion", "redos"),
     CWES(400, 770, 1333), WORDS("unauthenticated", "all users", "permanent", "entire")},
    {"missing security headers", NONE, NULL,
     WORDS("missing security header", "missing header", "security headers",
           "x-frame-options", "strict-transport-security", "hsts",
           "content-security-policy", "x-content-type-options", "x-xss-protection"),
     CWES(693), NO_WORDS},
    {"clickjacking", NONE, NULL,
     WORDS("clickjacking", "click-jacking", "ui redressing", "ui redress"), CWES(1021),
     WORDS("sensitive action", "delete", "change password", "change email", "payment",
           "transfer")},
    {"missing rate limiting", NONE, NULL,
     WORDS("rate limit", "rate limiting", "rate-limit", "rate-limiting", "brute force",
           "brute-force", "bruteforce", "captcha bypass", "no captcha"),
     CWES(307, 799), WORDS("otp", "2fa", "password reset", "verification code", "login")},
    {"content spoofing / tabnabbing", NONE, NULL,
     WORDS("content spoofing", "text injection", "tabnabbing", "reverse tabnabbing"),
     CWES(451, 1022), WORDS("phishing", "html injection")},
    {"email spoofing (SPF/DMARC)", NONE, NULL,
     WORDS("spf", "dmarc", "dkim", "email spoofing"), NO_CWES, NO_WORDS},
    {"version disclosure", NONE, "information disclosure",
     WORDS("version disclosure", "banner grabbing", "server banner",
           "software version disclosure"),
     NO_CWES, NO_WORDS},
};

#define N_CLASSES (sizeof(classes) / sizeof(classes[0]))

/* Ids of "CWE-79", "cwe 79" or "CWE:79" in lower-cased text, up to @p max. */
static size_t find_cwes(const bf_aisim_text_t *t, int *out, size_t max)
{
    size_t n = 0;
    const char *p = t->s;
    while (n < max && (p = strstr(p, "cwe")) != NULL) {
        p += 3;
        if (*p == '-' || *p == ' ' || *p == ':')
            p++;
        char *end;
        long id = strtol(p, &end, 10);
        if (end > p && id > 0 && id < 100000)
            out[n++] = (int)id;
    }
    return n;
}

static bool class_has_cwe(const vuln_class_t *c, const int *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (const int *w = c->cwes; *w; w++)
            if (*w == ids[i])
                return true;
    return false;
}

/* Weights of the evidence for a class. A title or weakness names what the
 * report is about, while a body also mentions side issues, so a title
 * mention counts three body mentions, and a matching CWE id two title
 * mentions. One phrase counts at most five times in the body, so a long
 * paste cannot outvote the title. */
#define TITLE_WEIGHT       3
#define CWE_TITLE_MENTIONS 2
#define BODY_CAP           5

typedef struct tally_s {
    int strong[N_CLASSES]; /* mentions in title/weakness, CWE matches */
    int score[N_CLASSES];  /* weighted total */
} tally_t;

static void tally_classes(const bf_aisim_text_t *strong, const bf_aisim_text_t *body,
                          tally_t *t)
{
    int cwes[16];
    size_t n_cwes = find_cwes(strong, cwes, sizeof(cwes) / sizeof(cwes[0]));
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < N_CLASSES; i++) {
        int body_hits = 0;
        for (size_t w = 0; classes[i].words[w]; w++) {
            int b = bf_aisim_text_count(body, classes[i].words[w]);
            t->strong[i] += bf_aisim_text_count(strong, classes[i].words[w]);
            body_hits += b > BODY_CAP ? BODY_CAP : b;
        }
        if (class_has_cwe(&classes[i], cwes, n_cwes))
            t->strong[i] += CWE_TITLE_MENTIONS;
        t->score[i] = TITLE_WEIGHT * t->strong[i] + body_hits;
    }
    /* Fold each generic class into its best-scoring refinement. */
    for (size_t g = 0; g < N_CLASSES; g++) {
        int best = -1;
        for (size_t i = 0; i < N_CLASSES; i++)
            if (classes[i].refines && strcmp(classes[i].refines, classes[g].name) == 0 &&
                t->score[i] > 0 && (best < 0 || t->score[i] > t->score[best]))
                best = (int)i;
        if (best >= 0) {
            t->score[best] += t->score[g];
            t->strong[best] += t->strong[g];
            t->score[g] = t->strong[g] = 0;
        }
    }
}

/* The best class (ties go to the more severe one) and the runner-up. */
static void rank_classes(const tally_t *t, int *win, int *second)
{
    *win = *second = -1;
    for (int i = 0; i < (int)N_CLASSES; i++) {
        if (t->score[i] <= 0)
            continue;
        if (*win < 0 || t->score[i] > t->score[*win] ||
            (t->score[i] == t->score[*win] && classes[i].base > classes[*win].base)) {
            *second = *win;
            *win = i;
        } else if (*second < 0 || t->score[i] > t->score[*second]) {
            *second = i;
        }
    }
}

static const double severity_scores[] = {0.0, 0.25, 0.5, 0.75, 1.0};

void bf_aisim_severity_judge(const bf_aisim_text_t *strong, const bf_aisim_text_t *body,
                             const bf_aisim_text_t *all, bf_aisim_verdict_t *v)
{
    tally_t t;
    int win, second;
    tally_classes(strong, body, &t);
    rank_classes(&t, &win, &second);

    if (win < 0) {
        /* An unrecognised report is not harmless by default: LOW, with a
         * confidence that tells the worker not to lean on it. */
        v->severity = BF_AISIM_SEVERITY_LOW;
        v->score = severity_scores[v->severity];
        v->confidence = 0.3;
        bf_aisim_verdict_add_reason(v, "no recognised vulnerability class");
        return;
    }
    const vuln_class_t *c = &classes[win];
    double confidence;
    v->severity = c->base;
    if (t.strong[win] > 0) {
        confidence = 0.85;
        bf_aisim_verdict_add_reason(v, "%s named in the title or weakness", c->name);
    } else {
        confidence = 0.6 + 0.05 * (t.score[win] > 4 ? 4 : t.score[win]);
        bf_aisim_verdict_add_reason(v, "describes %s (%d mentions)", c->name,
                                    t.score[win]);
    }
    const char *raised_by = NULL;
    if (v->severity < BF_AISIM_SEVERITY_CRITICAL &&
        bf_aisim_text_count_any(all, c->raise, &raised_by)) {
        v->severity++;
        bf_aisim_verdict_add_reason(v, "raised to %s: mentions '%s'",
                                    bf_aisim_severity_name(v->severity), raised_by);
    }
    /* A close runner-up (70% of the winner's weight) means the report
     * could be read either way. */
    if (second >= 0 && t.score[second] * 10 >= t.score[win] * 7) {
        confidence -= 0.15;
        bf_aisim_verdict_add_reason(v, "also reads as %s", classes[second].name);
    }
    v->score = severity_scores[v->severity];
    v->confidence = round(confidence * 100.0) / 100.0;
}
