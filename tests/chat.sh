#!/bin/sh
# chat.sh - placeholder: being written.
echo "chat.sh: not written yet"
exit 77
