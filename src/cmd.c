/* cmd: command table, lookup and dispatch (COMMAND itself is in cmd_command.c). */
#include "config.h"
#include "cmd.h"
#include "cmd_docs.h"
#include "acl.h"
#include "args.h"
#include "conn.h"
#include "multi.h"
#include "pubsub.h"
#include "pause.h"
#include "repl.h"
#include "slowlog.h"
#include "commit.h"
#include "db.h"
#include "glob.h"
#include "loading.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define NA CMD_NOAUTH
#define OOM CMD_DENYOOM
#define ADM CMD_ADMIN
#define NQ CMD_NOQUEUE
#define NM CMD_NOMULTI
/* The fields cmd_init fills, zero in the tables. */
#define RT 0, 0, NULL, 0, 0, 0, 0
#define KR CMD_KEY_READ
#define KW CMD_KEY_WRITE

/* Subcommands: each has its own arity, flags, keys and ACL categories, as
 * in Redis 7; the container's function runs them. */
static kvd_cmd client_subs[] = {
    {"client|list", cmd_client, -2, ADM, 0, 0, 0, "connection", "2.0.0", "O(1)", "Lists open connections.", "@admin @slow @dangerous @connection", 0, 0, NULL, RT},
    {"client|setname", cmd_client, 3, 0, 0, 0, 0, "connection", "2.0.0", "O(1)", "Sets the connection name.", "@slow @connection", 0, 0, NULL, RT},
    {"client|getname", cmd_client, 2, 0, 0, 0, 0, "connection", "2.0.0", "O(1)", "Returns the connection name.", "@slow @connection", 0, 0, NULL, RT},
    {"client|id", cmd_client, 2, 0, 0, 0, 0, "connection", "5.0.0", "O(1)", "Returns the unique client ID of the connection.", "@slow @connection", 0, 0, NULL, RT},
    {"client|info", cmd_client, 2, 0, 0, 0, 0, "connection", "6.2.0", "O(1)", "Returns information about the connection.", "@slow @connection", 0, 0, NULL, RT},
    {"client|setinfo", cmd_client, 4, 0, 0, 0, 0, "connection", "7.2.0", "O(1)", "Sets information about the client library.", "@slow @connection", 0, 0, NULL, RT},
    {"client|kill", cmd_client, -3, ADM, 0, 0, 0, "connection", "2.4.0", "O(N)", "Terminates open connections.", "@admin @slow @dangerous @connection", 0, 0, NULL, RT},
    {"client|reply", cmd_client, 3, 0, 0, 0, 0, "connection", "3.2.0", "O(1)", "Instructs the server whether to reply to commands.", "@slow @connection", 0, 0, NULL, RT},
    {"client|no-evict", cmd_client, 3, ADM, 0, 0, 0, "connection", "7.0.0", "O(1)", "Sets the client eviction mode of the connection.", "@admin @slow @dangerous @connection", 0, 0, NULL, RT},
    {"client|no-touch", cmd_client, 3, 0, 0, 0, 0, "connection", "7.2.0", "O(1)", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "@slow @connection", 0, 0, NULL, RT},
    {"client|getredir", cmd_client, 2, 0, 0, 0, 0, "connection", "6.0.0", "O(1)", "Returns the client ID to which the connection's tracking notifications are redirected.", "@slow @connection", 0, 0, NULL, RT},
    {"client|trackinginfo", cmd_client, 2, 0, 0, 0, 0, "connection", "6.2.0", "O(1)", "Returns information about server-assisted client-side caching for the connection.", "@slow @connection", 0, 0, NULL, RT},
    {"client|pause", cmd_client, -3, ADM, 0, 0, 0, "connection", "2.9.50", "O(1)", "Stop processing commands from clients for some time", "@admin @slow @dangerous @connection", 0, 0, NULL, RT},
    {"client|unpause", cmd_client, 2, ADM, 0, 0, 0, "connection", "6.2.0", "O(N) Where N is the number of paused clients", "Resume processing of clients that were paused", "@admin @slow @dangerous @connection", 0, 0, NULL, RT},
    {"client|unblock", cmd_client, -3, ADM, 0, 0, 0, "connection", "5.0.0", "O(log N)", "Unblocks a client blocked by a blocking command from a different connection.", "@admin @slow @dangerous @connection", 0, 0, NULL, RT},
    {"client|help", cmd_client, 2, 0, 0, 0, 0, "connection", "2.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow @connection", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd command_subs[] = {
    {"command|count", cmd_command, 2, 0, 0, 0, 0, "server", "2.8.13", "O(1)", "Returns a count of commands.", "@slow @connection", 0, 0, NULL, RT},
    {"command|info", cmd_command, -2, 0, 0, 0, 0, "server", "2.8.13", "O(1)", "Returns information about one, multiple or all commands.", "@slow @connection", 0, 0, NULL, RT},
    {"command|docs", cmd_command, -2, 0, 0, 0, 0, "server", "7.0.0", "O(1)", "Returns documentary information about one, multiple or all commands.", "@slow @connection", 0, 0, NULL, RT},
    {"command|list", cmd_command, -2, 0, 0, 0, 0, "server", "7.0.0", "O(N)", "Returns a list of command names.", "@slow @connection", 0, 0, NULL, RT},
    {"command|getkeys", cmd_command, -4, 0, 0, 0, 0, "server", "2.8.13", "O(N)", "Extracts the key names from an arbitrary command.", "@slow @connection", 0, 0, NULL, RT},
    {"command|getkeysandflags", cmd_command, -4, 0, 0, 0, 0, "server", "7.0.0", "O(N)", "Extracts the key names and access flags for an arbitrary command.", "@slow @connection", 0, 0, NULL, RT},
    {"command|help", cmd_command, 2, 0, 0, 0, 0, "server", "2.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow @connection", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd slowlog_subs[] = {
    {"slowlog|get", cmd_slowlog, -2, ADM, 0, 0, 0, "server", "2.2.12", "O(N)", "Returns the slow log's entries.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"slowlog|len", cmd_slowlog, 2, ADM, 0, 0, 0, "server", "2.2.12", "O(1)", "Returns the number of entries in the slow log.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"slowlog|reset", cmd_slowlog, 2, ADM, 0, 0, 0, "server", "2.2.12", "O(N)", "Clears all entries from the slow log.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"slowlog|help", cmd_slowlog, 2, 0, 0, 0, 0, "server", "6.2.0", "O(1)", "Show helpful text about the different subcommands.", "@slow", 0, 0, NULL, RT},
    {0},
};
/* SCRIPT: kvd has no scripting; KILL says so as Redis does when no script
 * runs (Sentinel sends it to a primary that answers -BUSY). */
static kvd_cmd script_subs[] = {
    {"script|kill", cmd_script, 2, 0, 0, 0, 0, "scripting", "2.6.0", "O(1)", "Terminates a server-side Lua script during execution.", "@slow @scripting", 0, 0, NULL, RT},
    {"script|help", cmd_script, 2, 0, 0, 0, 0, "scripting", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow @scripting", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd latency_subs[] = {
    {"latency|latest", cmd_latency, 2, ADM, 0, 0, 0, "server", "2.8.13", "O(1)", "Returns the latest latency samples for all events.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"latency|history", cmd_latency, 3, ADM, 0, 0, 0, "server", "2.8.13", "O(1)", "Returns timestamp-latency samples for an event.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"latency|reset", cmd_latency, -2, ADM, 0, 0, 0, "server", "2.8.13", "O(1)", "Resets the latency data for one or more events.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"latency|doctor", cmd_latency, 2, ADM, 0, 0, 0, "server", "2.8.13", "O(1)", "Returns a human-readable latency analysis report.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"latency|help", cmd_latency, 2, 0, 0, 0, 0, "server", "2.8.13", "O(1)", "Returns helpful text about the different subcommands.", "@slow", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd config_subs[] = {
    {"config|get", cmd_config, -3, ADM, 0, 0, 0, "server", "2.0.0", "O(1)", "Returns the effective values of configuration parameters.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"config|set", cmd_config, -4, ADM, 0, 0, 0, "server", "2.0.0", "O(1)", "Sets configuration parameters in-flight.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"config|resetstat", cmd_config, 2, ADM, 0, 0, 0, "server", "2.0.0", "O(1)", "Resets the server's statistics.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"config|rewrite", cmd_config, 2, ADM, 0, 0, 0, "server", "2.8.0", "O(1)", "Persists the effective configuration to file.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"config|help", cmd_config, 2, 0, 0, 0, 0, "server", "2.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd object_subs[] = {
    {"object|encoding", cmd_object, 3, R, 2, 2, 1, "generic", "2.0.0", "O(1)", "Returns the internal encoding of an object.", "@keyspace @read @slow", 0, 0, NULL, RT},
    {"object|freq", cmd_object, 3, R, 2, 2, 1, "generic", "4.0.0", "O(1)", "Returns the logarithmic access frequency counter of an object.", "@keyspace @read @slow", 0, 0, NULL, RT},
    {"object|idletime", cmd_object, 3, R, 2, 2, 1, "generic", "2.0.0", "O(1)", "Returns the time since the last access to an object.", "@keyspace @read @slow", 0, 0, NULL, RT},
    {"object|refcount", cmd_object, 3, R, 2, 2, 1, "generic", "2.0.0", "O(1)", "Returns the reference count of a value of a key.", "@keyspace @read @slow", 0, 0, NULL, RT},
    {"object|help", cmd_object, 2, 0, 0, 0, 0, "generic", "2.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@keyspace @slow", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd memory_subs[] = {
    {"memory|usage", cmd_memory, -3, R, 2, 2, 1, "server", "4.0.0", "O(1)", "Estimates the memory usage of a key.", "@read @slow", 0, 0, NULL, RT},
    {"memory|purge", cmd_memory, 2, 0, 0, 0, 0, "server", "4.0.0", "O(1)", "Asks the allocator to release memory.", "@slow", 0, 0, NULL, RT},
    {"memory|stats", cmd_memory, 2, 0, 0, 0, 0, "server", "4.0.0", "O(1)", "Returns details about memory usage.", "@slow", 0, 0, NULL, RT},
    {"memory|doctor", cmd_memory, 2, 0, 0, 0, 0, "server", "4.0.0", "O(1)", "Outputs a memory problems report.", "@slow", 0, 0, NULL, RT},
    {"memory|help", cmd_memory, 2, 0, 0, 0, 0, "server", "2.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow", 0, 0, NULL, RT},
    {0},
};
static kvd_cmd acl_subs[] = {
    {"acl|cat", cmd_acl, -2, 0, 0, 0, 0, "server", "6.0.0", "O(1)", "Lists the ACL categories, or the commands inside a category.", "@slow", 0, 0, NULL, RT},
    {"acl|deluser", cmd_acl, -3, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Deletes ACL users and disconnects their clients.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|dryrun", cmd_acl, -4, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Simulates running a command as a user, without running it.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|genpass", cmd_acl, -2, 0, 0, 0, 0, "server", "6.0.0", "O(1)", "Generates a pseudorandom password for ACL users.", "@slow", 0, 0, NULL, RT},
    {"acl|getuser", cmd_acl, 3, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Lists the ACL rules of a user.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|list", cmd_acl, 2, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Dumps the effective rules in ACL file format.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|load", cmd_acl, 2, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Reloads the rules from the ACL file.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|log", cmd_acl, -2, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Lists recent security events generated by denied commands and failed AUTH.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|save", cmd_acl, 2, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Saves the effective ACL rules in the ACL file.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|setuser", cmd_acl, -3, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Creates and modifies an ACL user and its rules.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|users", cmd_acl, 2, ADM, 0, 0, 0, "server", "6.0.0", "O(1)", "Lists all ACL users.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl|whoami", cmd_acl, 2, 0, 0, 0, 0, "server", "6.0.0", "O(1)", "Returns the authenticated username of the current connection.", "@slow", 0, 0, NULL, RT},
    {"acl|help", cmd_acl, 2, 0, 0, 0, 0, "server", "6.0.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow", 0, 0, NULL, RT},
    {0},
};

static kvd_cmd pubsub_subs[] = {
    {"pubsub|channels", cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "2.8.0", "O(N)", "Returns the active channels.", "@pubsub @slow", 0, 0, NULL, RT},
    {"pubsub|numpat", cmd_pubsub, 2, 0, 0, 0, 0, "pubsub", "2.8.0", "O(1)", "Returns a count of unique pattern subscriptions.", "@pubsub @slow", 0, 0, NULL, RT},
    {"pubsub|numsub", cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "2.8.0", "O(N)", "Returns a count of subscribers to channels.", "@pubsub @slow", 0, 0, NULL, RT},
    {"pubsub|shardchannels", cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "7.0.0", "O(N)", "Returns the active shard channels.", "@pubsub @slow", 0, 0, NULL, RT},
    {"pubsub|shardnumsub", cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "7.0.0", "O(N)", "Returns the count of subscribers of shard channels.", "@pubsub @slow", 0, 0, NULL, RT},
    {"pubsub|help", cmd_pubsub, 2, 0, 0, 0, 0, "pubsub", "6.2.0", "O(1)", "Returns helpful text about the different subcommands.", "@slow", 0, 0, NULL, RT},
    {0},
};

static kvd_cmd table[] = {
    /* pub/sub */
    {"subscribe", cmd_subscribe, -2, CMD_CHANNELS | CMD_PUBSUB, 0, 0, 0, "pubsub", "2.0.0", "O(N)", "Listens for messages published to channels.", "@pubsub @slow", 0, 0, NULL, RT},
    {"psubscribe", cmd_psubscribe, -2, CMD_PATTERNS | CMD_PUBSUB, 0, 0, 0, "pubsub", "2.0.0", "O(N)", "Listens for messages published to channels that match one or more patterns.", "@pubsub @slow", 0, 0, NULL, RT},
    {"unsubscribe", cmd_unsubscribe, -1, CMD_PUBSUB, 0, 0, 0, "pubsub", "2.0.0", "O(N)", "Stops listening to messages posted to channels.", "@pubsub @slow", 0, 0, NULL, RT},
    {"punsubscribe", cmd_punsubscribe, -1, CMD_PUBSUB, 0, 0, 0, "pubsub", "2.0.0", "O(N+M)", "Stops listening to messages published to channels that match one or more patterns.", "@pubsub @slow", 0, 0, NULL, RT},
    {"publish", cmd_publish, 3, F | CMD_CHANNEL | CMD_MAY_REPLICATE, 0, 0, 0, "pubsub", "2.0.0", "O(N+M)", "Posts a message to a channel.", "@pubsub @fast", 0, 0, NULL, RT},
    {"pubsub", cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "2.8.0", "O(1)", "A container for Pub/Sub commands.", "@slow", 0, 0, pubsub_subs, RT},
    /* connection and server */
    {"ping", cmd_ping, -1, F | CMD_PUBSUB, 0, 0, 0, "connection", "1.0.0", "O(1)", "Returns the server's liveliness response.", "@fast @connection", 0, 0, NULL, RT},
    {"echo", cmd_echo, 2, F, 0, 0, 0, "connection", "1.0.0", "O(1)", "Returns the given string.", "@fast @connection", 0, 0, NULL, RT},
    {"reset", cmd_reset, 1, F | NA | NQ | CMD_PUBSUB, 0, 0, 0, "connection", "6.2.0", "O(1)", "Resets the connection.", "@fast @connection", 0, 0, NULL, RT},
    {"quit", cmd_quit, -1, F | NA | NQ | CMD_PUBSUB, 0, 0, 0, "connection", "1.0.0", "O(1)", "Closes the connection.", "@fast @connection", 0, 0, NULL, RT},
    {"role", cmd_role, 1, F, 0, 0, 0, "server", "2.8.12", "O(1)", "Returns the replication role.", "@admin @fast @dangerous", 0, 0, NULL, RT},
    {"replicaof", cmd_replicaof, 3, ADM, 0, 0, 0, "server", "5.0.0", "O(1)", "Configures a server as replica of another, or promotes it to a master.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"slaveof", cmd_replicaof, 3, ADM, 0, 0, 0, "server", "1.0.0", "O(1)", "Sets a Redis server as a replica of another, or promotes it to being a master.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"replconf", cmd_replconf, -1, ADM, 0, 0, 0, "server", "3.0.0", "O(1)", "An internal command for configuring the replication stream.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"syncwal", cmd_syncwal, 3, ADM | NM, 0, 0, 0, "server", "1.0.0", "O(1)", "kvd's own: turns the connection into a replica link that streams the WAL from a sequence number.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"wait", cmd_wait, 3, 0, 0, 0, 0, "generic", "3.0.0", "O(1)", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "@slow @connection", 0, 0, NULL, RT},
    {"select", cmd_select, 2, F, 0, 0, 0, "connection", "1.0.0", "O(1)", "Changes the selected database.", "@fast @connection", 0, 0, NULL, RT},
    {"auth", cmd_auth, -2, F | NA, 0, 0, 0, "connection", "1.0.0", "O(N)", "Authenticates the connection.", "@fast @connection", 0, 0, NULL, RT},
    {"hello", cmd_hello, -1, F | NA, 0, 0, 0, "connection", "6.0.0", "O(1)", "Handshakes with the server (RESP2 only).", "@fast @connection", 0, 0, NULL, RT},
    {"client", cmd_client, -2, 0, 0, 0, 0, "connection", "2.4.0", "O(N)", "Connection management: SETNAME, GETNAME, ID, LIST, INFO, SETINFO.", "@slow", 0, 0, client_subs, RT},
    {"command", cmd_command, -1, 0, 0, 0, 0, "server", "2.8.13", "O(N)", "Returns details about commands: COUNT, INFO, DOCS.", "@slow @connection", 0, 0, command_subs, RT},
    {"config", cmd_config, -2, 0, 0, 0, 0, "server", "2.0.0", "O(N)", "Reads and changes configuration: GET, SET, RESETSTAT.", "@slow", 0, 0, config_subs, RT},
    {"info", cmd_info, -1, 0, 0, 0, 0, "server", "1.0.0", "O(1)", "Returns information and statistics about the server.", "@slow @dangerous", 0, 0, NULL, RT},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server", "1.0.0", "O(1)", "Returns the number of keys.", "@keyspace @read @fast", 0, 0, NULL, RT},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "server", "1.0.0", "O(N)", "Remove all keys from the current database.", "@keyspace @write @slow @dangerous", 0, 0, NULL, RT},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "1.0.0", "O(N)", "Remove all keys from all databases.", "@keyspace @write @slow @dangerous", 0, 0, NULL, RT},
    {"time", cmd_time, 1, F, 0, 0, 0, "server", "2.6.0", "O(1)", "Returns the server time.", "@fast", 0, 0, NULL, RT},
    {"shutdown", cmd_shutdown, -1, ADM | NM, 0, 0, 0, "server", "1.0.0", "O(N)", "Flushes and fsyncs the WAL, then shuts the server down.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"lastsave", cmd_lastsave, 1, F, 0, 0, 0, "server", "1.0.0", "O(1)", "Returns the unix time of the last successful WAL fsync.", "@admin @fast @dangerous", 0, 0, NULL, RT},
    {"bgrewriteaof", cmd_bgrewriteaof, 1, ADM, 0, 0, 0, "server", "1.0.0", "O(1)", "Compacts the WAL in the background.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"acl", cmd_acl, -2, 0, 0, 0, 0, "server", "6.0.0", "O(N)", "Users and their permissions: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, LOG, SAVE, LOAD, DRYRUN.", "@slow", 0, 0, acl_subs, RT},
    {"script", cmd_script, -2, 0, 0, 0, 0, "scripting", "2.6.0", "O(1)", "Script management: KILL only (kvd has no scripting).", "@slow", 0, 0, script_subs, RT},
    {"slowlog", cmd_slowlog, -2, 0, 0, 0, 0, "server", "2.2.12", "O(N)", "The slow log: GET, LEN, RESET.", "@slow", 0, 0, slowlog_subs, RT},
    {"latency", cmd_latency, -2, 0, 0, 0, 0, "server", "2.8.13", "O(1)", "The latency monitor: LATEST, HISTORY, RESET, DOCTOR.", "@slow", 0, 0, latency_subs, RT},
    {"monitor", cmd_monitor, 1, ADM, 0, 0, 0, "server", "1.0.0", "O(1)", "Listens for all requests received by the server in real-time.", "@admin @slow @dangerous", 0, 0, NULL, RT},
    {"compact", cmd_bgrewriteaof, 1, ADM, 0, 0, 0, "server", "0.1.0", "O(1)", "Compacts the WAL in the background (kvd's name for BGREWRITEAOF).", "@admin @slow @dangerous", 0, 0, NULL, RT},
    /* transactions */
    {"multi", cmd_multi, 1, F | NQ, 0, 0, 0, "transactions", "1.2.0", "O(1)", "Starts a transaction.", "@fast @transaction", 0, 0, NULL, RT},
    {"exec", cmd_exec, 1, NQ, 0, 0, 0, "transactions", "1.2.0", "O(N)", "Executes all commands in a transaction.", "@slow @transaction", 0, 0, NULL, RT},
    {"discard", cmd_discard, 1, F | NQ, 0, 0, 0, "transactions", "2.0.0", "O(N)", "Discards a transaction.", "@fast @transaction", 0, 0, NULL, RT},
    {"watch", cmd_watch, -2, F | NQ, 1, -1, 1, "transactions", "2.2.0", "O(1) for every key.", "Monitors changes to keys to determine the execution of a transaction.", "@fast @transaction", 0, 0, NULL, RT},
    {"unwatch", cmd_unwatch, 1, F, 0, 0, 0, "transactions", "2.2.0", "O(N)", "Forgets about watched keys of a transaction.", "@fast @transaction", 0, 0, NULL, RT},
    /* strings */
    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Returns the string value of a key.", "@read @string @fast", KR, KR, NULL, RT},
    {"set", cmd_set, -3, W | OOM, 1, 1, 1, "string", "1.0.0", "O(1)", "Sets the string value of a key, with optional expiry and conditions.", "@write @string @slow", KW, KW, NULL, RT},
    {"setnx", cmd_setnx, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Sets a key only if it does not exist.", "@write @string @fast", KW, KW, NULL, RT},
    {"setex", cmd_setex, 4, W | OOM, 1, 1, 1, "string", "2.0.0", "O(1)", "Sets a key with an expiry in seconds.", "@write @string @slow", KW, KW, NULL, RT},
    {"psetex", cmd_psetex, 4, W | OOM, 1, 1, 1, "string", "2.6.0", "O(1)", "Sets a key with an expiry in milliseconds.", "@write @string @slow", KW, KW, NULL, RT},
    {"getset", cmd_getset, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Sets a key and returns its previous value.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string", "6.2.0", "O(1)", "Returns a key's value and deletes it.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string", "6.2.0", "O(1)", "Returns a key's value and changes its expiry.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string", "1.0.0", "O(N)", "Returns the values of several keys.", "@read @string @fast", KR, KR, NULL, RT},
    {"mset", cmd_mset, -3, W | OOM, 1, -1, 2, "string", "1.0.1", "O(N)", "Sets several keys at once.", "@write @string @slow", KW, KW, NULL, RT},
    {"msetnx", cmd_msetnx, -3, W | OOM, 1, -1, 2, "string", "1.0.1", "O(N)", "Sets several keys only if none of them exists.", "@write @string @slow", KW, KW, NULL, RT},
    {"incr", cmd_incr, 2, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Increments an integer value by one.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"decr", cmd_decr, 2, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Decrements an integer value by one.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"incrby", cmd_incrby, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Increments an integer value by a number.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"decrby", cmd_decrby, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Decrements an integer value by a number.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | OOM | F, 1, 1, 1, "string", "2.6.0", "O(1)", "Increments a floating point value by a number.", "@write @string @fast", KR | KW, KR | KW, NULL, RT},
    {"append", cmd_append, 3, W | OOM | F, 1, 1, 1, "string", "2.0.0", "O(1)", "Appends to a string value.", "@write @string @fast", KW, KW, NULL, RT},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "2.2.0", "O(1)", "Returns the length of a string value.", "@read @string @fast", 0, 0, NULL, RT},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string", "2.4.0", "O(N)", "Returns a substring of a string value.", "@read @string @slow", KR, KR, NULL, RT},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string", "1.0.0", "O(N)", "Returns a substring of a string value (old name of GETRANGE).", "@read @string @slow", KR, KR, NULL, RT},
    {"setrange", cmd_setrange, 4, W | OOM, 1, 1, 1, "string", "2.2.0", "O(1)", "Overwrites part of a string value at an offset.", "@write @string @slow", KW, KW, NULL, RT},
    /* bitmaps */
    {"setbit", cmd_setbit, 4, W | OOM, 1, 1, 1, "bitmap", "2.2.0", "O(1)", "Sets or clears the bit at offset of the string value.", "@write @bitmap @slow", KR | KW, KR | KW, NULL, RT},
    {"getbit", cmd_getbit, 3, R | F, 1, 1, 1, "bitmap", "2.2.0", "O(1)", "Returns a bit value by offset.", "@read @bitmap @fast", KR, KR, NULL, RT},
    {"bitcount", cmd_bitcount, -2, R, 1, 1, 1, "bitmap", "2.6.0", "O(N)", "Counts the number of set bits (population counting) in a string.", "@read @bitmap @slow", KR, KR, NULL, RT},
    {"bitpos", cmd_bitpos, -3, R, 1, 1, 1, "bitmap", "2.8.7", "O(N)", "Finds the first set (1) or clear (0) bit in a string.", "@read @bitmap @slow", KR, KR, NULL, RT},
    {"bitop", cmd_bitop, -4, W | OOM, 2, -1, 1, "bitmap", "2.6.0", "O(N)", "Performs bitwise operations on multiple strings, and stores the result.", "@write @bitmap @slow", KW, KR, NULL, RT},
    {"bitfield", cmd_bitfield, -2, W | OOM, 1, 1, 1, "bitmap", "3.2.0", "O(1) for each subcommand specified", "Performs arbitrary bitfield integer operations on strings.", "@write @bitmap @slow", KR | KW, KR | KW, NULL, RT},
    {"bitfield_ro", cmd_bitfield_ro, -2, R | F, 1, 1, 1, "bitmap", "6.0.0", "O(1) for each subcommand specified", "Performs arbitrary read-only bitfield integer operations on strings.", "@read @bitmap @fast", KR, KR, NULL, RT},
    {"lcs", cmd_lcs, -3, R, 1, 2, 1, "string", "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "Finds the longest common substring.", "@read @string @slow", KR, KR, NULL, RT},
    /* keys */
    {"del", cmd_del, -2, W, 1, -1, 1, "generic", "1.0.0", "O(N)", "Deletes keys.", "@keyspace @write @slow", KW, KW, NULL, RT},
    {"unlink", cmd_del, -2, W | F, 1, -1, 1, "generic", "4.0.0", "O(N)", "Deletes keys.", "@keyspace @write @fast", KW, KW, NULL, RT},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic", "1.0.0", "O(N)", "Counts how many of the given keys exist.", "@keyspace @read @fast", 0, 0, NULL, RT},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Returns the type of a key.", "@keyspace @read @fast", 0, 0, NULL, RT},
    {"object", cmd_object, -2, 0, 0, 0, 0, "generic", "2.2.3", "O(1)", "Inspects a key: ENCODING, IDLETIME, REFCOUNT, FREQ.", "@slow", 0, 0, object_subs, RT},
    {"memory", cmd_memory, -2, 0, 0, 0, 0, "server", "4.0.0", "O(1)", "Memory use: USAGE of a key, PURGE.", "@slow", 0, 0, memory_subs, RT},
    {"touch", cmd_touch, -2, R | F, 1, -1, 1, "generic", "3.2.1", "O(N)", "Counts how many of the given keys exist.", "@keyspace @read @fast", 0, 0, NULL, RT},
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Sets a key's time to live in seconds.", "@keyspace @write @fast", KW, KW, NULL, RT},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic", "2.6.0", "O(1)", "Sets a key's time to live in milliseconds.", "@keyspace @write @fast", KW, KW, NULL, RT},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic", "1.2.0", "O(1)", "Sets a key's expiry as a unix time in seconds.", "@keyspace @write @fast", KW, KW, NULL, RT},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic", "2.6.0", "O(1)", "Sets a key's expiry as a unix time in milliseconds.", "@keyspace @write @fast", KW, KW, NULL, RT},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Returns a key's time to live in seconds.", "@keyspace @read @fast", KR, KR, NULL, RT},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic", "2.6.0", "O(1)", "Returns a key's time to live in milliseconds.", "@keyspace @read @fast", KR, KR, NULL, RT},
    {"expiretime", cmd_expiretime, 2, R | F, 1, 1, 1, "generic", "7.0.0", "O(1)", "Returns a key's expiry as a unix time in seconds.", "@keyspace @read @fast", KR, KR, NULL, RT},
    {"pexpiretime", cmd_pexpiretime, 2, R | F, 1, 1, 1, "generic", "7.0.0", "O(1)", "Returns a key's expiry as a unix time in milliseconds.", "@keyspace @read @fast", KR, KR, NULL, RT},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic", "2.2.0", "O(1)", "Removes a key's expiry.", "@keyspace @write @fast", KW, KW, NULL, RT},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "1.0.0", "O(N)", "Returns every key that matches a pattern.", "@keyspace @read @slow @dangerous", 0, 0, NULL, RT},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic", "2.8.0", "O(1) per call", "Iterates over the keys.", "@keyspace @read @slow", 0, 0, NULL, RT},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic", "1.0.0", "O(1)", "Returns a random key.", "@keyspace @read @slow", 0, 0, NULL, RT},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "1.0.0", "O(1)", "Renames a key, replacing the destination.", "@keyspace @write @slow", KR | KW, KW, NULL, RT},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic", "1.0.0", "O(1)", "Renames a key only if the new name does not exist.", "@keyspace @write @fast", KR | KW, KW, NULL, RT},
    {"move", cmd_move, 3, W | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Moves a key to another database.", "@keyspace @write @fast", KR | KW, 0, NULL, RT},
    {"swapdb", cmd_swapdb, 3, W | F, 0, 0, 0, "server", "4.0.0", "O(N)", "Swaps two Redis databases.", "@keyspace @write @fast @dangerous", 0, 0, NULL, RT},
    {"copy", cmd_copy, -3, W | OOM, 1, 2, 1, "generic", "6.2.0", "O(N)", "Copies a key's value and expiry to another key.", "@keyspace @write @slow", KR, KW, NULL, RT},
};

#define NSLOTS 256
static kvd_cmd *slots[NSLOTS];

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

static int next_id;

static void init_one(kvd_cmd *cmd, kvd_cmd *parent)
{
    cmd->id = next_id++;
    cmd->parent = parent;
    /* Allowed while the WAL replays at startup: what Redis 7 flags
     * "loading", except WATCH, which would look at a key of the half-loaded
     * table (it gets -LOADING). */
    const cmd_doc *doc = cmd_docs_find(cmd->name);
    if (doc && (doc->flags & CD_LOADING) && cmd->fn != cmd_watch)
        cmd->flags |= CMD_LOADING;
    cmd->catmask = 0;
    const char *p = cmd->categories;
    while (p && *p) {
        while (*p == ' ' || *p == '@')
            p++;
        size_t n = strcspn(p, " ");
        int ci = acl_category_index(p, n);
        if (n && ci < 0) {
            fprintf(stderr, "kvd: command table: unknown category '%.*s' for %s\n", (int)n, p, cmd->name);
            abort();
        }
        if (n)
            cmd->catmask |= 1u << ci;
        p += n;
    }
}

void cmd_init(void)
{
    memset(slots, 0, sizeof slots);
    next_id = 0;
    for (size_t i = 0; i < KVD_ARRAY_SIZE(table); i++) {
        uint32_t h = name_hash(table[i].name, strlen(table[i].name)) & (NSLOTS - 1);
        while (slots[h])
            h = (h + 1) & (NSLOTS - 1);
        slots[h] = &table[i];
        init_one(&table[i], NULL);
        for (kvd_cmd *s = table[i].subs; s && s->name; s++)
            init_one(s, &table[i]);
    }
    if (next_id > CMD_MAX_IDS)
        abort(); /* raise CMD_MAX_IDS */
}

kvd_cmd *cmd_lookup(const char *name, size_t len)
{
    if (len > 32)
        return NULL;
    uint32_t h = name_hash(name, len) & (NSLOTS - 1);
    while (slots[h]) {
        kvd_cmd *c = slots[h];
        if (strlen(c->name) == len && strncasecmp(c->name, name, len) == 0)
            return c;
        h = (h + 1) & (NSLOTS - 1);
    }
    return NULL;
}

kvd_cmd *cmd_lookup_sub(const kvd_cmd *cmd, const char *name, size_t len)
{
    size_t cl = strlen(cmd->name);
    for (kvd_cmd *s = cmd->subs; s && s->name; s++)
        if (strlen(s->name) == cl + 1 + len && strncasecmp(s->name + cl + 1, name, len) == 0)
            return s;
    return NULL;
}

kvd_cmd *cmd_lookup_full(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (!bar)
        return cmd_lookup(name, len);
    kvd_cmd *cmd = cmd_lookup(name, (size_t)(bar - name));
    if (!cmd || !cmd->subs)
        return NULL;
    return cmd_lookup_sub(cmd, bar + 1, len - (size_t)(bar - name) - 1);
}

void cmd_each(void (*fn)(kvd_cmd *cmd, void *ctx), void *ctx)
{
    for (size_t i = 0; i < KVD_ARRAY_SIZE(table); i++) {
        fn(&table[i], ctx);
        for (kvd_cmd *s = table[i].subs; s && s->name; s++)
            fn(s, ctx);
    }
}

int cmd_key_needs(const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen, int i)
{
    int needs = i == cmd->firstkey ? cmd->kfirst : cmd->krest;
    /* SET ... GET returns the old value: reading it too (Redis's variable flags). */
    if (cmd->fn == cmd_set)
        for (int j = 3; j < argc; j++)
            if (arg_is(argv[j], argvlen[j], "get"))
                needs |= CMD_KEY_READ;
    return needs;
}

kvd_cmd *cmd_table(size_t *n)
{
    *n = KVD_ARRAY_SIZE(table);
    return table;
}

static void reset_one(kvd_cmd *cmd, void *ctx)
{
    KVD_UNUSED(ctx);
    cmd->calls = cmd->usec = cmd->failed = cmd->rejected = 0;
}

/* Errors replied, by their first word ("ERR", "WRONGPASS"), as Redis
 * counts them: at most ERRORSTATS_MAX kinds, the rest not counted. */
#define ERRORSTATS_MAX 128
static struct {
    char prefix[32];
    uint64_t count;
} errorstats[ERRORSTATS_MAX];
static int nerrorstats;

static void count_error(const char *msg)
{
    size_t n = strcspn(msg, " \r\n");
    if (n >= sizeof errorstats[0].prefix)
        n = sizeof errorstats[0].prefix - 1;
    for (int i = 0; i < nerrorstats; i++) {
        if (strlen(errorstats[i].prefix) == n && memcmp(errorstats[i].prefix, msg, n) == 0) {
            errorstats[i].count++;
            return;
        }
    }
    if (nerrorstats == ERRORSTATS_MAX)
        return;
    memcpy(errorstats[nerrorstats].prefix, msg, n);
    errorstats[nerrorstats].prefix[n] = '\0';
    errorstats[nerrorstats++].count = 1;
}

void cmd_errorstats(buf_t *out)
{
    for (int i = 0; i < nerrorstats; i++)
        buf_appendf(out, "errorstat_%s:count=%llu\r\n", errorstats[i].prefix,
                    (unsigned long long)errorstats[i].count);
}

void cmd_reset_stats(void)
{
    cmd_each(reset_one, NULL);
    nerrorstats = 0;
}

int arg_is(const char *arg, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

int arg_ll(client *c, const char *arg, size_t len, long long *out)
{
    if (kvd_str_to_ll(arg, len, out) < 0) {
        reply_error(c, ERR_NOT_INT);
        return -1;
    }
    return 0;
}

int arg_db(client *c, const char *arg, size_t len, const char *notint, int as_long, uint32_t *out)
{
    long long v;
    if (kvd_str_to_ll(arg, len, &v) < 0) {
        reply_error(c, notint ? notint : ERR_NOT_INT);
        return -1;
    }
    if (!as_long && (v < INT32_MIN || v > INT32_MAX)) {
        reply_error(c, notint ? notint : "ERR value is out of range, value must between -2147483648 and 2147483647");
        return -1;
    }
    if (v < 0 || v >= (long long)srv.ks.n) {
        reply_error(c, "ERR DB index is out of range");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

void reply_error(client *c, const char *msg)
{
    srv.stats.errors++;
    count_error(msg);
    resp_add_error(&c->out, msg);
}

void reply_errorf(client *c, const char *fmt, ...)
{
    va_list ap;
    srv.stats.errors++;
    va_start(ap, fmt);
    char word[32];
    vsnprintf(word, sizeof word, fmt, ap);
    va_end(ap);
    count_error(word);
    va_start(ap, fmt);
    resp_add_verrorf(&c->out, fmt, ap);
    va_end(ap);
}

void reply_verbatim(client *c, const char *p, size_t n)
{
    if (c->resp != 3) {
        reply_bulk(c, p, n);
        return;
    }
    resp_add_header(&c->out, '=', (long long)n + 4);
    buf_append(&c->out, "txt:", 4);
    buf_append(&c->out, p, n);
    buf_append(&c->out, "\r\n", 2);
}

void reply_double(client *c, double d)
{
    char s[64];
    int n = snprintf(s, sizeof s, "%.17g", d);
    if (c->resp == 3) {
        buf_putc(&c->out, ',');
        buf_append(&c->out, s, (size_t)n);
        buf_append(&c->out, "\r\n", 2);
    } else {
        reply_bulk(c, s, (size_t)n);
    }
}

void reply_lines(client *c, const char *const *lines, size_t n)
{
    reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

void reply_subcommand_error(client *c, const char *cmd, const char *sub, size_t sublen,
                            const char *const *known)
{
    for (int i = 0; known[i]; i++) {
        if (arg_is(sub, sublen, known[i])) {
            reply_errorf(c, "ERR wrong number of arguments for '%s|%s' command", cmd, known[i]);
            return;
        }
    }
    char upper[16];
    size_t n = strlen(cmd) < sizeof upper - 1 ? strlen(cmd) : sizeof upper - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)cmd[i]);
    upper[n] = '\0';
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)(sublen > 128 ? 128 : sublen), sub, upper);
}

/* An argument in an error message, as Redis prints it with "%.*s": at
 * most max bytes, and only up to a NUL. */
static void append_quoted(buf_t *b, const char *s, size_t n, size_t max)
{
    if (n > max)
        n = max;
    buf_putc(b, '\'');
    buf_append(b, s, strnlen(s, n));
    buf_puts(b, "' ");
}

static void unknown_command(client *c, int argc, char **argv, size_t *argvlen)
{
    buf_t msg = BUF_INIT(&srv.pool);
    buf_puts(&msg, "ERR unknown command '");
    size_t n = argvlen[0] > 128 ? 128 : argvlen[0];
    buf_append(&msg, argv[0], strnlen(argv[0], n));
    buf_puts(&msg, "', with args beginning with: ");
    size_t args_start = msg.len;
    for (int i = 1; i < argc && msg.len - args_start < 128; i++)
        append_quoted(&msg, argv[i], argvlen[i], 128 - (msg.len - args_start));
    buf_putc(&msg, '\0');
    reply_error(c, msg.data);
    buf_release(&msg);
}

/* ---- MONITOR ---- */

static client **monitors;
static int nmonitors, capmonitors;

void cmd_monitor_forget(client *c)
{
    for (int i = 0; i < nmonitors; i++) {
        if (monitors[i] == c) {
            monitors[i] = monitors[--nmonitors];
            return;
        }
    }
}

void cmd_monitor(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    /* Inside EXEC a reply per command is due: no stream (as Redis). */
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    /* A second MONITOR gets no reply at all, as in Redis. */
    if (c->flags & CLIENT_MONITOR)
        return;
    if (nmonitors == capmonitors) {
        capmonitors = capmonitors ? capmonitors * 2 : 4;
        monitors = xrealloc(monitors, sizeof(*monitors) * (size_t)capmonitors);
    }
    monitors[nmonitors++] = c;
    c->flags |= CLIENT_MONITOR;
    reply_ok(c);
}

int cmd_arg_redacted(int argc, char **argv, size_t *argvlen, int i)
{
    if (arg_is(argv[0], argvlen[0], "auth"))
        return i > 0;
    if (arg_is(argv[0], argvlen[0], "hello"))
        for (int j = 2; j < i && j < argc; j++)
            if (arg_is(argv[j], argvlen[j], "auth") && i <= j + 2)
                return 1;
    if (arg_is(argv[0], argvlen[0], "config") && argc > 1 && arg_is(argv[1], argvlen[1], "set") && i >= 3 &&
        i % 2 == 1)
        return arg_is(argv[i - 1], argvlen[i - 1], "requirepass");
    if (arg_is(argv[0], argvlen[0], "acl") && argc > 1 && arg_is(argv[1], argvlen[1], "setuser"))
        return i >= 2; /* as Redis: the user and every rule */
    return 0;
}

/* c ran cmd: every monitor gets a line, as Redis writes it:
 * +<unix time with µs> [<db> <addr>] "arg" "arg"... Admin commands are not
 * shown (their arguments may be secrets), nor refused ones. */
void cmd_monitor_feed(client *c, const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen)
{
    if (!nmonitors || (cmd->flags & CMD_ADMIN))
        return;
    buf_t line = BUF_INIT(&srv.pool);
    int64_t us = kvd_now_us();
    buf_appendf(&line, "+%lld.%06lld [%u %s]", (long long)(us / 1000000), (long long)(us % 1000000), c->db,
                (c->flags & CLIENT_UNIX) ? "unix" : c->addr);
    for (int i = 0; i < argc; i++) {
        buf_putc(&line, ' ');
        if (cmd_arg_redacted(argc, argv, argvlen, i)) {
            buf_puts(&line, "\"(redacted)\"");
        } else {
            buf_reserve(&line, 4 * argvlen[i] + 2);
            line.len += args_quote(line.data + line.len, argv[i], argvlen[i]);
        }
    }
    buf_puts(&line, "\r\n");
    for (int i = 0; i < nmonitors; i++) {
        client *m = monitors[i];
        if (m->flags & (CLIENT_CLOSING | CLIENT_CLOSE_AFTER_REPLY | CLIENT_LINGER))
            continue;
        buf_append(&m->out, line.data, line.len);
        conn_send_later(m);
    }
    buf_release(&line);
}

/* What EXEC's commands replied in errors (they are not EXEC's own). */
uint64_t cmd_exec_inner_errors;

/* Refuse cmd before it runs, with the error fmt says: counted as a
 * rejected call, and inside MULTI the EXEC will abort, as Redis does. An
 * EXEC refused inside MULTI answers "EXECABORT Transaction discarded
 * because of: <the error>" instead, and the transaction ends. */
static void refuse(client *c, kvd_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(client *c, kvd_cmd *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cmd->rejected++;
    if (cmd->fn == cmd_exec && (c->flags & CLIENT_MULTI)) {
        reply_errorf(c, "EXECABORT Transaction discarded because of: %s", msg);
        multi_discard(c);
        return;
    }
    reply_error(c, msg);
    multi_flag_error(c);
}

static void dispatch(client *c, int argc, char **argv, size_t *argvlen, size_t start)
{
    kvd_cmd *cmd = cmd_lookup(argv[0], argvlen[0]);
    if (!cmd) {
        c->lastcmd = "unknown";
        unknown_command(c, argc, argv, argvlen);
        multi_flag_error(c);
        return;
    }
    c->lastcmd = cmd->name;
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        refuse(c, cmd, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    if (cmd->subs && argc >= 2) {
        kvd_cmd *sub = cmd_lookup_sub(cmd, argv[1], argvlen[1]);
        if (!sub) {
            static const char *const none[] = {NULL};
            reply_subcommand_error(c, cmd->name, argv[1], argvlen[1], none);
            multi_flag_error(c); /* as Redis: no commandstats line for it */
            return;
        }
        cmd = sub;
        c->lastcmd = cmd->name;
        if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
            refuse(c, cmd, "ERR wrong number of arguments for '%s' command", cmd->name);
            return;
        }
    }
    if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NOMULTI)) {
        refuse(c, cmd, "ERR Command not allowed inside a transaction");
        return;
    }
    if (!(c->flags & CLIENT_AUTHENTICATED) && !(cmd->flags & CMD_NOAUTH)) {
        refuse(c, cmd, "NOAUTH Authentication required.");
        return;
    }
    int keypos = 0, denied = acl_check(c->user, cmd, argc, argv, argvlen, &keypos);
    if (denied) {
        if (denied == ACL_DENIED_CMD) {
            cmd_acl_log(c, denied, cmd->name, strlen(cmd->name));
            refuse(c, cmd, "NOPERM this user has no permissions to run the '%s' command", cmd->name);
        } else if (denied == ACL_DENIED_CHANNEL) {
            cmd_acl_log(c, denied, argv[keypos], argvlen[keypos]);
            refuse(c, cmd, "NOPERM this user has no permissions to access one of the channels used as arguments");
        } else {
            cmd_acl_log(c, denied, argv[keypos], argvlen[keypos]);
            refuse(c, cmd, "NOPERM this user has no permissions to access one of the keys used as arguments");
        }
        return;
    }
    /* A RESP2 connection with subscriptions carries messages: only
     * (un)subscribing, PING, QUIT and RESET, as Redis (before
     * the loading check, as Redis). */
    if (c->resp != 3 && pubsub_count(c) && !(cmd->flags & CMD_PUBSUB)) {
        refuse(c, cmd,
               "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
               "in this context",
               cmd->name);
        return;
    }
    /* While the WAL replays (loading.h) only what may run without the
     * keyspace and the WAL runs, and none of it writes: no eviction, no
     * commit holds. Checked after the ACL, as Redis does. */
    int loading = srv.loading.active;
    if (loading && !(cmd->flags & CMD_LOADING)) {
        refuse(c, cmd, "LOADING Redis is loading the dataset in memory");
        return;
    }
    const char *no = repl_refuse(c, (cmd->flags & CMD_WRITE) != 0, (cmd->flags & (CMD_WRITE | CMD_READONLY)) != 0);
    if (no) {
        refuse(c, cmd, "%s", no);
        return;
    }
    if ((cmd->flags & CMD_WRITE) && !db_writable()) {
        refuse(c, cmd, "MISCONF Errors writing to the WAL file: %s", strerror(-wal_error(srv.wal)));
        return;
    }
    /* Over maxmemory: commands that may grow memory are refused, and
     * inside MULTI every command but EXEC, DISCARD, QUIT and RESET (a
     * queue can grow without end), as Redis does. */
    int oom_sensitive = (cmd->flags & CMD_DENYOOM) || ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_NOQUEUE));
    /* Eviction runs before every command when there is a limit, as in
     * Redis; only what may grow memory is refused when it cannot free enough. */
    if (srv.cfg.maxmemory && !loading && db_make_room(1000) < 0 && oom_sensitive) {
        srv.stats.oom_rejects++;
        refuse(c, cmd, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    /* CLIENT PAUSE: held here, after every check (as Redis), before it is
     * queued or run; it comes back through cmd_dispatch when the pause ends. */
    if (pause_hold(c, cmd, argc, argv, argvlen))
        return;
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_NOQUEUE)) {
        multi_queue(c, cmd, argc, argv, argvlen);
        return;
    }
    uint64_t errors0 = srv.stats.errors;
    uint64_t t0 = kvd_mono_ns();
    if (!loading)
        commit_begin();
    srv.no_touch = (c->flags & CLIENT_NO_TOUCH) && cmd->fn != cmd_touch;
    cmd_exec_inner_errors = 0;
    cmd->fn(c, argc, argv, argvlen);
    srv.no_touch = 0;
    /* The reply waits for what the command changed and what it saw. */
    if (!loading)
        commit_end(c, start);
    uint64_t usec = (kvd_mono_ns() - t0) / 1000;
    cmd->usec += usec;
    cmd->calls++;
    srv.stats.commands++;
    /* EXEC's own failures only, not those of the commands it ran. */
    if (srv.stats.errors - errors0 > (cmd->fn == cmd_exec ? cmd_exec_inner_errors : 0))
        cmd->failed++;
    latency_sample(cmd->flags & CMD_FAST ? "fast-command" : "command", usec / 1000);
    /* After it ran (EXEC after the commands it ran), as Redis. */
    cmd_monitor_feed(c, cmd, argc, argv, argvlen);
    /* EXEC's commands are logged one by one, not EXEC itself (as Redis). */
    if (cmd->fn != cmd_exec)
        slowlog_command(c, argc, argv, argvlen, usec);
}

void cmd_dispatch(client *c, int argc, char **argv, size_t *argvlen)
{
    db_set_now(kvd_now_ms());
    db_select(c->db);
    c->last_ms = srv.now_ms;
    c->ncmds++;
    size_t start = c->out.len;
    int was_off = c->flags & CLIENT_REPLY_OFF, was_skip = c->flags & CLIENT_REPLY_SKIP;
    c->flags &= ~CLIENT_REPLY_SKIP;
    pubsub_take_pushed();
    dispatch(c, argc, argv, argvlen, start);
    if (c->flags & CLIENT_POSTPONED) {
        /* Held by CLIENT PAUSE: dispatched again later, as if it came then. */
        c->flags |= was_skip;
        c->ncmds--;
        return;
    }
    /* CLIENT REPLY OFF / SKIP: whatever this command replied is dropped,
     * errors and +QUEUED included (CLIENT REPLY ON's own +OK goes out; a
     * SKIP applies to the command after it), except the confirmations of
     * (un)subscribing, which Redis sends as pushes regardless. */
    int pushed = pubsub_take_pushed();
    if ((was_skip || (was_off && (c->flags & CLIENT_REPLY_OFF))) && c->out.len > start && !pushed)
        c->out.len = start;
    if (c->flags & CLIENT_REPLY_SKIP_NEXT)
        c->flags = (c->flags & ~CLIENT_REPLY_SKIP_NEXT) | CLIENT_REPLY_SKIP;
}

/* ---- command names (COMMAND LIST, ACL CAT) ---- */

typedef struct list_ctx {
    client *c;
    int cat;              /* -1: any */
    const char *pat;      /* NULL: any */
    size_t plen;
    int leaves;           /* containers only through their subcommands */
    long long n;
    int emit;
} list_ctx;

static void list_one(kvd_cmd *cmd, void *ctx)
{
    list_ctx *l = ctx;
    if ((l->cat >= 0 && !((cmd->catmask >> l->cat) & 1)) || (l->leaves && cmd->subs) ||
        (l->pat && !glob_match(l->pat, l->plen, cmd->name, strlen(cmd->name), 1)))
        return;
    if (l->emit)
        reply_bulk_str(l->c, cmd->name);
    else
        l->n++;
}

void cmd_reply_names(client *c, int cat, const char *pat, size_t plen, int leaves)
{
    list_ctx l = {c, cat, pat, plen, leaves, 0, 0};
    cmd_each(list_one, &l);
    reply_array(c, l.n);
    l.emit = 1;
    cmd_each(list_one, &l);
}
