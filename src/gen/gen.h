/* gen.h - generation internals shared by the sampler and the chat session. */
#ifndef LM_GEN_H
#define LM_GEN_H

#include "base/base.h"

/* Parses on/off/yes/no/true/false/1/0 (case-insensitive) into *out; 0 when the text is none
 * of those. */
int lm_gen_parse_bool(const char *s, int *out);

#endif
