/* src/gen/chat.c - placeholder, being written. */
typedef int lm_placeholder_chat;
