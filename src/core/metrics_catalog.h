/* core/metrics_catalog.h — the one list of every metric libmosaik records (10-core-and-network §6).
 *
 * Each row: X(ID, "rendered_name", TYPE, "help", (label names…)), TYPE one of COUNTER GAUGE HISTOGRAM,
 * at most 4 label names (more fail to compile), MK_NO_LABELS when the metric has none. The constant
 * labels `network` and `peer` are added by the registry and are not listed. Names are the Rust names
 * with `.` → `_`; no `_total` is appended. Histograms measure seconds (bounds in core/metrics.c).
 *
 * Subsystem owners add their rows here (20-discovery §10, 30-streams §4.2, …). The registry, the docs
 * table (mk_metrics_catalog_markdown) and the MK_M_* ids are all generated from this list. */
#ifndef MK_CORE_METRICS_CATALOG_H
#define MK_CORE_METRICS_CATALOG_H

#define MK_NO_LABELS (NULL)

#define MK_METRICS_CATALOG(X)                                                                            \
    /* discovery */                                                                                      \
    X(DISCOVERY_CATALOG_SIZE, "mosaik_discovery_catalog_size", GAUGE, "peers in the catalog", MK_NO_LABELS) \
    X(DISCOVERY_PEERS_DISCOVERED, "mosaik_discovery_peers_discovered", COUNTER, "new peers", MK_NO_LABELS)  \
    X(DISCOVERY_PEERS_UPDATED, "mosaik_discovery_peers_updated", COUNTER, "peer entry updates",            \
      MK_NO_LABELS)                                                                                      \
    X(DISCOVERY_PEERS_DEPARTED, "mosaik_discovery_peers_departed", COUNTER, "departed or purged peers",    \
      MK_NO_LABELS)                                                                                      \
    X(DISCOVERY_CATALOG_SYNCS, "mosaik_discovery_catalog_syncs", COUNTER, "catalog sync sessions by result", \
      ("result"))                                                                                        \
    X(DISCOVERY_GOSSIP_NEIGHBORS, "mosaik_discovery_gossip_neighbors", GAUGE, "active gossip neighbours",  \
      MK_NO_LABELS)                                                                                      \
    X(DISCOVERY_GOSSIP_PASSIVE, "mosaik_discovery_gossip_passive", GAUGE, "passive view size", MK_NO_LABELS) \
    X(DISCOVERY_GOSSIP_FRAMES_SENT, "mosaik_discovery_gossip_frames_sent", COUNTER, "announce frames sent", \
      MK_NO_LABELS)                                                                                      \
    X(DISCOVERY_GOSSIP_FRAMES_RECEIVED, "mosaik_discovery_gossip_frames_received", COUNTER,               \
      "announce frames received", MK_NO_LABELS)                                                          \
    X(DISCOVERY_GOSSIP_ENTRIES_SENT, "mosaik_discovery_gossip_entries_sent", COUNTER, "entries gossiped", \
      MK_NO_LABELS)                                                                                      \
    X(DISCOVERY_GOSSIP_ENTRIES_RECEIVED, "mosaik_discovery_gossip_entries_received", COUNTER,             \
      "entries received (gossip, sync, ping)", MK_NO_LABELS)                                              \
    X(DISCOVERY_GOSSIP_DUPLICATES, "mosaik_discovery_gossip_duplicates", COUNTER,                        \
      "received entries not newer than the stored one", MK_NO_LABELS)                                    \
    X(DISCOVERY_ENTRIES_REJECTED, "mosaik_discovery_entries_rejected", COUNTER, "refused entries by reason", \
      ("reason"))                                                                                        \
    X(DISCOVERY_RTT_PROBES, "mosaik_discovery_rtt_probes", COUNTER, "pings by result", ("result"))        \
    /* groups */                                                                                         \
    X(GROUPS_ACTIVE, "mosaik_groups_active", GAUGE, "groups joined", MK_NO_LABELS)                       \
    X(GROUPS_RAFT_ELECTIONS, "mosaik_groups_raft_elections", COUNTER, "elections started", ("group"))     \
    X(GROUPS_RAFT_LEADER_CHANGES, "mosaik_groups_raft_leader_changes", COUNTER, "leadership changes",    \
      ("group"))                                                                                         \
    X(GROUPS_RAFT_COMMITTED, "mosaik_groups_raft_committed", GAUGE, "last committed index", ("group"))   \
    X(GROUPS_RAFT_COMMITTEE_VOTERS, "mosaik_groups_raft_committee_voters", GAUGE, "voters", ("group"))   \
    X(GROUPS_RAFT_COMMITTEE_NON_VOTERS, "mosaik_groups_raft_committee_non_voters", GAUGE,                \
      "caught-up learners", ("group"))                                                                   \
    X(GROUPS_RAFT_COMMITTEE_SIZE, "mosaik_groups_raft_committee_size", GAUGE, "committee members in total", \
      ("group"))                                                                                         \
    X(GROUPS_BONDS_ACTIVE, "mosaik_groups_bonds_active", GAUGE, "live bonds", ("group"))                 \
    X(GROUPS_BONDS_REJECTED, "mosaik_groups_bonds_rejected", COUNTER, "bond links closed by close code",   \
      ("code"))                                                                                          \
    X(GROUPS_COMMANDS, "mosaik_groups_commands", COUNTER, "commands applied", ("group"))                \
    X(GROUPS_SYNC_SESSIONS, "mosaik_groups_sync_sessions", COUNTER, "log-replay catch-up sessions started", \
      ("group"))                                                                                         \
    X(GROUPS_RECOVERIES, "mosaik_groups_recoveries", COUNTER, "recovery configurations written (unsafe)", \
      ("group"))                                                                                         \
    X(GROUPS_BONDS_BYTES_SENT, "mosaik_groups_bonds_bytes_sent", COUNTER, "bond bytes sent", ("group"))  \
    X(GROUPS_BONDS_BYTES_RECEIVED, "mosaik_groups_bonds_bytes_received", COUNTER, "bond bytes received", \
      ("group"))                                                                                         \
    X(GROUPS_BONDS_MESSAGES_SENT, "mosaik_groups_bonds_messages_sent", COUNTER, "bond messages sent",    \
      ("group"))                                                                                         \
    X(GROUPS_BONDS_MESSAGES_RECEIVED, "mosaik_groups_bonds_messages_received", COUNTER,                  \
      "bond messages received", ("group"))                                                               \
    /* streams */                                                                                        \
    X(STREAMS_PRODUCERS_ACTIVE, "mosaik_streams_producers_active", GAUGE, "producer sinks", MK_NO_LABELS) \
    X(STREAMS_PRODUCER_CONSUMERS, "mosaik_streams_producer_consumers", GAUGE, "channels per producer",   \
      ("stream"))                                                                                        \
    X(STREAMS_PRODUCER_CONSUMERS_ACCEPTED, "mosaik_streams_producer_consumers_accepted", COUNTER,        \
      "subscriptions admitted", ("stream"))                                                              \
    X(STREAMS_PRODUCER_CONSUMERS_REJECTED, "mosaik_streams_producer_consumers_rejected", COUNTER,        \
      "subscriptions refused", ("stream"))                                                               \
    X(STREAMS_PRODUCER_ITEMS_SENT, "mosaik_streams_producer_items_sent", COUNTER, "fan-out copies sent", \
      ("stream"))                                                                                        \
    X(STREAMS_PRODUCER_BYTES_SENT, "mosaik_streams_producer_bytes_sent", COUNTER, "fan-out bytes sent",  \
      ("stream"))                                                                                        \
    X(STREAMS_PRODUCER_ITEMS_DROPPED, "mosaik_streams_producer_items_dropped", COUNTER,                  \
      "fan-out copies dropped", ("stream"))                                                              \
    X(STREAMS_CONNECTIONS_ACCEPTED, "mosaik_streams_connections_accepted", COUNTER,                      \
      "streams links admitted", MK_NO_LABELS)                                                            \
    X(STREAMS_CONNECTIONS_REJECTED, "mosaik_streams_connections_rejected", COUNTER,                      \
      "streams links refused", MK_NO_LABELS)                                                             \
    X(STREAMS_CONSUMERS_ACTIVE, "mosaik_streams_consumers_active", GAUGE, "consumers", ("stream"))       \
    X(STREAMS_CONSUMER_PRODUCERS, "mosaik_streams_consumer_producers", GAUGE, "channels per consumer",   \
      ("stream"))                                                                                        \
    X(STREAMS_CONSUMER_ITEMS_RECEIVED, "mosaik_streams_consumer_items_received", COUNTER,                \
      "datums received", ("stream"))                                                                     \
    X(STREAMS_CONSUMER_BYTES_RECEIVED, "mosaik_streams_consumer_bytes_received", COUNTER,                \
      "bytes received", ("stream"))                                                                      \
    X(STREAMS_CONSUMER_PROTOCOL_ERRORS, "mosaik_streams_consumer_protocol_errors", COUNTER,              \
      "producer frames that broke the protocol (channel closed 400)", ("stream"))                        \
    X(STREAMS_DATUMS_TOTAL, "mosaik_streams_datums_total", COUNTER, "datums of all streams together",    \
      MK_NO_LABELS)                                                                                      \
    X(STREAMS_BYTES_TOTAL, "mosaik_streams_bytes_total", COUNTER, "bytes of all streams together",       \
      MK_NO_LABELS)                                                                                      \
    /* collections */                                                                                    \
    X(COLLECTIONS_MAP_SIZE, "mosaik_collections_map_size", GAUGE, "map entries", ("group"))              \
    X(COLLECTIONS_VEC_SIZE, "mosaik_collections_vec_size", GAUGE, "vec entries", ("group"))              \
    X(COLLECTIONS_SET_SIZE, "mosaik_collections_set_size", GAUGE, "set entries", ("group"))              \
    X(COLLECTIONS_CELL_SIZE, "mosaik_collections_cell_size", GAUGE, "cell holds a value (0 or 1)",       \
      ("group"))                                                                                         \
    X(COLLECTIONS_ONCE_SIZE, "mosaik_collections_once_size", GAUGE, "once holds a value (0 or 1)",       \
      ("group"))                                                                                         \
    X(COLLECTIONS_DEPQ_SIZE, "mosaik_collections_depq_size", GAUGE, "priority queue entries", ("group")) \
    X(COLLECTIONS_SYNCS_STARTED, "mosaik_collections_syncs_started", COUNTER, "snapshot syncs started",  \
      ("group"))                                                                                         \
    /* network */                                                                                        \
    X(NETWORK_CONNECTIONS_OPENED, "mosaik_network_connections_opened", COUNTER,                          \
      "verified links (dir in/out)", ("alpn", "dir"))                                                    \
    X(NETWORK_EGRESS_BYTES, "mosaik_network_egress_bytes", COUNTER, "data-frame payload bytes sent",     \
      ("alpn"))                                                                                          \
    X(NETWORK_INGRESS_BYTES, "mosaik_network_ingress_bytes", COUNTER,                                    \
      "data-frame payload bytes received", ("alpn"))                                                     \
    X(NETWORK_CONNECTIONS_CLOSED, "mosaik_network_connections_closed", COUNTER,                          \
      "link ends (by local/remote)", ("alpn", "code", "by"))                                             \
    X(NETWORK_CONNECTIONS_ACTIVE, "mosaik_network_connections_active", GAUGE, "established links",       \
      ("alpn"))                                                                                          \
    X(NETWORK_HANDSHAKES_PENDING, "mosaik_network_handshakes_pending", GAUGE,                            \
      "inbound links not yet verified", MK_NO_LABELS)                                                    \
    X(NETWORK_HANDSHAKE_FAILURES, "mosaik_network_handshake_failures", COUNTER,                          \
      "failed handshakes (reason connect timeout tls identity alpn network hello limit)",                \
      ("dir", "reason"))                                                                                 \
    X(NETWORK_PROTOCOL_VIOLATIONS, "mosaik_network_protocol_violations", COUNTER,                        \
      "protocol violations (what oversize control hello decode)", ("alpn", "what"))                      \
    X(NETWORK_FRAMES_SENT, "mosaik_network_frames_sent", COUNTER, "data frames sent", ("alpn"))          \
    X(NETWORK_FRAMES_RECEIVED, "mosaik_network_frames_received", COUNTER, "data frames received",        \
      ("alpn"))                                                                                          \
    X(NETWORK_SEND_FULL, "mosaik_network_send_full", COUNTER,                                            \
      "sends refused or delayed by a full write queue", ("alpn"))                                        \
    X(NETWORK_HANDSHAKE_SECONDS, "mosaik_network_handshake_seconds", HISTOGRAM,                          \
      "TCP start to link verified", ("dir"))                                                             \
    X(NETWORK_RTT_SECONDS, "mosaik_network_rtt_seconds", HISTOGRAM, "TCP_INFO round-trip samples",       \
      MK_NO_LABELS)                                                                                      \
    X(NETWORK_LOOP_LAG_SECONDS, "mosaik_network_loop_lag_seconds", HISTOGRAM,                            \
      "lateness of a 100 ms heartbeat timer (loop health)", MK_NO_LABELS)                                \
    X(NETWORK_COMMANDS_QUEUED, "mosaik_network_commands_queued", GAUGE, "API to loop queue depth",       \
      MK_NO_LABELS)                                                                                      \
    /* metrics */                                                                                        \
    X(METRICS_SCRAPES, "mosaik_metrics_scrapes", COUNTER, "metrics endpoint requests", MK_NO_LABELS)     \
    X(METRICS_SERIES_DROPPED, "mosaik_metrics_series_dropped", COUNTER,                                  \
      "series not created because the registry was full", MK_NO_LABELS)

#endif
