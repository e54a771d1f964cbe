/* src/nn/attention.c - placeholder, being written. */
typedef int lm_placeholder_attention;
