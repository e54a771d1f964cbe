/* test_import.c - corpus importers (Cornell, SubRip, __eou__, text), split and describe. */
#include "harness.h"
#include "text/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* Warnings of the last import, one "file:line: message" per line (file without its folder). */
static char warnings[8192];

static void collect_warning(void *ud, const char *file, size_t line, const char *msg)
{
    (void)ud;
    const char *base = strstr(file, "tests/data/import/");
    base = base ? base + strlen("tests/data/import/") : file;
    size_t n = strlen(warnings);
    snprintf(warnings + n, sizeof warnings - n, "%s:%zu: %s\n", base, line, msg);
}

/* Imports into a malloc'd string (NULL when the import fails; *rc holds the code). */
static char *import(int format, const char *const *inputs, size_t n, int speakers,
                    lm_import_stats *st, int *rc, lm_error *err)
{
    lm_import_opts o;
    lm_import_opts_init(&o);
    o.format = format;
    o.speakers = speakers;
    o.warn = collect_warning;
    warnings[0] = '\0';
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    *rc = lm_corpus_import(&o, inputs, n, f, st, err);
    fclose(f);
    if (*rc) {
        free(text);
        return NULL;
    }
    return text;
}

static char *import1(int format, const char *input, lm_import_stats *st, int *rc, lm_error *err)
{
    return import(format, &input, 1, 0, st, rc, err);
}

static const char *data(const char *name)
{
    static char rel[8][256];
    static int slot;
    char *s = rel[slot++ & 7];
    snprintf(s, 256, "tests/data/import/%s", name);
    return th_srcpath(s);
}

/* The text of conversation k (0-based) of an imported corpus, in a static buffer. */
static const char *conversation(const char *text, size_t k)
{
    static char buf[4096];
    const char *p = text;
    for (size_t i = 0; i < k && p; i++) {
        p = strstr(p, "\n\n");
        if (p)
            p += 2;
    }
    if (!p)
        return "";
    const char *e = strstr(p, "\n\n");
    size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static int skip_without(const char *what, const char *path)
{
    if (path)
        return 0;
    printf("\n  skipped: ../shared/%s is absent (the real corpora sit next to the source tree)\n", what);
    return 1;
}

/* ---- cleaning and timing ------------------------------------------------------------------ */

static void check_clean(const char *in, int tags, const char *want, size_t want_recoded)
{
    char out[256];
    size_t recoded = 0;
    size_t n = lm_import_clean(in, strlen(in), tags, out, &recoded);
    out[n] = '\0';
    CU_ASSERT_STRING_EQUAL(out, want);
    CU_ASSERT_EQUAL(recoded, want_recoded);
    if (strcmp(out, want))
        printf("\n  clean(\"%s\") = \"%s\", expected \"%s\"\n", in, out, want);
}

static void test_clean(void)
{
    check_clean("  Hello,\t\tworld \r\n", 0, "Hello, world", 0);
    check_clean("caf\xe9 cr\xe8me", 0, "caf\xc3\xa9 cr\xc3\xa8me", 2);       /* Latin-1 */
    check_clean("\x93quoted\x94 \x85", 0, "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\xa6", 3);
    check_clean("bad \x81 byte", 0, "bad \xef\xbf\xbd byte", 1);               /* unassigned */
    check_clean("head\xef\xbf\xbdquarters", 0, "head\xef\xbf\xbdquarters", 0); /* U+FFFD kept */
    check_clean("a\x01" "b\x7f" "c\xc2\xa0" "d", 0, "a b c d", 0);
    check_clean("\xef\xbb\xbfHi", 0, "Hi", 0);
    check_clean("<i>Hi</i> <font color=\"#fff\">there</font>", 1, "Hi there", 0);
    check_clean("<i>Hi</i>", 0, "<i>Hi</i>", 0);
    check_clean("{\\an8}Top{\\i1} line", 1, "Top line", 0);
    check_clean("one<br/>two<BR>three", 1, "one two three", 0);
    check_clean("I <3 you, a < b, <unk> stays", 1, "I <3 you, a < b, <unk> stays", 0);
    check_clean(" \t ", 1, "", 0);
}

static void test_srt_timing(void)
{
    double a = -1, b = -1;
    const char *l = "00:02:17,250 --> 00:02:20,500";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), 1);
    LM_ASSERT_CLOSE(a, 137.25, 1e-9, 0);
    LM_ASSERT_CLOSE(b, 140.5, 1e-9, 0);
    l = "1:00:00.5-->1:00:01.25  X1:10 X2:20";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), 1);
    LM_ASSERT_CLOSE(a, 3600.5, 1e-9, 0);
    LM_ASSERT_CLOSE(b, 3601.25, 1e-9, 0);
    l = "02:17,250 --> 02:20,500";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), 1);
    LM_ASSERT_CLOSE(a, 137.25, 1e-9, 0);
    l = "00:02:17,250 --> 00:02:2";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), -1);
    l = "00:99:17,250 --> 00:02:20,500";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), -1);
    l = "00:02:17,250 -> 00:02:20,500";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), -1);
    l = "We meet at 10:30:00 sharp.";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), 0);
    l = "12";
    CU_ASSERT_EQUAL(lm_import_srt_timing(l, strlen(l), &a, &b), 0);
}

static void test_formats(void)
{
    CU_ASSERT_EQUAL(lm_import_format_parse("cornell"), LM_IMPORT_CORNELL);
    CU_ASSERT_EQUAL(lm_import_format_parse("srt"), LM_IMPORT_SRT);
    CU_ASSERT_EQUAL(lm_import_format_parse("eou"), LM_IMPORT_EOU);
    CU_ASSERT_EQUAL(lm_import_format_parse("text"), LM_IMPORT_TEXT);
    CU_ASSERT_EQUAL(lm_import_format_parse("SRT"), LM_EINVAL);
    CU_ASSERT_STRING_EQUAL(lm_import_format_name(LM_IMPORT_CORNELL), "cornell");
    CU_ASSERT_STRING_EQUAL(lm_import_format_name(42), "?");
}

/* ---- the shared real corpora -------------------------------------------------------------- */

static void test_cornell_shared(void)
{
    const char *dir = th_shared("data/cornell_movie_dialogs");
    if (skip_without("data/cornell_movie_dialogs", dir))
        return;
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_CORNELL, dir, &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    /* Counted independently with Python: every one of the 6,653 lines of
     * movie_conversations.txt resolves (split on " +++$+++ ", ids by the regex 'L\d+' looked up
     * in a dict of movie_lines.txt's 23,692 records); 23,692 ids are referenced, of which 2
     * (L474, L24609) have empty text, leaving 23,690 turns. The whole output was also compared
     * byte for byte with a Python rebuild (text with <u>/</u> removed, whitespace collapsed). */
    CU_ASSERT_EQUAL(st.files, 2);
    CU_ASSERT_EQUAL(st.conversations, 6653);
    CU_ASSERT_EQUAL(st.turns, 23690);
    CU_ASSERT_EQUAL(st.missing_ids, 0);
    CU_ASSERT_EQUAL(st.empty, 2);
    CU_ASSERT_EQUAL(st.warnings, 0);
    CU_ASSERT_STRING_EQUAL(warnings, "");
    /* movie_conversations.txt line 1: ['L194', 'L195', 'L196', 'L197'] (m0). */
    CU_ASSERT_STRING_EQUAL(conversation(text, 0),
                           "Can we make this quick? Roxanne Korrine and Andrew Barrett are having "
                           "an incredibly horrendous public break- up on the quad. Again.\n"
                           "Well, I thought we'd start with pronunciation, if that's okay with "
                           "you.\n"
                           "Not the hacking and gagging and spitting part. Please.\n"
                           "Okay... then how 'bout we try out some French cuisine. Saturday? "
                           "Night?\n");
    /* Line 2: ['L198', 'L199']. */
    CU_ASSERT_STRING_EQUAL(conversation(text, 1),
                           "You're asking me out. That's so cute. What's your name again?\n"
                           "Forget it.\n");
    /* Line 1142: ['L55853' .. 'L55857'] (m9), with <u> tags in L55854 and L55857. */
    CU_ASSERT_STRING_EQUAL(conversation(text, 1141),
                           "Maybe - just 'maybe' - when their ship doesn't return - they'll decide "
                           "not to come here, after all.\n"
                           "But if they do?\n"
                           "I don't know.\n"
                           "I wouldn't worry. So long as we have boats like the Tiger Shark - and "
                           "people like you, the Skipper, Dave, Kent, Sir Ian and my father -\n"
                           "And his 'egghead' son! We'll give 'em a rough reception, won't we?\n");
    /* Line 6653, the last: ['L152379', 'L152380'] (m47). */
    CU_ASSERT_STRING_EQUAL(conversation(text, 6652), "Men... men... what happened, men?\n"
                                                     "Yeah, the skipper always was lucky.\n");
    CU_ASSERT_STRING_EQUAL(conversation(text, 6653), "");
    CU_ASSERT_PTR_NULL(strstr(text, "<u>"));
    CU_ASSERT_PTR_NULL(strstr(text, "+++$+++"));
    CU_ASSERT_PTR_NULL(strstr(text, "\n\n\n"));
    free(text);

    /* The two files in either order, with speakers. */
    char lines[4096], convs[4096];
    snprintf(lines, sizeof lines, "%s/movie_lines.txt", dir);
    snprintf(convs, sizeof convs, "%s/movie_conversations.txt", dir);
    const char *two[] = {convs, lines};
    text = import(LM_IMPORT_CORNELL, two, 2, 1, &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_EQUAL(st.turns, 23690);
    CU_ASSERT_STRING_EQUAL(conversation(text, 1),
                           "BIANCA: You're asking me out. That's so cute. What's your name again?\n"
                           "CAMERON: Forget it.\n");
    free(text);
}

/* An independent reading of a clean .srt file: the text lines of each cue joined by a space. */
static void test_srt_sintel(void)
{
    const char *path = th_shared("data/subtitles_srt/sintel_en.srt");
    if (skip_without("data/subtitles_srt/sintel_en.srt", path))
        return;
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_SRT, path, &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    char *raw = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    /* Rebuild the expected turns: after each timing line, the lines up to a blank line. */
    char expected[8192] = "";
    size_t cues = 0;
    for (char *p = strstr(raw, "-->"); p; p = strstr(p, "-->")) {
        p = strchr(p, '\n') + 1;
        int first = 1;
        while (*p && *p != '\r' && *p != '\n') {
            char *e = strchr(p, '\r');
            if (!first)
                strcat(expected, " ");
            strncat(expected, p, (size_t)(e - p));
            first = 0;
            p = e + 2;
        }
        strcat(expected, "\n");
        cues++;
    }
    CU_ASSERT_EQUAL(cues, 26);
    CU_ASSERT_EQUAL(st.turns, 26);
    CU_ASSERT_EQUAL(st.warnings, 0);
    /* The output holds the same turns with blank lines at gaps over 5 s. */
    char *flat = malloc(strlen(text) + 1), *o = flat;
    for (const char *p = text; *p; p++)
        if (!(*p == '\n' && (p == text || p[-1] == '\n')))
            *o++ = *p;
    *o = '\0';
    CU_ASSERT_STRING_EQUAL(flat, expected);
    CU_ASSERT_PTR_NULL(strstr(text, "-->"));
    CU_ASSERT_PTR_NULL(strchr(text, '<'));
    CU_ASSERT_PTR_NULL(strchr(text, '\r'));
    /* Cue 12 ends at 3:05.870 and cue 13 starts at 3:57.250: a new conversation. */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "as long as I can remember.\n\nWe're almost done."));
    CU_ASSERT_EQUAL(st.conversations, 11);
    free(flat);
    free(raw);
    free(text);
}

static void test_dailydialog(void)
{
    const char *path = th_shared("data/dailydialog/dialogues_validation.txt");
    if (skip_without("data/dailydialog/dialogues_validation.txt", path))
        return;
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_EOU, path, &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    /* 1,000 lines; 8,069 non-blank pieces between "__eou__" marks (counted with Python). */
    CU_ASSERT_EQUAL(st.conversations, 1000);
    CU_ASSERT_EQUAL(st.turns, 8069);
    CU_ASSERT_EQUAL(st.warnings, 0);
    CU_ASSERT_PTR_NULL(strstr(text, "__eou__"));
    CU_ASSERT_STRING_EQUAL(conversation(text, 0),
                           "Good morning, sir. Is there a bank near here?\n"
                           "There is one. 5 blocks away from here?\n"
                           "Well, that's too far. Can you change some money for me?\n"
                           "Surely, of course. What kind of currency have you got?\n"
                           "RIB.\n"
                           "How much would you like to change?\n"
                           "1000 Yuan. Here you are.\n");
    /* No curly apostrophe and no clitic left on its own ("let ’ s"). */
    CU_ASSERT_PTR_NULL(strstr(text, "\xe2\x80\x99"));
    CU_ASSERT_PTR_NULL(strstr(text, " ' s "));
    CU_ASSERT_PTR_NULL(strstr(text, " ' t "));
    free(text);
}

/* ---- committed small and damaged inputs ---------------------------------------------------- */

static void test_cornell_damaged(void)
{
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_CORNELL, data("cornell_bad"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Good morning. How was the caf\xc3\xa9?\n"
                                 "Fine, thanks. It was very busy.\n"
                                 "The head\xef\xbf\xbdquarters called.\n"
                                 "Then I will call them back.\n"
                                 "\n"
                                 "See you at noon.\n"
                                 "\n"
                                 "Noon it is.\n"
                                 "\n"
                                 "Then I will call them back.\n"
                                 "See you at noon.\n"
                                 "\n");
    CU_ASSERT_STRING_EQUAL(warnings,
                           "cornell_bad/movie_lines.txt:6: duplicate line id 'L2', line skipped\n"
                           "cornell_bad/movie_lines.txt:7: truncated record: 4 of 5 fields, line "
                           "skipped\n"
                           "cornell_bad/movie_lines.txt:10: truncated record: 4 of 5 fields, line "
                           "skipped\n"
                           "cornell_bad/movie_conversations.txt:2: unknown line id 'L999'\n"
                           "cornell_bad/movie_conversations.txt:3: truncated record: fewer than 4 "
                           "fields, line skipped\n"
                           "cornell_bad/movie_conversations.txt:4: unknown line id 'L404'\n"
                           "cornell_bad/movie_conversations.txt:4: unknown line id 'L405'\n"
                           "cornell_bad/movie_conversations.txt:5: line-id list ends inside an id "
                           "(truncated?)\n");
    CU_ASSERT_EQUAL(st.conversations, 4);
    CU_ASSERT_EQUAL(st.turns, 8);
    CU_ASSERT_EQUAL(st.missing_ids, 3);
    CU_ASSERT_EQUAL(st.empty, 1);
    CU_ASSERT_EQUAL(st.recoded, 1);
    CU_ASSERT_EQUAL(st.warnings, 8);
    free(text);

    /* One of the two files alone is misuse. */
    char lines[4096];
    snprintf(lines, sizeof lines, "%s/movie_lines.txt", data("cornell_bad"));
    text = import1(LM_IMPORT_CORNELL, lines, &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "movie_conversations"));
    text = import1(LM_IMPORT_CORNELL, data("turns.txt"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "turns.txt: neither"));
    text = import1(LM_IMPORT_CORNELL, data("srtdir"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no movie_lines.txt"));
}

static void test_srt_damaged(void)
{
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_SRT, data("tags.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Where are you going?\n"
                                 "To the market. I need bread.\n"
                                 "Can I come?\n"
                                 "Sure, why not.\n"
                                 "Great.\n"
                                 "Let's go then.\n"
                                 "Numbered six, but five was expected.\n"
                                 "\n"
                                 "Long silence before this cue.\n"
                                 "Broken arrow in the timing line.\n"
                                 "Cue ten has text.\n"
                                 "No blank line before cue eleven.\n"
                                 "Back in time.\n"
                                 "\n");
    CU_ASSERT_STRING_EQUAL(warnings, "tags.srt:19: cue number 6, expected 5\n"
                                     "tags.srt:28: cue 8: malformed timing line\n"
                                     "tags.srt:31: cue 9 has no text\n"
                                     "tags.srt:37: no blank line before cue 11\n"
                                     "tags.srt:41: cue 12 has no text\n"
                                     "tags.srt:46: cue 13 ends before it starts\n"
                                     "tags.srt:46: cue 13 starts before the previous cue (out of "
                                     "order)\n");
    CU_ASSERT_EQUAL(st.empty, 2);
    free(text);

    text = import1(LM_IMPORT_SRT, data("truncated.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Hello there.\n\n");
    CU_ASSERT_STRING_EQUAL(warnings, "truncated.srt:5: cue 2 has no text\n");
    free(text);

    text = import1(LM_IMPORT_SRT, data("truncated_number.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Hello.\n\n");
    CU_ASSERT_STRING_EQUAL(warnings,
                           "truncated_number.srt:5: file ends inside cue 2 (truncated?)\n");
    free(text);

    text = import1(LM_IMPORT_SRT, data("empty.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "empty.srt: empty file"));

    text = import1(LM_IMPORT_SRT, data("binary.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "binary.srt:3: binary data"));

    text = import1(LM_IMPORT_SRT, data("srtdir/notes.txt"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no turns found"));
    CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "notes.txt:1: text outside a cue"));

    text = import1(LM_IMPORT_SRT, data("no-such-file.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no-such-file.srt"));
}

static void test_srt_files(void)
{
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_SRT, data("utf16.srt"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Caf\xc3\xa9 au lait, s\xe2\x80\x99il vous pla\xc3\xaet.\n\n");
    free(text);
    /* A directory: its .srt files in name order, each ending a conversation. */
    text = import1(LM_IMPORT_SRT, data("srtdir"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "First file, first cue.\nFirst file, second cue.\n\n"
                                 "Second file.\n\n");
    CU_ASSERT_EQUAL(st.files, 2);
    free(text);
    /* A gap of 0 s splits at every silence. */
    lm_import_opts o;
    lm_import_opts_init(&o);
    o.format = LM_IMPORT_SRT;
    o.gap = 0;
    const char *in = data("srtdir/a.srt");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(lm_corpus_import(&o, &in, 1, f, &st, &err), LM_OK);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "First file, first cue.\n\nFirst file, second cue.\n\n");
    free(buf);
    o.gap = -1;
    f = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(lm_corpus_import(&o, &in, 1, f, &st, &err), LM_EINVAL);
    fclose(f);
    free(buf);
}

/* DailyDialog's own tokenisation becomes normal text (a committed sample of its cases). */
static void test_eou_normalized(void)
{
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_EOU, data("dailydialog.eou"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text,
                           "Good morning, sir. Is there a bank near here?\n"
                           "Well, that's too far. Can you change some money for me?\n"
                           "1000 Yuan. Here you are.\n\n"
                           "I'm a defender. It's a lot of fun. You don't have to skate as fast.\n"
                           "Let's meet at 5 o'clock (not later).\n\n"
                           "He said \" hello \" and left... I'll call Mr. Smith, we've got 50% off "
                           "in the 1960's!\n\n");
    free(text);
    /* The pieces directly. */
    char tmp[64], out[128];
    const char *in = "don \xe2\x80\x99 t , ok";
    size_t n = lm_import_eou_normalize(in, strlen(in), tmp, out);
    CU_ASSERT_EQUAL(n, strlen("don't, ok"));
    CU_ASSERT_NSTRING_EQUAL(out, "don't, ok", n);
    in = "' s is a letter";
    n = lm_import_eou_normalize(in, strlen(in), tmp, out);
    CU_ASSERT_NSTRING_EQUAL(out, "' s is a letter", n);
}

static void test_text_and_eou(void)
{
    lm_import_stats st;
    lm_error err = {0};
    int rc;
    char *text = import1(LM_IMPORT_TEXT, data("turns.txt"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Hello there.\nHow are you?\n\nFine.\nGood.\n\n");
    CU_ASSERT_EQUAL(st.conversations, 2);
    free(text);

    text = import1(LM_IMPORT_EOU, data("dialogs.eou"), &st, &rc, &err);
    CU_ASSERT_EQUAL_FATAL(rc, LM_OK);
    CU_ASSERT_STRING_EQUAL(text, "Hi, how are you?\nFine, thanks.\n\n"
                                 "Is this seat free?\nYes, please sit down.\n\n"
                                 "Where is the station?\nTwo blocks away, on the le\n\n");
    CU_ASSERT_STRING_EQUAL(warnings,
                           "dialogs.eou:4: last turn not ended by __eou__ (truncated line?)\n");
    CU_ASSERT_EQUAL(st.empty, 1);
    free(text);

    text = import1(LM_IMPORT_TEXT, data("srtdir"), &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is a directory"));
    text = import(LM_IMPORT_TEXT, NULL, 0, 0, &st, &rc, &err);
    CU_ASSERT_EQUAL(rc, LM_EINVAL);
}

/* ---- split and describe --------------------------------------------------------------------- */

static void test_split(void)
{
    char path[512], corpus[8192] = "";
    snprintf(path, sizeof path, "%s/split.txt", th_tmpdir());
    for (int i = 0; i < 40; i++) {
        char conv[128];
        snprintf(conv, sizeof conv, "conversation %d asks.\r\nconversation %d answers.\n\n\n", i,
                 i);
        strcat(corpus, conv);
    }
    write_file(path, corpus);
    char *out[2][3];
    lm_split_stats st;
    lm_error err = {0};
    for (int run = 0; run < 2; run++) {
        FILE *f[3];
        size_t len[3];
        for (int p = 0; p < 3; p++)
            f[p] = open_memstream(&out[run][p], &len[p]);
        lm_rng rng;
        lm_rng_seed(&rng, 7);
        CU_ASSERT_EQUAL(lm_corpus_split(path, 0.1, 0.05, &rng, f, &st, &err), LM_OK);
        for (int p = 0; p < 3; p++)
            fclose(f[p]);
    }
    CU_ASSERT_EQUAL(st.conversations[LM_SPLIT_VALID], 4);
    CU_ASSERT_EQUAL(st.conversations[LM_SPLIT_TEST], 2);
    CU_ASSERT_EQUAL(st.conversations[LM_SPLIT_TRAIN], 34);
    CU_ASSERT_EQUAL(st.turns[LM_SPLIT_TRAIN], 68);
    for (int p = 0; p < 3; p++)
        CU_ASSERT_STRING_EQUAL(out[0][p], out[1][p]); /* same seed, same split */
    /* Every conversation lands whole in exactly one part. */
    for (int i = 0; i < 40; i++) {
        char conv[128];
        snprintf(conv, sizeof conv, "conversation %d asks.\nconversation %d answers.\n\n", i, i);
        int found = 0;
        for (int p = 0; p < 3; p++) {
            const char *at = strstr(out[0][p], conv);
            found += at && (at == out[0][p] || at[-1] == '\n');
        }
        CU_ASSERT_EQUAL(found, 1);
    }
    CU_ASSERT_PTR_NULL(strchr(out[0][0], '\r'));
    for (int r = 0; r < 2; r++)
        for (int p = 0; p < 3; p++)
            free(out[r][p]);

    FILE *none[3] = {NULL, NULL, NULL};
    lm_rng rng;
    lm_rng_seed(&rng, 1);
    CU_ASSERT_EQUAL(lm_corpus_split(path, 0.6, 0.5, &rng, none, &st, &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_corpus_split(path, -0.1, 0, &rng, none, &st, &err), LM_EINVAL);
    write_file(path, "one conversation only\nwith two turns\n");
    CU_ASSERT_EQUAL(lm_corpus_split(path, 0.05, 0.05, &rng, none, &st, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "1 conversation cannot be split"));
    CU_ASSERT_EQUAL(lm_corpus_split(data("empty.srt"), 0.05, 0.05, &rng, none, &st, &err),
                    LM_EFORMAT);
}

static void test_describe(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/describe.txt", th_tmpdir());
    write_file(path, "the cat sat .\nthe dog sat on the mat .\n\nthe end\n");
    lm_corpus_desc d;
    lm_error err = {0};
    CU_ASSERT_EQUAL_FATAL(lm_corpus_describe(path, NULL, 0, &d, &err), LM_OK);
    CU_ASSERT_EQUAL(d.conversations, 2);
    CU_ASSERT_EQUAL(d.turns, 3);
    CU_ASSERT_EQUAL(d.words, 4 + 7 + 2);
    CU_ASSERT_EQUAL(d.tokens, 13 + 3 + 1); /* one <eoc>: only one blank line follows a turn */
    CU_ASSERT_EQUAL(d.types, 8);           /* the cat sat . dog on mat end */
    CU_ASSERT_EQUAL(d.vocab, 11);
    CU_ASSERT_EQUAL(d.oov, 0);
    CU_ASSERT_EQUAL(d.longest_turn, 7);
    CU_ASSERT_EQUAL(d.longest_conversation, 2);
    CU_ASSERT_EQUAL(d.hist[0], 2);
    CU_ASSERT_EQUAL(d.hist[1], 1);
    /* Five types kept: specials + "the" (4), "." (2), "sat" (2) in count then byte order,
     * so cat, dog, on, mat, end (one each) are out. */
    CU_ASSERT_EQUAL_FATAL(lm_corpus_describe(path, NULL, 6, &d, &err), LM_OK);
    CU_ASSERT_EQUAL(d.vocab, 6);
    CU_ASSERT_EQUAL(d.oov, 5);
    CU_ASSERT_EQUAL(lm_corpus_describe(path, NULL, 3, &d, &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_corpus_describe(data("binary.srt"), NULL, 0, &d, &err), LM_EFORMAT);
}

int main(void)
{
    static const th_test tests[] = {
        {"clean: encodings, white space, tags", test_clean},
        {"srt timing lines", test_srt_timing},
        {"format names", test_formats},
        {"cornell: shared slice, counts and conversations", test_cornell_shared},
        {"srt: shared sintel_en.srt, every cue", test_srt_sintel},
        {"eou: shared DailyDialog validation", test_dailydialog},
        {"cornell: damaged inputs", test_cornell_damaged},
        {"srt: damaged inputs", test_srt_damaged},
        {"srt: utf-16, directories, gap", test_srt_files},
        {"text and eou", test_text_and_eou},
        {"eou: DailyDialog tokenisation normalised", test_eou_normalized},
        {"split by conversations", test_split},
        {"describe", test_describe},
        {NULL, NULL},
    };
    return th_run("import", tests);
}
