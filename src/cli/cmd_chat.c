/* cmd_chat.c - `lstmlm chat MODEL`: a conversation with a model, the state carried across
 * turns. On a terminal: a prompt with line editing and history (libedit), Ctrl-C stops a reply.
 * With piped input: one user turn per line in, one reply per line out, nothing else on
 * standard output, so scripts and tests can drive it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

static void help(void)
{
    lm_chat_opts o;
    lm_chat_opts_init(&o);
    printf("Usage: lstmlm chat [options] MODEL\n\n"
           "Talks with a model (any kind: neural, n-gram, ARPA, or a mixture with --mix). Each line you type is a turn: its words and an <eot> are fed\n"
           "to the model, which replies until it produces <eot> or the length limit. The state\n"
           "carries across turns. Lines starting with '/' are commands (/help lists them;\n"
           "'//' sends a line starting with '/'); blank lines are ignored.\n"
           "On a terminal the prompt has line editing and history, Ctrl-C stops a reply in\n"
           "progress and Ctrl-D (end of input) or /quit ends the chat. With piped input each\n"
           "line is a turn and each reply is printed on one line, with nothing else on\n"
           "standard output (command messages go to standard error).\n\n"
           "  -n, --tokens N             longest reply in tokens [%zu]\n"
           "  -t, --temperature X        0 = greedy [%g]\n"
           "  --top-k N                  sample among the N most probable tokens [0 = off]\n"
           "  --top-p X                  nucleus sampling, 1 = off [%g]\n"
           "  --repetition-penalty X     penalise words of the penalty window, 1 = off [%g]\n"
           "  --presence-penalty X       subtract X from the logits of recent words [0 = off]\n"
           "  --penalty-window N         recent words the penalties look at [%zu]\n"
           "  --allow-unk                let <unk> be sampled\n"
           "  --ban WORD                 never produce WORD (repeatable)\n"
           "  --beam N                   replies by beam search of width N [0 = sample]\n"
           "  --length-alpha X           beam score = log-prob / length^X [%g]\n"
           "  --seed N                   sampling seed [%llu]\n"
           "  --mix OTHER                interpolate with a second model over the same\n"
           "                             vocabulary: p = lambda p_MODEL + (1 - lambda) p_OTHER\n"
           "  --lambda X                 the weight of MODEL in the mixture [0.5]\n"
           "  --mix-decay D              weights that follow the parts' recent success (see\n"
           "                             lstmlm-eval(1)) [0 = fixed]\n"
           "  --system TEXT              opening text fed before the first turn\n"
           "  --prime-file FILE          opening turns (one per line) fed before the first\n"
           "  --session FILE             resume the conversation saved in FILE (if it exists)\n"
           "                             and save it there when the chat ends\n"
           "  --stats                    print turns, state size and resident memory to\n"
           "                             standard error at the end\n"
           "  --threads N                OpenBLAS and lstmlm threads [library default]\n"
           "  -q, --quiet                no banner on a terminal\n"
           "  -h, --help                 this text\n\n"
           "Commands: /help, /reset, /retry, /set [NAME VALUE], /save FILE, /load FILE,\n"
           "/stats, /quit.\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n",
           o.max_tokens, o.sampler.temperature, o.sampler.top_p, o.sampler.repetition_penalty,
           o.sampler.penalty_window, o.length_alpha, (unsigned long long)o.seed);
}

static const char *const commands_help =
    "/help              this text\n"
    "/reset             start the conversation again (after the opening text)\n"
    "/retry             replace the last reply by a new one\n"
    "/set               show the settings\n"
    "/set NAME VALUE    change one: temperature, top-k, top-p, repetition-penalty,\n"
    "                   presence-penalty, penalty-window, allow-unk (on/off), tokens, beam,\n"
    "                   length-alpha, seed, ban WORD, unban WORD (unban all)\n"
    "/save FILE         save the conversation (HDF5)\n"
    "/load FILE         load a saved conversation\n"
    "/stats             turns, state size and resident memory\n"
    "/quit              end the chat (also Ctrl-D)\n";

enum { O_SYSTEM = 256, O_PRIME, O_SESSION, O_STATS };
static const struct option longopts[] = {
    {"tokens", required_argument, NULL, 'n'},
    CLI_SAMPLING_LONGOPTS,
    CLI_MIX_LONGOPTS,
    {"system", required_argument, NULL, O_SYSTEM},
    {"prime-file", required_argument, NULL, O_PRIME},
    {"session", required_argument, NULL, O_SESSION},
    {"stats", no_argument, NULL, O_STATS},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Set by SIGINT on a terminal: stops the reply in progress. */
static volatile int stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct session {
    lm_chat *chat;
    bool tty;  /* standard input is a terminal */
    FILE *msg; /* command messages: stdout on a terminal, stderr otherwise */
} session;

/* Resident memory in KiB from /proc/self/status, -1 when unknown. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static void print_stats(const session *s, FILE *f)
{
    lm_chat_stats st;
    lm_chat_get_stats(s->chat, &st);
    fprintf(f, "stats: turns=%zu position=%zu state_bytes=%zu history=%zu rss_kib=%ld\n", st.turns,
            st.position, st.state_bytes, st.history, rss_kib());
    fflush(f);
}

static void emit(void *ud, const char *text)
{
    const session *s = ud;
    fputs(text, stdout);
    if (s->tty)
        fflush(stdout);
}

/* Produces (or redoes) a reply on one line. Returns 0, or EXIT_FAIL on a fatal error. */
static int do_reply(session *s, bool retry)
{
    lm_error err = {0};
    stop_flag = 0;
    int rc = retry ? lm_chat_retry(s->chat, emit, s, &stop_flag, &err)
                   : lm_chat_reply(s->chat, emit, s, &stop_flag, &err);
    fputc('\n', stdout);
    fflush(stdout);
    stop_flag = 0;
    if (rc == LM_EINTR) {
        if (s->tty)
            fprintf(s->msg, "(reply stopped)\n");
        return 0;
    }
    if (rc == LM_EINVAL && retry) {
        fprintf(stderr, "lstmlm: %s\n", err.msg);
        return 0;
    }
    return rc ? cli_fail(&err) : 0;
}

/* Splits off the first word of *p (NUL-terminating it) and skips the spaces after it. */
static char *next_word(char **p)
{
    char *w = *p;
    while (*w && isspace((unsigned char)*w))
        w++;
    char *e = w;
    while (*e && !isspace((unsigned char)*e))
        e++;
    if (*e) {
        *e++ = '\0';
        while (*e && isspace((unsigned char)*e))
            e++;
    }
    *p = e;
    return w;
}

enum { CMD_GO = 0, CMD_QUIT = 1, CMD_FATAL = 2 };

static int command(session *s, char *line)
{
    lm_error err = {0};
    char *rest = line + 1;
    char *cmd = next_word(&rest);
    /* Trailing spaces of the argument text. */
    size_t rl = strlen(rest);
    while (rl && isspace((unsigned char)rest[rl - 1]))
        rest[--rl] = '\0';
    if (!strcmp(cmd, "help")) {
        fputs(commands_help, s->msg);
    } else if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
        return CMD_QUIT;
    } else if (!strcmp(cmd, "reset")) {
        if (lm_chat_reset(s->chat, &err))
            return cli_fail(&err), CMD_FATAL;
        fprintf(s->msg, "(conversation reset)\n");
    } else if (!strcmp(cmd, "retry")) {
        if (do_reply(s, true))
            return CMD_FATAL;
    } else if (!strcmp(cmd, "set")) {
        if (!*rest) {
            char buf[2048];
            lm_chat_describe(s->chat, buf, sizeof buf);
            fprintf(s->msg, "%s\n", buf);
        } else {
            char *name = next_word(&rest);
            if (lm_chat_set(s->chat, name, rest, &err))
                fprintf(stderr, "lstmlm: /set: %s\n", err.msg);
            else {
                char buf[2048];
                lm_chat_describe(s->chat, buf, sizeof buf);
                fprintf(s->msg, "(set %s%s%s; now %s)\n", name, *rest ? " " : "", rest, buf);
            }
        }
    } else if (!strcmp(cmd, "save") || !strcmp(cmd, "load")) {
        if (!*rest)
            fprintf(stderr, "lstmlm: /%s needs a file name\n", cmd);
        else if ((cmd[0] == 's' ? lm_chat_save(s->chat, rest, &err)
                                : lm_chat_load(s->chat, rest, &err)))
            fprintf(stderr, "lstmlm: %s\n", err.msg);
        else
            fprintf(s->msg, "(%s %s)\n", cmd[0] == 's' ? "saved to" : "loaded", rest);
    } else if (!strcmp(cmd, "stats")) {
        print_stats(s, s->msg);
    } else {
        fprintf(stderr, "lstmlm: unknown command '/%s' (/help lists them)\n", cmd);
    }
    fflush(s->msg);
    return CMD_GO;
}

/* Reads one line without its end; NULL at the end of input. *interrupted is set when Ctrl-C
 * ended the read instead. The result is malloc'd. */
static char *read_line(session *s, bool *interrupted)
{
    *interrupted = false;
#ifdef HAVE_LIBEDIT
    if (s->tty) {
        char *l = readline("> ");
        if (!l && stop_flag) {
            stop_flag = 0;
            *interrupted = true;
        }
        if (l && *l)
            add_history(l);
        return l;
    }
#endif
    if (s->tty) {
        fputs("> ", stdout);
        fflush(stdout);
    }
    char *buf = NULL;
    size_t cap = 0;
    errno = 0;
    ssize_t n = getline(&buf, &cap, stdin);
    if (n < 0) {
        free(buf);
        if (s->tty && stop_flag) {
            stop_flag = 0;
            clearerr(stdin);
            *interrupted = true;
        }
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

typedef struct chat_args {
    lm_chat_opts co;
    cli_sampling cs;
    cli_mix mix;
    const char *system, *prime, *session_path;
    bool stats, quiet;
} chat_args;

static int option(void *ud, int c, const char *arg)
{
    chat_args *a = ud;
    int ok = cli_generation_option(&a->cs, &a->mix, c, arg);
    if (ok >= 0)
        return ok;
    switch (c) {
    case 'n': return cli_size_min(arg, &a->co.max_tokens, 1);
    case O_SYSTEM: a->system = arg; return 1;
    case O_PRIME: a->prime = arg; return 1;
    case O_SESSION: a->session_path = arg; return 1;
    case O_STATS: a->stats = true; return 1;
    case 'q': a->quiet = true; return 1;
    default: return -1;
    }
}

int cmd_chat(int argc, char **argv)
{
    chat_args a = {0};
    lm_chat_opts_init(&a.co);
    cli_mix_init(&a.mix);
    if (!cli_sampling_init(&a.cs, argc))
        return EXIT_FAIL;
    a.cs.sampler = a.co.sampler; /* chat's own sampling defaults */
    a.cs.length_alpha = a.co.length_alpha;
    a.cs.seed = a.co.seed;
    int done = cli_parse("chat", argc, argv, "n:t:qh", longopts, help, option, &a);
    if (done >= 0) {
        cli_sampling_free(&a.cs);
        return done;
    }
    lm_chat_opts co = a.co;
    cli_sampling cs = a.cs;
    cli_mix mix = a.mix;
    int mu = cli_mix_usage("chat", &mix, NULL);
    if (mu >= 0) {
        cli_sampling_free(&cs);
        return mu;
    }
    const char *system = a.system, *prime = a.prime, *session_path = a.session_path;
    bool stats = a.stats, quiet = a.quiet;
    co.sampler = cs.sampler;
    co.beam = cs.beam;
    co.length_alpha = cs.length_alpha;
    co.seed = cs.seed;
    const char **ban = cs.ban; /* freed below as ban */
    size_t threads = cs.threads, n_ban = cs.n_ban;
    if (argc - optind != 1) {
        free(ban);
        return cli_usage("chat", "need one MODEL");
    }
    lm_error err = {0};
    if (lm_sampler_check(&co.sampler, &err) || co.max_tokens == 0) {
        free(ban);
        return cli_usage("chat", "%s", co.max_tokens ? err.msg : "--tokens must be positive");
    }
    cli_threads(threads);
    const char *path = argv[optind];
    lm_model *m = NULL;
    char *pbuf = NULL, *line = NULL;
    session s = {NULL, isatty(STDIN_FILENO) != 0, stderr};
    s.msg = s.tty ? stdout : stderr;
    int rc = EXIT_FAIL;
    if (cli_load_model(path, &mix, NULL, 0, &m, &err) || lm_chat_create(m, &co, &s.chat, &err))
        goto fail;
    for (size_t i = 0; i < n_ban; i++)
        if (lm_chat_set(s.chat, "ban", ban[i], &err)) {
            fprintf(stderr, "lstmlm: --ban: %s\n", err.msg);
            goto out;
        }
    if (prime && !(pbuf = cli_read_file(prime))) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot read the prime file", prime);
        goto fail;
    }
    if ((system && lm_chat_prime(s.chat, system, &err)) ||
        (pbuf && lm_chat_prime(s.chat, pbuf, &err)))
        goto fail;
    bool resumed = session_path && access(session_path, F_OK) == 0;
    if (resumed && lm_chat_load(s.chat, session_path, &err))
        goto fail;
    if (s.tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
#ifdef HAVE_LIBEDIT
        rl_readline_name = "lstmlm";
        using_history();
#endif
        if (!quiet) {
            char desc[400];
            lm_model_describe(m, desc, sizeof desc);
            printf("lstmlm chat: %s (%s, vocabulary %zu)\n", path, desc,
                   lm_vocab_size(lm_model_vocab(m)));
            if (resumed) {
                lm_chat_stats cs;
                lm_chat_get_stats(s.chat, &cs);
                printf("Resumed the conversation saved in %s (%zu turns so far).\n",
                       session_path, cs.turns);
            }
            printf("Type a line and press Enter; /help lists the commands, Ctrl-D ends.\n");
            fflush(stdout);
        }
    }
    for (;;) {
        bool intr;
        free(line);
        line = read_line(&s, &intr);
        if (!line) {
            if (intr) {
                fputc('\n', stdout);
                continue;
            }
            if (s.tty)
                fputc('\n', stdout);
            break;
        }
        const char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        if (p[0] == '/' && p[1] != '/') {
            int r = command(&s, (char *)p);
            if (r == CMD_QUIT)
                break;
            if (r == CMD_FATAL)
                goto out;
            continue;
        }
        if (p[0] == '/')
            p++;
        if (lm_chat_user(s.chat, p, &err))
            goto fail;
        if (do_reply(&s, false))
            goto out;
    }
    if (session_path && lm_chat_save(s.chat, session_path, &err))
        goto fail;
    if (stats)
        print_stats(&s, stderr);
    rc = EXIT_OK;
    goto out;
fail:
    cli_fail(&err);
out:
    free(line);
    free(pbuf);
    free(ban);
    lm_chat_free(s.chat);
    lm_model_free(m);
    return rc;
}
