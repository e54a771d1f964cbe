/* src/probe/svg.c - placeholder, being written. */
typedef int lm_placeholder_svg;
