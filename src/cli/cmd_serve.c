/* cmd_serve.c - `lstmlm serve MODEL`: the chat bot over HTTP, OpenAI-compatible, with the
 * conversations of named sessions kept on the server (src/serve/). Built without
 * libmicrohttpd or cJSON it still parses its options, then says so and exits 1. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef HAVE_SERVE
#include "../serve/serve.h"
#else
/* The settings without the server, so --help shows the same defaults. */
typedef struct lm_serve_opts {
    const char *host;
    unsigned port;
    size_t parallel, queue, max_sessions;
    const char *session_dir, *api_key, *model_name;
    size_t max_body, default_tokens, max_tokens, max_n;
    double timeout;
    uint64_t seed;
    bool quiet;
} lm_serve_opts;
static void lm_serve_opts_init(lm_serve_opts *o)
{
    *o = (lm_serve_opts){"127.0.0.1", 8080, 4, 64, 1024, NULL, NULL, "lstmlm", (size_t)1 << 20,
                         60, 1024, 8, 60, 1, false};
}
#endif

static void help(void)
{
    lm_serve_opts o;
    lm_serve_opts_init(&o);
    printf("Usage: lstmlm serve [options] MODEL\n\n"
           "Serves a model (any kind: neural, n-gram, ARPA, or a mixture with --mix) over HTTP\n"
           "with OpenAI's API: GET /health, GET /v1/models, POST /v1/completions,\n"
           "POST /v1/chat/completions (stream: true sends server-sent events), GET /metrics\n"
           "(Prometheus), GET and DELETE /v1/sessions/ID. A chat request naming a session\n"
           "(\"session\": \"ID\") continues that conversation from the state the server kept,\n"
           "so it sends only the new turn; without one, the messages are the whole history.\n"
           "Stops on SIGTERM or Ctrl-C, saving the sessions to --session-dir.\n\n"
           "  --host ADDR                address to listen on [%s]\n"
           "  --port N                   port; 0 = any free one (printed) [%u]\n"
           "  --threads N                OpenBLAS and lstmlm threads per generation [1]\n"
           "  --parallel N               generations at once [%zu]\n"
           "  --queue N                  requests waiting for a generation slot before 503 [%zu]\n"
           "  --timeout SECONDS          longest a request may take, waiting included; a reply\n"
           "                             still going then is cut short [%g]\n"
           "  --session-dir DIR          keep sessions as state files in DIR: evicted ones and,\n"
           "                             at shutdown, all; they are read back on use\n"
           "  --max-sessions N           sessions held in memory, least recently used evicted\n"
           "                             [%zu]\n"
           "  --api-key KEY              require 'Authorization: Bearer KEY' (not on /health);\n"
           "                             also read from LSTMLM_API_KEY\n"
           "  --model-name NAME          the model's id in /v1/models and requests [%s]\n"
           "  -n, --tokens N             reply length when a request gives no max_tokens [%zu]\n"
           "  --max-tokens N             largest max_tokens a request may ask for [%zu]\n"
           "  --max-body BYTES           largest request body [%zu]\n"
           "  --seed N                   seeds of requests without a seed come from this [%llu]\n"
           "  --mix OTHER                interpolate with a second model over the same\n"
           "                             vocabulary: p = lambda p_MODEL + (1 - lambda) p_OTHER\n"
           "  --lambda X                 the weight of MODEL in the mixture [0.5]\n"
           "  --mix-decay D              weights that follow the parts' recent success (see\n"
           "                             lstmlm-eval(1)) [0 = fixed]\n"
           "  -q, --quiet                no access log on standard error\n"
           "  -h, --help                 this text\n\n"
           "Exit status: 0 stopped by a signal, 1 failure (cannot load or listen, built\n"
           "without HTTP support), 2 bad usage.\n",
           o.host, o.port, o.parallel, o.queue, o.timeout, o.max_sessions, o.model_name,
           o.default_tokens, o.max_tokens, o.max_body, (unsigned long long)o.seed);
}

enum {
    O_HOST = 256,
    O_PORT,
    O_THREADS,
    O_PARALLEL,
    O_QUEUE,
    O_TIMEOUT,
    O_SESSION_DIR,
    O_MAX_SESSIONS,
    O_API_KEY,
    O_MODEL_NAME,
    O_MAX_TOKENS,
    O_MAX_BODY,
    O_SEED
};
static const struct option longopts[] = {
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"threads", required_argument, NULL, O_THREADS},
    {"parallel", required_argument, NULL, O_PARALLEL},
    {"queue", required_argument, NULL, O_QUEUE},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"session-dir", required_argument, NULL, O_SESSION_DIR},
    {"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
    {"api-key", required_argument, NULL, O_API_KEY},
    {"model-name", required_argument, NULL, O_MODEL_NAME},
    {"tokens", required_argument, NULL, 'n'},
    {"max-tokens", required_argument, NULL, O_MAX_TOKENS},
    {"max-body", required_argument, NULL, O_MAX_BODY},
    {"seed", required_argument, NULL, O_SEED},
    CLI_MIX_LONGOPTS,
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool in_range(const char *s, size_t lo, size_t hi, size_t *out)
{
    static char what[80];
    if (cli_size(s, out) && *out >= lo && *out <= hi)
        return true;
    snprintf(what, sizeof what, "a whole number from %zu to %zu", lo, hi);
    return cli_expect(what);
}

/* The file name without folders and ".h5": the default model id. */
static char *model_id(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = strdup(b);
    if (s) {
        size_t n = strlen(s);
        if (n > 3 && !strcmp(s + n - 3, ".h5"))
            s[n - 3] = '\0';
    }
    return s;
}

int cmd_serve(int argc, char **argv)
{
    lm_serve_opts o;
    lm_serve_opts_init(&o);
    size_t threads = 1, v;
    double x;
    const char *name = NULL;
    cli_mix mix;
    cli_mix_init(&mix);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:qh", longopts, NULL)) != -1) {
        int ok = cli_mix_option(&mix, c, optarg);
        if (ok >= 0) {
            if (!ok)
                return cli_bad_value("serve", longopts, c, optarg);
            continue;
        }
        ok = 1;
        switch (c) {
        case O_HOST:
            o.host = optarg;
            break;
        case O_PORT:
            ok = in_range(optarg, 0, 65535, &v);
            o.port = (unsigned)v;
            break;
        case O_THREADS:
            ok = in_range(optarg, 0, 1024, &threads);
            break;
        case O_PARALLEL:
            ok = in_range(optarg, 1, 4096, &o.parallel);
            break;
        case O_QUEUE:
            ok = in_range(optarg, 0, 65536, &o.queue);
            break;
        case O_TIMEOUT:
            ok = cli_double(optarg, &x) && x > 0 && x <= 86400;
            o.timeout = x;
            break;
        case O_SESSION_DIR:
            o.session_dir = optarg;
            break;
        case O_MAX_SESSIONS:
            ok = in_range(optarg, 1, (size_t)1 << 24, &o.max_sessions);
            break;
        case O_API_KEY:
            o.api_key = optarg;
            ok = *optarg != '\0';
            break;
        case O_MODEL_NAME:
            name = optarg;
            ok = *optarg != '\0' && strlen(optarg) < 128;
            break;
        case 'n':
            ok = in_range(optarg, 1, (size_t)1 << 20, &o.default_tokens);
            break;
        case O_MAX_TOKENS:
            ok = in_range(optarg, 1, (size_t)1 << 20, &o.max_tokens);
            break;
        case O_MAX_BODY:
            ok = in_range(optarg, 64, (size_t)1 << 30, &o.max_body);
            break;
        case O_SEED:
            ok = cli_u64(optarg, &o.seed);
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            help();
            return EXIT_OK;
        default:
            return cli_getopt_error("serve", c, longopts, argv);
        }
        if (!ok)
            return cli_bad_value("serve", longopts, c, optarg);
    }
    if (argc - optind != 1)
        return cli_usage("serve", "need one MODEL");
    int mu = cli_mix_usage("serve", &mix, NULL);
    if (mu >= 0)
        return mu;
    if (o.default_tokens > o.max_tokens)
        return cli_usage("serve", "--tokens %zu is above --max-tokens %zu", o.default_tokens,
                         o.max_tokens);
    if (!o.api_key) {
        const char *k = getenv("LSTMLM_API_KEY");
        if (k && *k)
            o.api_key = k;
    }
#ifndef HAVE_SERVE
    (void)threads;
    (void)name;
    fprintf(stderr, "lstmlm: serve: built without HTTP support (it needs libmicrohttpd and "
                    "cJSON: apt-get install libmicrohttpd-dev libcjson-dev, then configure "
                    "again)\n");
    return EXIT_FAIL;
#else
    if (o.session_dir) {
        struct stat sb;
        if (mkdir(o.session_dir, 0700) && errno != EEXIST) {
            fprintf(stderr, "lstmlm: %s: %s\n", o.session_dir, strerror(errno));
            return EXIT_FAIL;
        }
        if (stat(o.session_dir, &sb) || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "lstmlm: %s: not a folder\n", o.session_dir);
            return EXIT_FAIL;
        }
    }
    cli_threads(threads);
    const char *path = argv[optind];
    lm_error err = {0};
    lm_model *m = NULL;
    if (cli_load_model(path, &mix, NULL, 0, &m, &err))
        return cli_fail(&err);
    char *id = name ? strdup(name) : model_id(path);
    if (!id) {
        lm_model_free(m);
        fprintf(stderr, "lstmlm: out of memory\n");
        return EXIT_FAIL;
    }
    o.model_name = id;
    signal(SIGPIPE, SIG_IGN);
    cli_catch_signals();
    int rc = lm_serve_run(m, &o, &cli_interrupted);
    free(id);
    lm_model_free(m);
    return rc ? EXIT_FAIL : EXIT_OK;
#endif
}
