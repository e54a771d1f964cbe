#!/bin/sh
# cli.sh - placeholder: being written.
echo "cli.sh: not written yet"
exit 77
