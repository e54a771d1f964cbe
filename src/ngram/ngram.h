/* ngram.h - n-gram models (placeholder). */
