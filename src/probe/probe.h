/* probe.h - memory and context-usage probes, SVG plots. Internal; the API is in lstmlm.h
 * (section "memory probes"). */
#ifndef LM_PROBE_H
#define LM_PROBE_H

#include "lm/lm.h"

/* Steps fed per forward call by the context probe for models without a window (the state is
 * carried between the chunks). */
#define LM_PROBE_CHUNK 100

#endif
