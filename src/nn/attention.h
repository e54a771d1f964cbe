/* src/nn/attention.h - placeholder, being written. */
