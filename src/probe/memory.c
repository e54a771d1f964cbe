/* src/probe/memory.c - placeholder, being written. */
typedef int lm_placeholder_memory;
