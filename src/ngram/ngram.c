/* ngram.c - n-gram models (placeholder). */
#include "ngram/ngram.h"
typedef int lm_ngram_placeholder;
