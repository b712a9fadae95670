/*
 * Network clients (docs/net.md): backends (-netdev user, hub ports) and NIC front-ends are
 * peers; a packet one client sends goes to its peer's receive hook, or waits in the peer's
 * queue while the peer cannot take it (a NIC with no receive buffers). Hubs (legacy -net)
 * connect several clients: what one port receives goes out of every other port.
 *
 * Everything here runs on the main thread with the big lock held (vireo_lock): NIC queue
 * handlers run there already, backends take the lock around their main-loop callbacks.
 */
#ifndef VIREO_NET_H
#define VIREO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct VireoConfig;
typedef struct NetClientState NetClientState;

typedef enum {
    NET_CLIENT_NIC,
    NET_CLIENT_USER,
    NET_CLIENT_HUBPORT,
    NET_CLIENT_TAP,
    NET_CLIENT_SOCKET,
} NetClientKind;

typedef struct NetClientInfo {
    NetClientKind kind;
    const char *type; /* "nic", "user", "hubport": info network's type= */
    /*
     * Take one packet: its size (taken or dropped), or 0 when the client cannot take it now
     * (the packet is queued; net_flush_queue() delivers it later).
     */
    ssize_t (*receive)(NetClientState *nc, const struct iovec *iov, int iovcnt);
    bool (*can_receive)(NetClientState *nc);
    void (*link_status_changed)(NetClientState *nc);
    void (*cleanup)(NetClientState *nc);
    /* NICs: QMP's RxFilterInfo for query-rx-filter (a struct QJ object) */
    struct QJ *(*query_rx_filter)(NetClientState *nc);
} NetClientInfo;

typedef struct NetPacket NetPacket;

struct NetClientState {
    const NetClientInfo *info;
    char *name;  /* netdev id, NIC id ("virtio-net-pci.0" when it has none), "hub0port1" */
    char *model; /* "user", "virtio-net-pci", "hub" */
    NetClientState *peer;
    bool link_down;
    bool is_netdev; /* in the -netdev/netdev_add id space */
    char *info_str; /* info network's text after "name: " */
    void *opaque;
    int hub_id;                          /* hub ports: their hub; otherwise -1 */
    NetPacket *queue_head, **queue_tail; /* packets waiting for this client */
    unsigned queue_len;
    NetClientState *next;
};

/* A new client (peer may be NULL; both sides are linked). name NULL: "model.N". */
NetClientState *net_client_new(const NetClientInfo *info, NetClientState *peer, const char *model,
                               const char *name, void *opaque);
void net_client_free(NetClientState *nc);
void net_client_set_info(NetClientState *nc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Send to nc's peer; the packet is dropped when either link is down or there is no peer. */
void net_send_iov(NetClientState *nc, const struct iovec *iov, int iovcnt);
void net_send(NetClientState *nc, const void *buf, size_t len);
/* nc can receive again: deliver what waits for it. */
void net_flush_queue(NetClientState *nc);
/* Drop what waits for nc (a NIC reset). */
void net_purge_queue(NetClientState *nc);

/* A -netdev / netdev_add backend by id, or NULL. */
NetClientState *netdev_find(const char *id);
/*
 * Attach a NIC front-end to the backend named by netdev= (QEMU's property errors, with
 * `prop` as "virtio-net-device.netdev"). NULL id: no peer.
 */
bool netdev_claim(const char *id, const char *prop, NetClientState **out, char **errp);
/* The default MAC for the next NIC without mac= (52:54:00:12:34:56 and up, as QEMU). */
void net_default_mac(uint8_t mac[6]);

/* The command line's -netdev, -nic and -net (before the machine: errors exit 1). */
int net_init_clients(const struct VireoConfig *cfg);
/* The NICs -nic and -net nic ask for: driver and properties, in command-line order. */
typedef struct NicRequest {
    char *driver;
    char *netdev; /* the backend or hub port to attach */
    char *mac;    /* or NULL */
    char *loc;
} NicRequest;
const NicRequest *net_nic_requests(int *n);
/* After the machine: QEMU's warnings for clients without peers. */
void net_check_clients(void);
void net_cleanup(void);

/* QMP / HMP */
bool netdev_add_opts(const char *spec, char **errp);
bool netdev_del(const char *id, char **errp);
bool net_set_link(const char *name, bool up, char **errp);
char *net_info_network(void);
NetClientState *net_find_client(const char *name);
void net_foreach_nic(void (*fn)(NetClientState *nc, void *opaque), void *opaque);

/* Backends (net/slirp.c) */
typedef struct QOpts QOpts;
NetClientState *net_init_user(const QOpts *opts, const char *name, NetClientState *peer,
                              char **errp);
/* net/tap.c */
NetClientState *net_init_tap(const QOpts *opts, const char *name, NetClientState *peer,
                             char **errp);
/* net/socket.c: -netdev stream, dgram, socket */
NetClientState *net_init_stream(const QOpts *opts, const char *name, NetClientState *peer,
                                char **errp);
NetClientState *net_init_dgram(const QOpts *opts, const char *name, NetClientState *peer,
                               char **errp);
NetClientState *net_init_socket(const QOpts *opts, const char *name, NetClientState *peer,
                                char **errp);

#endif
