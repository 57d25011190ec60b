/* pubsub: publish/subscribe as Redis has it (SUBSCRIBE, PSUBSCRIBE,
 * UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB). Messages are not stored or
 * logged: PUBLISH hands a message to the clients subscribed at that moment
 * (to the channel, or to a glob pattern matching it) by appending it to
 * their output, a push in RESP3, an array in RESP2. A RESP2 client with a
 * subscription may only (un)subscribe, PING, QUIT and RESET; its output
 * is held to the pubsub class of client-output-buffer-limit. */
#ifndef KVD_PUBSUB_H
#define KVD_PUBSUB_H

#include <stddef.h>

#include "server.h"

/* Channels plus patterns c is subscribed to (0 for a client never subscribed). */
int pubsub_count(const client *c);

/* CLIENT LIST's sub= and psub=. */
int pubsub_channels_of(const client *c);
int pubsub_patterns_of(const client *c);

/* INFO's pubsub_channels (channels with a subscriber) and pubsub_patterns
 * (pattern subscriptions). */
size_t pubsub_nchannels(void);
size_t pubsub_npatterns(void);

/* Clients with a subscription (INFO's pubsub_clients). */
size_t pubsub_nclients(void);

/* Drop every subscription of c (RESET, disconnect) without replying. */
void pubsub_free(client *c);

/* After ACL SETUSER or LOAD (run by self): a client subscribed to a
 * channel or pattern its user's rules no longer allow is disconnected, as
 * Redis does (self once its reply is out). */
void pubsub_check_acl(client *self);

/* 1 if the command just run replied only with (un)subscribe
 * confirmations, which CLIENT REPLY OFF/SKIP do not drop (Redis sends
 * them as pushes); clears it. */
int pubsub_take_pushed(void);

/* Free everything (at exit). */
void pubsub_shutdown(void);

#endif
