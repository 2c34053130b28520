/*
 * A loopback TCP proxy for tests: it forwards every connection made to its
 * port to an upstream server, and can cut all the connections open at a
 * given moment, as a network drop would, while still accepting new ones.
 * One thread serves every connection (poll), so a cut is a single step:
 * no byte is forwarded on a connection after pa_tcp_proxy_cut returns.
 *
 * It lets a test drop one process's database connections (point only that
 * process's connection string at the proxy) without touching the server or
 * the other processes.
 */
#ifndef PA_TCP_PROXY_H
#define PA_TCP_PROXY_H

typedef struct pa_tcp_proxy pa_tcp_proxy;

/* Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:upstream_port. 0, or -1 with errno. */
int pa_tcp_proxy_start(pa_tcp_proxy **out, unsigned short upstream_port);
unsigned short pa_tcp_proxy_port(const pa_tcp_proxy *p);
/*
 * Resets every connection open now (both sides see the connection end:
 * the client an error on its next read or write, the server an end of
 * file). Returns how many were cut, or -1 if the proxy thread is gone.
 */
int pa_tcp_proxy_cut(pa_tcp_proxy *p);
/* Connections accepted since the start. */
long pa_tcp_proxy_accepted(pa_tcp_proxy *p);
/* Stops the thread and closes everything. NULL is allowed. */
void pa_tcp_proxy_stop(pa_tcp_proxy *p);

#endif /* PA_TCP_PROXY_H */
