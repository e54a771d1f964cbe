/* src/nn/rwkv.h - placeholder, being written. */
