/* src/probe/probe.h - placeholder, being written. */
