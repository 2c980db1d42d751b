#ifndef WTP_PROBE_H
#define WTP_PROBE_H

/*
 * probe: what the operating system says about a port.
 *
 * Only loopback and wildcard addresses are ever touched. The portable part
 * (probe.c) uses plain sockets; anything that needs the kernel's own
 * tables lives in probe-linux.c behind this same interface, and other
 * systems get a clear "not supported" from those functions.
 */

/*
 * Is anything bound to TCP 'port' on 127.0.0.1, 0.0.0.0, ::1 or ::? Found
 * by trying to bind each (with SO_REUSEADDR, as servers do, so connections
 * lingering in TIME_WAIT do not count); an address family the system does
 * not have is skipped.
 */
bool probe_port_in_use(uint16_t port);

#endif
