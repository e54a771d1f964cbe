/* src/nn/rwkv.c - placeholder, being written. */
typedef int lm_placeholder_rwkv;
