/* gen.h - sampler internals. */
#ifndef LM_GEN_H
#define LM_GEN_H

#include "base/base.h"

#endif
