/* svg.c - line plots written as plain SVG 1.1 by hand: a grid of panels with labelled linear
 * or log10 axes, ticks, grid lines, dashed or solid series with point markers, and a legend.
 * The file needs nothing but a browser (or rsvg-convert) to display. */
#include "probe/probe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { PANEL_W = 660, PANEL_H = 390, TITLE_H = 44, LEFT = 78, RIGHT = 225, TOP = 40,
       BOTTOM = 62, LEGEND_ROW = 18 };

/* Tableau 10. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/* Writes s XML-escaped, at most max characters (then "..."). */
static void put_text(FILE *f, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s; s++) {
        /* Count UTF-8 lead bytes only, so a cut never splits a character. */
        if (((unsigned char)*s & 0xC0) != 0x80 && n++ == max) {
            fputs("...", f);
            return;
        }
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

/* One axis: data range and mapping to pixels. */
typedef struct axis {
    int log;
    double lo, hi;   /* in data units (log: exponents of 10) */
    double p0, p1;   /* pixels of lo and hi */
    double step;     /* linear tick step */
} axis;

static int usable(double v, int log)
{
    return isfinite(v) && (!log || v > 0);
}

static double to_px(const axis *a, double v)
{
    double u = a->log ? log10(v) : v;
    return a->p0 + (u - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* 1, 2 or 5 times a power of ten, at least x. */
static double nice_step(double x)
{
    double e = pow(10.0, floor(log10(x))), f = x / e;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * e;
}

/* Fits the axis to [mn, mx] (data units). */
static void fit(axis *a, double mn, double mx)
{
    if (a->log) {
        a->lo = floor(log10(mn) + 1e-9);
        a->hi = ceil(log10(mx) - 1e-9);
        if (a->hi <= a->lo)
            a->hi = a->lo + 1;
        return;
    }
    if (mx <= mn) {
        double d = fabs(mn) > 0 ? fabs(mn) * 0.1 : 1.0;
        mn -= d;
        mx += d;
    }
    a->step = nice_step((mx - mn) / 5.0);
    a->lo = floor(mn / a->step) * a->step;
    a->hi = ceil(mx / a->step) * a->step;
}

/* A tick label: 1, 20, 500, 1k, 10k, 2.5M, 0.01 ... */
static void tick_label(char *buf, size_t cap, double v)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, cap, "%gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, cap, "%gM", v / 1e6);
    else if (a >= 1e3)
        snprintf(buf, cap, "%gk", v / 1e3);
    else if (a < 1e-9)
        snprintf(buf, cap, "0");
    else
        snprintf(buf, cap, "%.4g", v);
}

static void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *cls)
{
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\"/>\n", x1, y1,
            x2, y2, cls);
}

/* Opens a <text> element; the caller writes the text and "</text>". */
static void svg_text(FILE *f, double x, double y, const char *cls, const char *anchor)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"%s\" text-anchor=\"%s\">", x, y, cls,
            anchor);
}

/* One tick at pixel p of value v: grid line across the plot (c0..c1 on the other axis) and,
 * when labelled, its label. */
static void tick(FILE *f, int horizontal, double p, double c0, double c1, const char *cls,
                 double v, int labelled)
{
    char lab[32];
    if (horizontal)
        svg_line(f, p, c0, p, c1, cls);
    else
        svg_line(f, c0, p, c1, p, cls);
    if (!labelled)
        return;
    tick_label(lab, sizeof lab, v);
    if (horizontal)
        svg_text(f, p, c1 + 16, "tick", "middle");
    else
        svg_text(f, c0 - 6, p + 4, "tick", "end");
    fprintf(f, "%s</text>\n", lab);
}

/* Ticks, grid lines and tick labels of one axis; horizontal = the x axis. Log axes: labels at
 * powers of ten, light lines at 2..9 times them. */
static void draw_ticks(FILE *f, const axis *a, int horizontal, double c0, double c1)
{
    if (a->log) {
        for (double e = a->lo; e <= a->hi + 1e-9; e += 1.0)
            for (int k = 1; k <= 9; k++) {
                double v = (double)k * pow(10.0, e);
                if (log10(v) > a->hi + 1e-9)
                    break;
                tick(f, horizontal, to_px(a, v), c0, c1, k == 1 ? "grid" : "minor", v, k == 1);
            }
        return;
    }
    size_t n = (size_t)llround((a->hi - a->lo) / a->step);
    for (size_t i = 0; i <= n; i++) {
        double v = a->lo + (double)i * a->step;
        tick(f, horizontal, to_px(a, v), c0, c1, "grid", fabs(v) < a->step * 1e-6 ? 0.0 : v, 1);
    }
}

static void draw_panel(FILE *f, const lm_plot_panel *pn, double ox, double oy)
{
    double x0 = ox + LEFT, x1 = ox + PANEL_W - RIGHT, y0 = oy + TOP, y1 = oy + PANEL_H - BOTTOM;
    svg_text(f, (x0 + x1) / 2, oy + 24, "ptitle", "middle");
    put_text(f, pn->title, 80);
    fputs("</text>\n", f);
    axis ax = {.log = pn->logx, .p0 = x0, .p1 = x1}, ay = {.log = pn->logy, .p0 = y1, .p1 = y0};
    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    for (size_t s = 0; s < pn->n_series; s++) {
        const lm_plot_series *se = &pn->series[s];
        for (size_t i = 0; i < se->n; i++) {
            if (!usable(se->x[i], ax.log) || !usable(se->y[i], ay.log))
                continue;
            xmn = fmin(xmn, se->x[i]);
            xmx = fmax(xmx, se->x[i]);
            ymn = fmin(ymn, se->y[i]);
            ymx = fmax(ymx, se->y[i]);
        }
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n",
            x0, y0, x1 - x0, y1 - y0);
    if (!(xmn <= xmx)) {
        svg_text(f, (x0 + x1) / 2, (y0 + y1) / 2, "tick", "middle");
        fputs("no data</text>\n", f);
    } else {
        fit(&ax, xmn, xmx);
        fit(&ay, ymn, ymx);
        draw_ticks(f, &ax, 1, y0, y1);
        draw_ticks(f, &ay, 0, x0, x1);
        for (size_t s = 0; s < pn->n_series; s++) {
            const lm_plot_series *se = &pn->series[s];
            const char *col = palette[(size_t)(se->color < 0 ? 0 : se->color) % 10];
            fprintf(f, "<polyline class=\"line\" stroke=\"%s\"%s points=\"", col,
                    se->dashed ? " stroke-dasharray=\"7 4\"" : "");
            for (size_t i = 0; i < se->n; i++)
                if (usable(se->x[i], ax.log) && usable(se->y[i], ay.log))
                    fprintf(f, "%.1f,%.1f ", to_px(&ax, se->x[i]), to_px(&ay, se->y[i]));
            fputs("\"/>\n", f);
            for (size_t i = 0; i < se->n; i++)
                if (usable(se->x[i], ax.log) && usable(se->y[i], ay.log))
                    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>\n",
                            to_px(&ax, se->x[i]), to_px(&ay, se->y[i]),
                            se->dashed ? "2" : "3", col);
        }
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"label\" text-anchor=\"middle\">",
            (x0 + x1) / 2, y1 + 40);
    put_text(f, pn->xlabel, 90);
    fprintf(f, "%s</text>\n", pn->logx ? " (log scale)" : "");
    fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" class=\"label\" "
               "text-anchor=\"middle\">", ox + 20, (y0 + y1) / 2);
    put_text(f, pn->ylabel, 60);
    fprintf(f, "%s</text>\n", pn->logy ? " (log scale)" : "");
    /* Legend, right of the plot. */
    for (size_t s = 0; s < pn->n_series; s++) {
        const lm_plot_series *se = &pn->series[s];
        const char *col = palette[(size_t)(se->color < 0 ? 0 : se->color) % 10];
        double ly = y0 + 10 + (double)s * LEGEND_ROW, lx = x1 + 12;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"line\" "
                   "stroke=\"%s\"%s/>\n", lx, ly, lx + 24, ly, col,
                se->dashed ? " stroke-dasharray=\"7 4\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">", lx + 30, ly + 4);
        put_text(f, se->label, 24);
        fputs("</text>\n", f);
    }
}

int lm_svg_write(FILE *f, const char *title, const lm_plot_panel *panels, size_t n_panels,
                 lm_error *err)
{
    if (!f || !panels || n_panels == 0)
        return lm_fail(err, LM_EINVAL, "a plot needs at least one panel");
    size_t cols = n_panels > 1 ? 2 : 1, rows = (n_panels + cols - 1) / cols;
    size_t W = cols * PANEL_W, H = TITLE_H + rows * PANEL_H;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%zu\" "
               "height=\"%zu\" viewBox=\"0 0 %zu %zu\">\n"
               "<style>\n"
               "text { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; fill: #222; }\n"
               ".title { font-size: 18px; font-weight: bold; }\n"
               ".ptitle { font-size: 14px; font-weight: bold; }\n"
               ".label { font-size: 13px; }\n"
               ".tick { font-size: 11px; fill: #444; }\n"
               ".legend { font-size: 12px; }\n"
               ".frame { fill: none; stroke: #333; stroke-width: 1; }\n"
               ".grid { stroke: #d8d8d8; stroke-width: 1; }\n"
               ".minor { stroke: #efefef; stroke-width: 1; }\n"
               ".line { fill: none; stroke-width: 2; }\n"
               "</style>\n"
               "<rect x=\"0\" y=\"0\" width=\"%zu\" height=\"%zu\" fill=\"white\"/>\n",
            W, H, W, H, W, H);
    fprintf(f, "<text x=\"%zu\" y=\"28\" class=\"title\" text-anchor=\"middle\">", W / 2);
    put_text(f, title ? title : "", 120);
    fputs("</text>\n", f);
    for (size_t i = 0; i < n_panels; i++)
        draw_panel(f, &panels[i], (double)(i % cols) * PANEL_W,
                   TITLE_H + (double)(i / cols) * PANEL_H);
    fputs("</svg>\n", f);
    if (fflush(f) || ferror(f))
        return lm_fail(err, LM_EIO, "cannot write the plot");
    return LM_OK;
}
